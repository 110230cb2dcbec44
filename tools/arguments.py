"""Checking a tool call's arguments against the tool's JSON schema: the one rule that the
agent's action parser and the tool registry share.

`check_arguments(name, parameters, args)` returns a checked copy, with the harmless
coercions small models need: numbers and booleans written as text ("5" -> 5, "yes" -> True;
numbers must be finite and at most 2^53),
JSON text for arrays and objects, one string where an array of strings is asked for. None
values count as not given. A problem raises `ArgumentError` (a `ToolError` whose message is
written for the model), which also says what is wrong for callers that word it their own
way: `problem` is "unknown" (keys the schema does not have; a schema without properties
takes any and drops them), "missing" (required keys) or "type" (`keys[0]` cannot be made
`expected`).
"""

from __future__ import annotations

import json
import math
from typing import Any

from tools.errors import ToolError

_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


class ArgumentError(ToolError):
    def __init__(
        self, message: str, problem: str, keys: list[str], expected: str = "", value: Any = None
    ) -> None:
        super().__init__(message)
        self.problem, self.keys, self.expected, self.value = problem, keys, expected, value


def check_arguments(name: str, parameters: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """A checked (lightly coerced) copy of `args`, or ArgumentError (see the module docstring)."""
    props: dict[str, Any] = parameters.get("properties") or {}
    given = {k: v for k, v in args.items() if v is not None}
    if not props:
        return {}
    unknown = [k for k in given if k not in props]
    if unknown:
        raise ArgumentError(
            f"unknown argument(s) {', '.join(sorted(unknown))} for {name}; {usage(name, parameters)}",
            "unknown",
            unknown,
        )
    missing = [k for k in parameters.get("required") or [] if k not in given]
    if missing:
        raise ArgumentError(
            f"missing required argument(s) {', '.join(missing)} for {name}; {usage(name, parameters)}",
            "missing",
            missing,
        )
    return {k: _coerce(name, parameters, k, v) for k, v in given.items()}


def usage(name: str, parameters: dict[str, Any]) -> str:
    """One line naming each argument with its type, required ones marked."""
    required = set(parameters.get("required") or [])
    parts = []
    for key, spec in (parameters.get("properties") or {}).items():
        parts.append(f"{key} ({type_names(spec)}{', required' if key in required else ''})")
    return f"{name} takes: " + (", ".join(parts) if parts else "no arguments")


def type_names(spec: dict[str, Any]) -> str:
    kind = spec.get("type", "any")
    return " or ".join(kind) if isinstance(kind, list) else kind


def _coerce(name: str, parameters: dict[str, Any], key: str, value: Any) -> Any:
    spec = parameters["properties"][key] or {}
    kinds = spec.get("type")
    if kinds is None:
        return value
    for kind in kinds if isinstance(kinds, list) else [kinds]:
        ok, converted = _as_type(kind, value, spec)
        if ok:
            return converted
    expected = type_names(spec)
    raise ArgumentError(
        f"argument {key} of {name} must be {expected}, got {type(value).__name__} "
        f"{json.dumps(value)[:60]}; {usage(name, parameters)}",
        "type",
        [key],
        expected,
        value,
    )


def _as_type(kind: str, value: Any, spec: dict[str, Any]) -> tuple[bool, Any]:
    if kind == "string":
        return (True, value) if isinstance(value, str) else (False, None)
    if kind == "boolean":
        return _as_bool(value)
    if kind in ("integer", "number"):
        return _as_number(kind, value)
    if kind in ("array", "object"):
        return _as_container(kind, value, spec)
    return True, value


def _as_bool(value: Any) -> tuple[bool, Any]:
    if isinstance(value, bool):
        return True, value
    text = value.strip().lower() if isinstance(value, str) else None
    if text in _TRUE or text in _FALSE:
        return True, text in _TRUE
    return False, None


_MAX_NUMBER = 2**53  # beyond this, integers and floats stop meaning the same number


def _as_number(kind: str, value: Any) -> tuple[bool, Any]:
    """A finite number of at most 2^53 in magnitude ("5" and 5.0 pass for the integer 5)."""
    if isinstance(value, bool):
        return False, None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return False, None
    if isinstance(value, int):
        return (True, value) if abs(value) <= _MAX_NUMBER else (False, None)
    if not isinstance(value, float) or not math.isfinite(value) or abs(value) > _MAX_NUMBER:
        return False, None
    if kind == "number":
        return True, value
    return (True, int(value)) if value.is_integer() else (False, None)


def _as_container(kind: str, value: Any, spec: dict[str, Any]) -> tuple[bool, Any]:
    wanted = list if kind == "array" else dict
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, wanted):
            return True, parsed
        if kind == "array" and (spec.get("items") or {}).get("type") == "string":
            return True, [value]
    return (True, value) if isinstance(value, wanted) else (False, None)

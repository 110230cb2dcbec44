"""The tool table: look tools up by name, check a call's arguments, run it safely.

`run_tool(name, args, workspace)` is what the agent calls. It validates `args` against the
tool's JSON schema (required keys, known keys, types; harmless coercions such as "5" -> 5
for an integer, which small models often need; numbers must be finite and at most 2^53)
and turns `ToolError` (and OS errors) into an `Observation(ok=False)` whose text tells the
model what to fix. Any other exception also becomes such an observation ("failed
unexpectedly", with `data["internal_error"]`): one bad call never ends an agent's run.
"""

from __future__ import annotations

import json
import math
from typing import Any

from tools.base import Observation, Tool, ToolError
from tools.text import printable
from tools.workspace import Workspace


def default_tools() -> list[Tool]:
    """Every tool, in the order they are presented to a model."""
    from tools.editing import EditTool, InsertTool, WriteTool
    from tools.history import DiffTool, UndoTool
    from tools.repomap import RepoMapTool
    from tools.search import FindTool, SearchTool
    from tools.shell import BashTool
    from tools.testrunner import RunTestsTool
    from tools.view import ViewTool

    return [
        RepoMapTool(),
        ViewTool(),
        SearchTool(),
        FindTool(),
        EditTool(),
        WriteTool(),
        InsertTool(),
        RunTestsTool(),
        BashTool(),
        DiffTool(),
        UndoTool(),
    ]


def tool_names() -> list[str]:
    return [t.name for t in default_tools()]


def get_tool(name: str) -> Tool:
    for tool in default_tools():
        if tool.name == name:
            return tool
    raise ToolError(f"unknown tool {name!r}; the tools are: {', '.join(tool_names())}")


def run_tool(name: str, args: dict[str, Any] | str | None, workspace: Workspace) -> Observation:
    """Validate and run one tool call; problems come back as Observation(ok=False), never raised."""
    try:
        tool = get_tool(name)
        checked = validate_args(tool, args)
        return tool.run(checked, workspace)
    except ToolError as exc:
        return Observation(str(exc), ok=False)
    except (OSError, UnicodeError) as exc:
        return Observation(f"{name} failed: {type(exc).__name__}: {printable(exc)}", ok=False)
    except Exception as exc:  # noqa: BLE001 - one broken call must not end the agent's run
        return Observation(
            f"{name} failed unexpectedly ({type(exc).__name__}: {printable(exc)}); "
            "this is a bug in the tool: try another way",
            ok=False,
            data={"internal_error": type(exc).__name__},
        )


def validate_args(tool: Tool, args: dict[str, Any] | str | None) -> dict[str, Any]:
    """A checked (lightly coerced) copy of `args`, or ToolError explaining what is wrong."""
    if args is None or args == "":
        args = {}
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError as exc:
            raise ToolError(f"arguments for {tool.name} are not valid JSON ({exc}); {usage(tool)}") from None
    if not isinstance(args, dict):
        raise ToolError(f"arguments for {tool.name} must be a JSON object; {usage(tool)}")
    props: dict[str, Any] = tool.parameters.get("properties", {})
    unknown = sorted(set(args) - set(props))
    if unknown:
        raise ToolError(f"unknown argument(s) {', '.join(unknown)} for {tool.name}; {usage(tool)}")
    missing = [k for k in tool.parameters.get("required", []) if args.get(k) is None]
    if missing:
        raise ToolError(f"missing required argument(s) {', '.join(missing)} for {tool.name}; {usage(tool)}")
    return {k: _coerce(tool, k, v, props[k]) for k, v in args.items() if v is not None}


def usage(tool: Tool) -> str:
    """One line naming each argument with its type, required ones marked."""
    required = set(tool.parameters.get("required", []))
    parts = []
    for key, spec in tool.parameters.get("properties", {}).items():
        kind = _type_names(spec)
        parts.append(f"{key} ({kind}{', required' if key in required else ''})")
    return f"{tool.name} takes: " + (", ".join(parts) if parts else "no arguments")


def _type_names(spec: dict[str, Any]) -> str:
    kind = spec.get("type", "any")
    return " or ".join(kind) if isinstance(kind, list) else kind


def _coerce(tool: Tool, key: str, value: Any, spec: dict[str, Any]) -> Any:
    kinds = spec.get("type")
    if kinds is None:
        return value
    for kind in kinds if isinstance(kinds, list) else [kinds]:
        ok, converted = _as_type(kind, value, spec)
        if ok:
            return converted
    raise ToolError(
        f"argument {key} of {tool.name} must be {_type_names(spec)}, got {type(value).__name__} "
        f"{json.dumps(value)[:60]}; {usage(tool)}"
    )


def _as_type(kind: str, value: Any, spec: dict[str, Any]) -> tuple[bool, Any]:
    if kind == "string":
        return (True, value) if isinstance(value, str) else (False, None)
    if kind == "boolean":
        if isinstance(value, bool):
            return True, value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return True, value.strip().lower() == "true"
        return False, None
    if kind in ("integer", "number"):
        return _as_number(kind, value)
    if kind == "array":
        if isinstance(value, list):
            return True, value
        item_kind = spec.get("items", {}).get("type")
        return (True, [value]) if item_kind == "string" and isinstance(value, str) else (False, None)
    if kind == "object":
        return (True, value) if isinstance(value, dict) else (False, None)
    return True, value


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

"""The tool table: look tools up by name, check a call's arguments, run it safely.

`run_tool(name, args, workspace)` is what the agent calls. It validates `args` against the
tool's JSON schema (`arguments`: required keys, known keys, types, with the harmless
coercions small models need, such as "5" -> 5 for an integer) and turns `ToolError` (and OS
errors) into an `Observation(ok=False)` whose text tells the model what to fix. Any other
exception also becomes such an observation ("failed unexpectedly", with
`data["internal_error"]`): one bad call never ends an agent's run.
"""

from __future__ import annotations

import json
from typing import Any

from tools.arguments import check_arguments, usage
from tools.base import Observation, Tool, ToolError, edits_named_file
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


def file_editors() -> tuple[str, ...]:
    """The tools that change the one file their `path` names (edit, write, insert)."""
    return tuple(t.name for t in default_tools() if edits_named_file(t))


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
    """A checked (lightly coerced) copy of `args` (`arguments.check_arguments`; a JSON object
    as text counts too), or ToolError explaining what is wrong."""
    if args is None or args == "":
        args = {}
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError as exc:
            raise ToolError(f"arguments for {tool.name} are not valid JSON ({exc}); {_usage(tool)}") from None
    if not isinstance(args, dict):
        raise ToolError(f"arguments for {tool.name} must be a JSON object; {_usage(tool)}")
    return check_arguments(tool.name, tool.parameters, args)


def _usage(tool: Tool) -> str:
    return usage(tool.name, tool.parameters)

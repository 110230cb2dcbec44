"""The Tool protocol and the data types every tool shares.

A tool has a `name`, a `description` written for the model, a JSON-schema `parameters`
object for its arguments, `mutates` (whether running it may change files) and
`run(args, workspace) -> Observation`. Tools never raise for problems the model caused (bad
path, no match, failing command): they return an Observation with `ok=False` and text that
tells the model what to do next. `ToolError` (`errors`) is for the same problems inside
helpers; `run_tool` turns it into such an Observation.

This module knows nothing about models, prompts or the agent loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tools.errors import ToolError

if TYPE_CHECKING:
    from tools.workspace import Workspace

__all__ = ["Observation", "Tool", "ToolError", "arg", "edits_named_file", "schema"]


@dataclass
class Observation:
    """What a tool reports back. `text` is shown to the model; `data` is for programs."""

    text: str
    ok: bool = True
    data: dict[str, Any] = field(default_factory=dict)


class Tool(Protocol):
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments object
    mutates: bool  # running it may change files in the work tree

    def run(self, args: dict[str, Any], workspace: Workspace) -> Observation: ...


def edits_named_file(tool: Tool) -> bool:
    """A mutating tool whose `path` argument names the one file it changes (edit, write,
    insert), so what it did shows in the workspace's changed files; other mutating tools
    (bash, undo) may change any file."""
    return tool.mutates and "path" in tool.parameters.get("properties", {})


def schema(*, required: tuple[str, ...] = (), **properties: dict[str, Any]) -> dict[str, Any]:
    """A tool's `parameters`: an object with these `properties` (the `required` ones named)
    and no others."""
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = list(required)
    out["additionalProperties"] = False
    return out


def arg(kind: str | list[str], description: str, **extra: Any) -> dict[str, Any]:
    """One argument's schema: its type, anything else it needs (`items`), its description."""
    return {"type": kind, **extra, "description": description}

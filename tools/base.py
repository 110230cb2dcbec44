"""The Tool protocol and the data types every tool shares.

A tool has a `name`, a `description` written for the model, a JSON-schema `parameters`
object for its arguments, and `run(args, workspace) -> Observation`. Tools never raise for
problems the model caused (bad path, no match, failing command): they return an
Observation with `ok=False` and text that tells the model what to do next. `ToolError`
is for the same problems inside helpers; `run_tool` turns it into such an Observation.

This module knows nothing about models, prompts or the agent loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tools.workspace import Workspace


class ToolError(Exception):
    """A problem the model should read and act on (the message is written for the model)."""


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

    def run(self, args: dict[str, Any], workspace: Workspace) -> Observation: ...

"""The oracle solver: carry a gold patch into a repository through the agent's own tools.

Each hunk becomes one `edit` call (old = the hunk's context and removed lines, new = its
context and added lines); a new file becomes one `write`, a deleted file a `bash rm`. When
an `edit` is refused as ambiguous, the hunk is retried once with more surrounding lines read
from the file. If the tools can carry every gold fix, a failing agent run is the model's
fault, not the tools' or the harness's.

`script_from_patch` writes the same calls as a scripted model's replies, so the whole agent
loop (parser, tool dispatch, submit) can be driven by a gold patch too.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plt_agent.eval.patches import FilePatch, Hunk, parse_patch

CONTEXT_STEP = 3  # extra lines on each side when an edit is ambiguous


@dataclass
class ToolCallRecord:
    name: str
    arguments: dict[str, Any]
    ok: bool
    text: str


@dataclass
class OracleRun:
    calls: list[ToolCallRecord] = field(default_factory=list)

    @property
    def failed(self) -> list[ToolCallRecord]:
        return [c for c in self.calls if not c.ok]


def tool_calls_for(
    fp: FilePatch, read: Callable[[str], str] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """The tool calls that carry one file's changes (before any ambiguity retry).

    `read(path)` gives the file's current text; it is needed only for a hunk whose old side
    is blank (an edit cannot anchor on it), which becomes a `write` of the whole file.
    """
    if fp.deleted:
        return [("bash", {"command": f"rm -- {shlex.quote(fp.path)}"})]
    if fp.new_file:
        return [("write", {"path": fp.path, "content": "".join(h.new_text for h in fp.hunks)})]
    calls: list[tuple[str, dict[str, Any]]] = []
    if fp.renamed:
        folder = shlex.quote(str(Path(fp.path).parent))
        move = f"mkdir -p -- {folder} && mv -- {shlex.quote(fp.old_path or '')} {shlex.quote(fp.path)}"
        calls.append(("bash", {"command": move}))
    for hunk in fp.hunks:
        if hunk.old_text.strip():
            calls.append(("edit", {"path": fp.path, "old": hunk.old_text, "new": hunk.new_text}))
        else:
            base = read(fp.old_path or fp.path) if read else ""
            calls.append(
                ("write", {"path": fp.path, "content": "".join(_apply_in_memory(base, fp.hunks, hunk))})
            )
    return calls


def _apply_in_memory(text: str, hunks: list[Hunk], upto: Hunk) -> list[str]:
    """The file's lines after applying `hunks` up to and including `upto`, by line numbers."""
    lines = text.splitlines(keepends=True)
    offset = 0
    for hunk in hunks:
        start = hunk.old_start - 1 + offset if hunk.old_lines else hunk.old_start + offset
        lines[start : start + len(hunk.old_lines)] = hunk.new_lines
        offset += len(hunk.new_lines) - len(hunk.old_lines)
        if hunk is upto:
            break
    return lines


def apply_with_tools(patch: str, workspace: Any, run_tool: Any = None) -> OracleRun:
    """Apply `patch` to `workspace` with the registry's tools; every call is recorded."""
    if run_tool is None:
        from tools.registry import run_tool
    run = OracleRun()
    for fp in parse_patch(patch):
        edits = iter([h for h in fp.hunks if h.old_text.strip()] if not (fp.new_file or fp.deleted) else [])
        for name, args in tool_calls_for(fp, workspace.read_text):
            obs = run_tool(name, args, workspace)
            hunk = next(edits, None) if name == "edit" else None
            if name == "edit" and not obs.ok and (obs.data or {}).get("matches", 0) > 1 and hunk is not None:
                args = _widen(workspace, fp.path, hunk) or args
                obs = run_tool(name, args, workspace)
            run.calls.append(ToolCallRecord(name, args, obs.ok, obs.text))
    return run


def _widen(workspace: Any, path: str, hunk: Hunk) -> dict[str, Any] | None:
    """The hunk with CONTEXT_STEP more lines on each side, taken from the file where it sits."""
    lines = workspace.read_text(path).splitlines(keepends=True)
    size = len(hunk.old_lines)
    for start in _near(hunk.old_start - 1, len(lines)):
        if "".join(lines[start : start + size]) == hunk.old_text:
            before = lines[max(start - CONTEXT_STEP, 0) : start]
            after = lines[start + size : start + size + CONTEXT_STEP]
            return {
                "path": path,
                "old": "".join(before) + hunk.old_text + "".join(after),
                "new": "".join(before) + hunk.new_text + "".join(after),
            }
    return None


def _near(index: int, n: int) -> list[int]:
    """Line indexes ordered by distance from `index` (earlier hunks may have shifted lines)."""
    return sorted(range(n), key=lambda i: abs(i - index))


def script_from_patch(
    patch: str, read: Callable[[str], str] | None = None, *, native: bool = True
) -> list[dict[str, Any]]:
    """Scripted-model replies that make the same calls through the agent loop, then submit.

    `read(path)` gives a base file's text (see `tool_calls_for`)."""
    replies = []
    for fp in parse_patch(patch):
        for name, args in tool_calls_for(fp, read):
            replies.append(_reply(name, args, native))
    replies.append(_reply("submit", {}, native))
    return replies


def _reply(name: str, args: dict[str, Any], native: bool) -> dict[str, Any]:
    if native:
        return {"content": "", "tool_calls": [{"name": name, "arguments": args}]}
    body = "".join(f"<parameter={k}>\n{v}\n</parameter>\n" for k, v in args.items())
    return {"content": f"<function={name}>\n{body}</function>"}


def write_script(
    patch: str, path: Path, read: Callable[[str], str] | None = None, *, native: bool = True
) -> Path:
    replies = script_from_patch(patch, read, native=native)
    path.write_text("".join(json.dumps(r) + "\n" for r in replies), encoding="utf-8")
    return path

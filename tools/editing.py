"""The tools that change files: `edit` (replace one occurrence), `write` (whole file), `insert`.

All three keep a CRLF file CRLF, write atomically through the Workspace (so diff and undo
see the change) and pass the syntax gate: a change that would leave a file that parsed
before unparseable is not written; the model is shown the error and the would-be lines.
`edit` finds `old` with the ladder in `tools.matching` and refuses ambiguity.
"""

from __future__ import annotations

from typing import Any

from tools.base import Observation, ToolError, arg, schema
from tools.matching import Span, closest_lines, line_of, locate
from tools.syntax import syntax_error
from tools.text import is_crlf, numbered, printable, to_lf, to_newline_style, window
from tools.workspace import Workspace

_MAX_LISTED = 10


def _gate(
    workspace: Workspace, rel: str, before: str | None, after: str, first: int, last: int
) -> str | None:
    """Why the change must not be written (error + would-be window), or None when it may."""
    problem = syntax_error(rel, after, before)
    if problem is None:
        return None
    return (
        f"Not applied: the change would break the syntax of {rel}.\n{problem}\n"
        f"The file would have looked like this (lines {first}-{last} changed):\n"
        f"{window(after, first, last)}\n"
        f"{rel} is unchanged. Fix the new text and try again; do not repeat the same change."
    )


def _changed_range(span: Span, content: str) -> tuple[int, int]:
    first = line_of(content, span.start)
    return first, first + max(span.replacement.count("\n"), 0)


PATH_ARG = arg("string", "File path relative to the repository root.")


class EditTool:
    name = "edit"
    mutates = True
    description = (
        "Replace one occurrence of `old` with `new` in a file. `old` must be copied from the "
        "file (a few whole lines that occur once; whitespace and indentation slips are "
        "tolerated). If `old` occurs several times, include more surrounding lines. To create "
        "or rewrite a whole file use write; to add lines use insert."
    )
    parameters = schema(
        path=PATH_ARG,
        old=arg("string", "The exact text to replace (must occur once)."),
        new=arg("string", "The replacement text."),
        required=("path", "old", "new"),
    )

    def run(self, args: dict[str, Any], workspace: Workspace) -> Observation:
        path, old, new = args["path"], to_lf(args["old"]), to_lf(args["new"])
        if not old.strip():
            return Observation(
                "`old` is empty: give the exact lines to replace. To create or replace a whole file "
                "use write; to add lines at a position use insert.",
                ok=False,
            )
        if old == new:
            return Observation("`old` and `new` are identical: nothing to change.", ok=False)
        rel, raw = _read_existing(workspace, path)
        crlf = is_crlf(raw)
        content = to_lf(raw) if crlf else raw
        rung, spans = locate(content, old, new)
        if len(spans) > 1:
            return Observation(self._ambiguous(rel, content, spans), ok=False, data={"matches": len(spans)})
        if not spans:
            return self._no_match(rel, content, old, new)
        span = spans[0]
        updated = content[: span.start] + span.replacement + content[span.end :]
        first, last = _changed_range(span, content)
        refused = _gate(workspace, rel, content, updated, first, last)
        if refused:
            return Observation(refused, ok=False, data={"syntax_error": True})
        workspace.write_text(path, to_newline_style(updated, crlf))
        how = "" if rung == "exact" else f" (matched with {rung})"
        where = f"Line {first} now reads" if first == last else f"Lines {first}-{last} now read"
        text = f"Edited {rel}{how}. {where}:\n{window(updated, first, last)}"
        return Observation(text, data={"path": rel, "rung": rung, "first_line": first, "last_line": last})

    def _ambiguous(self, rel: str, content: str, spans: list[Span]) -> str:
        lines = [line_of(content, s.start) for s in spans]
        shown = ", ".join(str(n) for n in lines[:_MAX_LISTED]) + (" ..." if len(lines) > _MAX_LISTED else "")
        listing = "\n".join(numbered(content.split("\n")[n - 1 : n], n) for n in lines[:_MAX_LISTED])
        return (
            f"Not applied: `old` occurs {len(spans)} times in {rel} (at lines {shown}).\n{listing}\n"
            "Include more surrounding lines in `old` so that it matches exactly one place."
        )

    def _no_match(self, rel: str, content: str, old: str, new: str) -> Observation:
        if locate(content, new, new)[1]:
            return Observation(
                f"Already applied: `old` is not in {rel} but `new` is; no change made.",
                data={"path": rel, "already_applied": True},
            )
        near = closest_lines(content, old)
        hint = ""
        if near:
            first, lines = near
            hint = f"\nThe closest lines in {rel} are:\n{numbered(lines, first)}"
        return Observation(
            f"Not applied: `old` was not found in {rel}.{hint}\n"
            "Copy `old` exactly from the file (view it first if unsure) and try again.",
            ok=False,
        )


class WriteTool:
    name = "write"
    mutates = True
    description = (
        "Create a file or replace its whole content. Prefer this for new files and small "
        "files; for a change inside a large file use edit."
    )
    parameters = schema(
        path=PATH_ARG,
        content=arg("string", "The complete new content of the file."),
        required=("path", "content"),
    )

    def run(self, args: dict[str, Any], workspace: Workspace) -> Observation:
        path, content = args["path"], to_lf(args["content"])
        target = workspace.resolve(path, for_write=True)
        rel = workspace.relpath(target)
        existed = target.is_file()
        before = workspace.read_text(path) if existed else None
        crlf = before is not None and is_crlf(before)
        if before is not None and to_lf(before) == content:
            return Observation(f"{rel} already has exactly this content; no change made.", data={"path": rel})
        n_lines = len(content.splitlines())
        refused = _gate(workspace, rel, to_lf(before) if before is not None else None, content, 1, n_lines)
        if refused:
            return Observation(refused, ok=False, data={"syntax_error": True})
        workspace.write_text(path, to_newline_style(content, crlf))
        if existed:
            was = len(before.splitlines()) if before is not None else 0
            text = f"Replaced {rel}: {n_lines} lines (was {was})."
        else:
            text = f"Created {rel}: {n_lines} lines."
        return Observation(text, data={"path": rel, "created": not existed, "lines": n_lines})


class InsertTool:
    name = "insert"
    mutates = True
    description = "Insert text after line `line` of a file (0 inserts at the top). Lines are 1-based."
    parameters = schema(
        path=PATH_ARG,
        line=arg("integer", "Insert after this line number (0 = top of the file)."),
        text=arg("string", "The lines to insert."),
        required=("path", "line", "text"),
    )

    def run(self, args: dict[str, Any], workspace: Workspace) -> Observation:
        path, after_line, text = args["path"], int(args["line"]), to_lf(args["text"])
        rel, raw = _read_existing(workspace, path)
        crlf = is_crlf(raw)
        lines = to_lf(raw).split("\n")
        trailing_newline = lines[-1] == ""
        body = lines[:-1] if trailing_newline else lines
        if not 0 <= after_line <= len(body):
            return Observation(
                f"line {after_line} is out of range: {rel} has {len(body)} lines; use 0..{len(body)}.",
                ok=False,
            )
        block = text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
        new_body = body[:after_line] + block + body[after_line:]
        updated = "\n".join(new_body) + ("\n" if trailing_newline or after_line < len(body) else "")
        first, last = after_line + 1, after_line + len(block)
        refused = _gate(workspace, rel, to_lf(raw), updated, first, last)
        if refused:
            return Observation(refused, ok=False, data={"syntax_error": True})
        workspace.write_text(path, to_newline_style(updated, crlf))
        shown = window(updated, first, last)
        return Observation(
            f"Inserted {len(block)} lines into {rel} after line {after_line}:\n{shown}",
            data={"path": rel, "first_line": first, "last_line": last},
        )


def _read_existing(workspace: Workspace, path: str) -> tuple[str, str]:
    """(relative path, text) of the file an edit or insert works on; ToolError when it is missing."""
    target = workspace.resolve(path)
    if not target.exists():
        raise ToolError(f"{printable(path)} does not exist. Use write to create it.")
    return workspace.relpath(target), workspace.read_text(path)

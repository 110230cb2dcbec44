"""`view`: a numbered 100-line window of a file, or a two-level listing of a folder.

The header names the file and its total lines; "(N more lines above/below)" frames the
window. Binary files are described, not dumped; very long lines are clipped; files too big
to read whole are still paged (lines are read as a stream).
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import Any

from tools.base import Observation, ToolError, arg, schema
from tools.repofiles import is_binary
from tools.text import numbered, printable
from tools.workspace import Workspace

WINDOW = 100
_MAX_ENTRIES = 200


class ViewTool:
    name = "view"
    mutates = False
    description = (
        f"Show a file with line numbers, {WINDOW} lines at a time (give start/end to see "
        "another part), or list a folder two levels deep. Use '.' for the repository root."
    )
    parameters = schema(
        path=arg("string", "File or folder path relative to the repository root."),
        start=arg("integer", "First line to show (1-based, default 1)."),
        end=arg("integer", f"Last line to show (default start + {WINDOW - 1})."),
        required=("path",),
    )

    def run(self, args: dict[str, Any], workspace: Workspace) -> Observation:
        target = workspace.resolve(args["path"])
        if not target.exists():
            raise ToolError(
                f"{printable(args['path'])} does not exist; view '.' or use find to see what is there"
            )
        if target.is_dir():
            return _list_dir(workspace, target)
        return _view_file(workspace, target, args.get("start"), args.get("end"))


def _view_file(workspace: Workspace, target: Path, start: int | None, end: int | None) -> Observation:
    rel = workspace.relpath(target)
    with target.open("rb") as fh:
        head = fh.read(8192)
    if is_binary(head):
        size = target.stat().st_size
        return Observation(
            f"{rel} is a binary file ({size:,} bytes); it cannot be shown.", data={"binary": True}
        )
    total = _count_lines(target)
    if total == 0:
        return Observation(
            f"[File: {rel} (0 lines total)]\n(empty file)", data={"path": rel, "total_lines": 0}
        )
    first = max(1, int(start or 1))
    if first > total:
        raise ToolError(f"start={first} is past the end of {rel}, which has {total} lines")
    last = min(total, int(end) if end else first + WINDOW - 1)
    if last < first:
        raise ToolError(f"end={end} is before start={first}; give end >= start")
    last = min(last, first + 4 * WINDOW - 1)  # never more than 400 lines at once
    with target.open("rb") as fh:
        raw = list(islice(fh, first - 1, last))
    lines = [line.decode("utf-8", "replace").rstrip("\r\n") for line in raw]
    parts = [f"[File: {rel} ({total} lines total)]"]
    if first > 1:
        parts.append(f"({first - 1} more lines above)")
    parts.append(numbered(lines, first) if lines else "(empty file)")
    if last < total:
        parts.append(f"({total - last} more lines below)")
    data = {"path": rel, "total_lines": total, "start": first, "end": last}
    return Observation("\n".join(parts), data=data)


def _count_lines(path: Path) -> int:
    count, last = 0, b"\n"
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def _list_dir(workspace: Workspace, target: Path) -> Observation:
    rel = workspace.relpath(target)
    prefix = "" if rel == "." else rel + "/"
    files = [f[len(prefix) :] for f in workspace.files() if f.startswith(prefix)]
    entries: dict[str, set[str]] = {}
    for f in files:
        parts = f.split("/")
        top = parts[0] + ("/" if len(parts) > 1 else "")
        kids = entries.setdefault(top, set())
        if len(parts) > 1:
            kids.add(parts[1] + ("/" if len(parts) > 2 else ""))
    lines = []
    for top in sorted(entries, key=lambda e: (not e.endswith("/"), e)):
        lines.append(top)
        kids = sorted(entries[top], key=lambda e: (not e.endswith("/"), e))
        lines.extend(f"  {k}" for k in kids[:30])
        if len(kids) > 30:
            lines.append(f"  ... {len(kids) - 30} more")
    shown = lines[:_MAX_ENTRIES]
    more = (
        f"\n... {len(lines) - _MAX_ENTRIES} more entries; view a subfolder"
        if len(lines) > _MAX_ENTRIES
        else ""
    )
    header = f"[Folder: {rel} ({len(files)} files, ignored files not shown)]"
    body = "\n".join(shown) if shown else "(no files)"
    return Observation(f"{header}\n{body}{more}", data={"path": rel, "files": len(files)})

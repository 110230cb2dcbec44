"""`diff` and `undo`: the agent's changes since the snapshot, and putting them back.

Both read the Workspace journal, which covers the edit tools and every command run through
bash/run_tests. Undo restores content and existence of exactly those files; files someone
else changed after the agent are left alone and named.
"""

from __future__ import annotations

from typing import Any

from tools.base import Observation, schema
from tools.text import truncate_middle
from tools.workspace import Workspace

MAX_DIFF_CHARS = 20_000


class DiffTool:
    name = "diff"
    mutates = False
    description = (
        "Show a unified diff of every change made since the start of this run (new and deleted files too)."
    )
    parameters = schema()

    def run(self, args: dict[str, Any], workspace: Workspace) -> Observation:
        changed = workspace.changed_files()
        if not changed:
            return Observation("No changes since the start of this run.", data={"files": [], "diff": ""})
        diff = workspace.diff()
        text = f"{len(changed)} changed files: {', '.join(changed)}\n{truncate_middle(diff, MAX_DIFF_CHARS)}"
        return Observation(text, data={"files": changed, "diff": diff})


class UndoTool:
    name = "undo"
    mutates = True
    description = (
        "Undo every change made since the start of this run: changed files get their original "
        "content back, created files are removed, deleted files come back. Nothing else is touched."
    )
    parameters = schema()

    def run(self, args: dict[str, Any], workspace: Workspace) -> Observation:
        report = workspace.restore_all()
        lines = []
        if report.restored:
            lines.append("Restored: " + ", ".join(report.restored))
        if report.removed:
            lines.append("Removed (created during this run): " + ", ".join(report.removed))
        for rel, why in report.skipped.items():
            lines.append(f"Left alone: {rel} ({why})")
        data = {"restored": report.restored, "removed": report.removed, "skipped": report.skipped}
        if not lines:
            return Observation("Nothing to undo: no changes since the start of this run.", data=data)
        return Observation("\n".join(lines), ok=not report.skipped, data=data)

"""The run log: one JSON object per line, appended and flushed as each event happens.

Events (every line has "type" and "t", seconds since the run started):
- `start`: version, model, context_window, mode, task, settings, repo;
- `message`: a message added to the conversation (`index`, `message`), system prompt included;
- `reply`: a model answer (`step`, `content`, `tool_calls`, `finish_reason`, `usage` with
  prompt/completion/cached tokens and seconds, `prompt_tokens_counted` by our count);
- `action`: a tool run (`step`, `name`, `arguments`, `ok`, `seconds`, `chars`), or a refused one
  (`refused`: "format" | "repeat" | "declined" | "outside");
- `elide`: observations elided to fit the window (`indices`, `prompt_tokens`);
- `verify`: a test run (`passed`, `summary`);
- `end`: `status`, `steps`, `tokens`, `seconds`, `message`.

A trajectory replays through the scripted backend (`scripted:TRAJ.jsonl` reads its `reply`
lines and the `start` line's mode). Writing never raises into the agent: a log that cannot be
written is reported once and then skipped.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


class Trajectory:
    def __init__(self, path: Path | None) -> None:
        self.path = Path(path) if path else None
        self.started = time.perf_counter()
        self._broken = False
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("")

    def log(self, kind: str, **fields: Any) -> None:
        if self.path is None or self._broken:
            return
        record = {"type": kind, "t": round(time.perf_counter() - self.started, 3), **fields}
        try:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        except OSError as exc:
            self._broken = True
            print(f"warning: cannot write the trajectory {self.path}: {exc}", file=sys.stderr)


def read_events(path: Path) -> list[dict[str, Any]]:
    """All events of a trajectory file, in order."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]

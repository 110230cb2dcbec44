"""A plt-agent run on a repository: the run lock, recovery of a dead run, journal ownership.

`begin_run(workspace, kind, ...)`:
1. takes the repository's run lock (tools.runlock): while another live run holds it, raises
   RepositoryBusy (exit 2, naming the holder) or, with `wait`, waits;
2. recovers every unfinished journal under the repository's state folder whose writer is
   dead (a stale lock's run, a SIGKILLed command, a workspace rooted in a subfolder): a dead
   `fix` ("all") has every change put back, a dead chat or `tool run` ("inflight") only the
   command or write it was in the middle of. Files someone changed since are not
   overwritten: the run refuses to start (UnfinishedRun, exit 2) and names
   `plt-agent recover --force` / `--discard`. Content overwritten without certainty that it
   was the dead run's (files a killed shell command touched) is saved as a patch first;
3. starts the journal (`fresh`: a new baseline; else the finished journal goes on, as
   separate `tool run` calls share one) and records the owner and the git state at start.

`Run.finish()` marks the journal finished and drops the lock. `recover(workspace)` is what
`plt-agent recover` runs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tools.procs import kill_leftovers
from tools.restore import RestoreReport, file_diff
from tools.runlock import Holder, RepositoryBusy, RunLock, this_process
from tools.workspace import UnfinishedRun, Workspace

LOCK_NAME = "run.lock"
_ACTIVE: set[str] = set()  # journals of runs open in this process


@dataclass
class Recovery:
    """What was put back of one dead run's journal."""

    who: Holder | None
    root: Path
    report: RestoreReport
    patch: Path | None = None
    discarded: bool = False

    def lines(self) -> list[str]:
        who = self.who.describe() if self.who else "an earlier plt-agent run"
        r = self.report
        out = [f"{who} stopped before it finished; recovered what it left in {self.root}:"]
        if self.discarded:
            out = [f"{who} stopped before it finished; its record was discarded, files left as they are"]
        if r.restored:
            out.append("  put back: " + ", ".join(r.restored))
        if r.removed:
            out.append("  removed (created by that run): " + ", ".join(r.removed))
        if r.git_restored:
            out.append("  git put back: " + ", ".join(r.git_restored))
        for rel, why in {**r.skipped, **{f"git {k}": v for k, v in r.git_skipped.items()}}.items():
            out.append(f"  left alone: {rel} ({why})")
        if len(out) == 1 and not self.discarded:
            out.append("  nothing had changed")
        if self.patch:
            out.append(
                f"  the contents it replaced (a killed command's, or someone's since) are saved in "
                f"{self.patch} (`patch -p1 -d {self.root} < {self.patch}` brings them back)"
            )
        return out


@dataclass
class Run:
    workspace: Workspace
    lock: RunLock | None
    stale: Holder | None = None  # the dead holder whose lock this run took over
    recovered: list[Recovery] = field(default_factory=list)
    finished: bool = False

    def finish(self, *, completed: bool = True) -> None:
        """Drop the lock; with `completed`, mark the journal finished. A run that could not
        put things back (stopped again while restoring) leaves it unfinished, for the next
        run to recover."""
        if self.finished:
            return
        self.finished = True
        journal = self.workspace.journal
        try:
            if completed:
                journal.close_run()
        finally:
            _ACTIVE.discard(str(journal.path))
            if self.lock is not None:
                self.lock.release()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()


def lock_for(workspace: Workspace) -> RunLock | None:
    return RunLock(workspace.run_dir / LOCK_NAME) if workspace.persisted else None


def begin_run(
    workspace: Workspace,
    kind: str,
    *,
    command: str | None = None,
    fresh: bool = True,
    rollback: str = "all",
    wait: bool = False,
    on_wait: Callable[[Holder], None] | None = None,
) -> Run:
    """Lock, recover, start journaling (see the module docstring)."""
    lock = lock_for(workspace)
    stale = lock.acquire(kind, command, wait=wait, on_wait=on_wait) if lock else None
    run = Run(workspace, lock, stale)
    try:
        if lock is not None:
            workspace.reload()  # what the previous holder left, not what was read before the lock
        run.recovered = recover_all(workspace)
        blocked = [rec for rec in run.recovered if rec.report.skipped]
        if blocked:
            raise UnfinishedRun(_blocked_message(blocked))
        journal = workspace.journal
        if fresh:
            workspace.snapshot()
        git_start = workspace.git.capture(workspace.store) if workspace.git else None
        journal.open_run(
            this_process(kind, command),
            rollback=rollback,
            root=str(workspace.root),
            use_git=workspace.use_git,
            git_start=git_start,
        )
        _ACTIVE.add(str(journal.path))
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    return run


def _blocked_message(blocked: list[Recovery]) -> str:
    files = sorted({rel for rec in blocked for rel in rec.report.skipped})
    who = blocked[0].who.describe() if blocked[0].who else "an earlier plt-agent run"
    return (
        f"{who} stopped before it finished, and {', '.join(files)} changed since, so they were not "
        "put back; run `plt-agent recover --force` to put them back anyway (their current "
        "contents are saved as a patch), or `plt-agent recover --discard` to keep them as they are"
    )


def recover_all(workspace: Workspace, *, force: bool = False, discard: bool = False) -> list[Recovery]:
    """Recover every dead, unfinished journal of the repository (the caller holds the lock)."""
    found = []
    for folder in _journal_dirs(workspace.run_dir):
        if folder == workspace.state_dir:
            target = workspace
        else:
            target = _workspace_of(folder)
            if target is None:
                continue
        rec = recover(target, force=force, discard=discard)
        if rec is not None:
            found.append(rec)
    return found


def recover(workspace: Workspace, *, force: bool = False, discard: bool = False) -> Recovery | None:
    """Put back what a dead run left in this workspace's journal; None when nothing is unfinished."""
    journal = workspace.journal
    if not journal.unfinished() or str(journal.path) in _ACTIVE:
        return None
    if journal.writer_alive():
        who = journal.writer or journal.owner
        raise RepositoryBusy(
            f"another plt-agent run is working in this repository: {who.describe() if who else '?'}"
        )
    who = journal.owner if journal.state == "running" else journal.writer
    for dead in {h.pid for h in (journal.owner, journal.writer) if h is not None}:
        if not _pid_exists(dead):  # (a reused pid: its markers belong to a live process)
            kill_leftovers(dead)  # nothing the dead run started may write after the restore
    rollback_all = journal.state == "running" and journal.rollback == "all"
    if not rollback_all and not journal.in_flight():
        journal.close_run()  # a chat or tool run that died between changes: they are kept
        return None
    if discard:
        journal.command = None
        for entry in journal.entries.values():
            entry.pending = None
        journal.close_run()
        return Recovery(who, workspace.root, RestoreReport(), discarded=True)
    if rollback_all:
        report = workspace.restore_all(force=force)
    else:
        report = workspace.revert_in_flight(force=force)
    patch = _save_replaced(workspace, report)
    if not report.skipped:
        journal.close_run()
    return Recovery(who, workspace.root, report, patch)


def _save_replaced(workspace: Workspace, report: RestoreReport) -> Path | None:
    """A patch from what recovery put back to what it replaced (content not surely the run's)."""
    parts = []
    for rel, key in sorted(report.replaced.items()):
        if rel in report.skipped:
            continue
        path = workspace.root / rel
        old = path.read_bytes() if path.is_file() else b""
        new = workspace.store.get(key) if key else b""
        if new is None:
            parts.append(f"# {rel}: the replaced content was too large to keep\n")
            continue
        parts.append(file_diff(rel, "put back" if path.is_file() else None, old, key is not None, new))
    text = "".join(parts)
    if not text:
        return None
    target = workspace.state_dir / f"recovered-{time.strftime('%Y%m%d-%H%M%S')}.patch"
    target.write_text(text)
    return target


def _journal_dirs(run_dir: Path) -> list[Path]:
    dirs = [run_dir] if (run_dir / "journal.json").exists() else []
    if run_dir.is_dir():
        dirs += sorted(p for p in run_dir.glob("sub-*") if (p / "journal.json").exists())
    return dirs


def _workspace_of(folder: Path) -> Workspace | None:
    from tools.journal import Journal, ObjectStore

    journal = Journal(ObjectStore(None), folder / "journal.json")
    if not journal.unfinished() or not journal.root or not Path(journal.root).is_dir():
        return None
    return Workspace(journal.root, use_git=journal.use_git, state=folder)


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, as someone else's
        return True
    return True

"""`plt-agent hook run`: review the staged diff, print suggestions, decide the exit code.

Order of business: skip (PLT_AGENT_SKIP=1, `SKIP` naming plt-agent-review as the pre-commit
framework does, a merge/rebase/cherry-pick/revert underway, another plt-agent run holding
the repository's run lock, nothing staged); run the
deterministic checks (plt_agent.hook.checks); ask the model within the time budget
(plt_agent.hook.review), a live line showing its progress meanwhile; print; optionally
write the suggested patch under `<git dir>/plt-agent/` (never applied). Exit 0 always,
except with `strict`, where a blocking finding (a deterministic blocker, or a model finding
marked "blocker") gives 1.

What it prints is short and says what happens to the commit: one verdict line (what was
found, and "the commit goes through", "not blocking: run with --strict to block" or
"commit blocked"), then at most MAX_FINDINGS findings, one line each (`severity path:line:
first sentence`), and a line for a skipped review or a written patch. The model's own words
and every finding only with `verbose`.
A model that cannot load, errs, crashes (the review runs in a child process: a native abort
or a signal there cannot take the hook down), hangs or runs out of time is a printed note,
not a failure. Outside text (paths, messages, the model's words) is printed through
plt_agent.display.literal: no markup injection, no terminal control sequences.

Nothing here writes to the work tree or the index. This module knows no CLI framework.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from plt_agent.display import literal as safe
from plt_agent.display import plural
from plt_agent.hook.checks import Finding, run_checks
from plt_agent.hook.review import Review, review_diff
from plt_agent.liveline import LiveLine
from tools import git as g
from tools.repofiles import run_dir
from tools.runlock import RepositoryBusy, RunLock
from tools.runs import LOCK_NAME

HOOK_ID = "plt-agent-review"
DEFAULT_PATCH_NAME = "suggested.patch"
MAX_FINDINGS = 5  # findings shown without --verbose
MESSAGE_CHARS = 120  # a finding's message is cut to its first sentence and this many characters


@dataclass(frozen=True)
class HookOptions:
    strict: bool = False
    use_model: bool = True
    model: str | None = None  # spec; None means "the configured default"
    time_budget_s: float = 60.0
    max_diff_chars: int = 24_000
    max_file_bytes: int = 5_000_000
    patch_file: str | None = None  # where to write a suggested patch (relative: under <git dir>/plt-agent/)
    verbose: bool = False  # every finding, and the model's own words
    reply_tokens: int = 512  # most tokens the model's answer may take


@dataclass
class HookResult:
    exit_code: int
    skipped: str = ""  # why the review was skipped, if it was
    findings: tuple[Finding, ...] = ()
    review: Review | None = None
    patch_path: Path | None = None


def skip_reason(root: Path, environ: dict[str, str]) -> str:
    """Why this commit should not be reviewed at all, or "" to go ahead."""
    if environ.get("PLT_AGENT_SKIP", "").strip().lower() in ("1", "true", "yes"):
        return "PLT_AGENT_SKIP is set"
    if HOOK_ID in [s.strip() for s in environ.get("SKIP", "").split(",")]:
        return f"SKIP names {HOOK_ID}"
    operation = g.operation_in_progress(root)
    return f"a {operation} is in progress" if operation else ""


def run_hook(
    path: Path,
    options: HookOptions,
    load_model: Callable[[str | None], Any],
    console: Console,
    environ: dict[str, str] | None = None,
) -> HookResult:
    """Review what is staged in the repository at `path`; print to `console`; never raise for the model."""
    root = g.repo_root(path)
    reason = skip_reason(root, dict(os.environ if environ is None else environ))
    if reason:
        _say(console, f"plt-agent: review skipped ({safe(reason)})")
        return HookResult(0, skipped=reason)
    lock = RunLock(run_dir(root) / LOCK_NAME)
    try:
        lock.acquire("hook")
    except RepositoryBusy as exc:  # a fix or chat is working here (maybe it is this commit's author)
        who = exc.holder.describe() if exc.holder else "another plt-agent run"
        reason = f"{who} is working in this repository"
        _say(console, f"plt-agent: review skipped ({safe(reason)}); the commit goes through")
        return HookResult(0, skipped=reason)
    except OSError:
        lock = None  # the git dir is read-only: review without the lock
    try:
        return _review_staged(root, options, load_model, console)
    finally:
        if lock is not None:
            lock.release()


def _review_staged(
    root: Path, options: HookOptions, load_model: Callable[[str | None], Any], console: Console
) -> HookResult:
    diff = g.staged_diff(root)
    if not diff.strip():
        return HookResult(0, skipped="nothing staged")
    findings = run_checks(root, diff, g.staged_files(root), options.max_file_bytes)
    review = _review(diff, options, load_model, console) if options.use_model else None
    findings += review.findings if review else []
    patch_path = _write_patch(root, review, options.patch_file)
    blocked = options.strict and any(f.severity == "blocker" for f in findings)
    _report(console, findings, review, patch_path, options, blocked)
    return HookResult(1 if blocked else 0, "", tuple(findings), review, patch_path)


def _review(
    diff: str, options: HookOptions, load_model: Callable[[str | None], Any], console: Console
) -> Review:
    label = options.model or "the default model"
    line = LiveLine(console)

    def progress(phase: str, done: int, total: int) -> None:
        name = {"prompt": "the model reads the diff", "reply": "the model answers"}.get(phase, phase)
        if name != line_state["phase"]:
            line_state["phase"] = name
            line.phase(f"plt-agent: {name}", total=total or None, done=done)
        line.update(done, total or None)

    line_state = {"phase": ""}

    @contextlib.contextmanager
    def waiting() -> Any:
        line.phase(
            f"plt-agent: reviewing with {safe(label)} (budget {options.time_budget_s:g} s; "
            "Ctrl-C aborts the commit)"
        )
        try:
            yield
        finally:
            line.stop()

    return review_diff(
        lambda: load_model(options.model),
        diff,
        budget_s=options.time_budget_s,
        max_chars=options.max_diff_chars,
        reply_tokens=options.reply_tokens,
        on_progress=progress,
        waiting=waiting,
    )


def _write_patch(root: Path, review: Review | None, name: str | None) -> Path | None:
    if not review or not review.patch.strip() or not name:
        return None
    target = Path(name)
    if not target.is_absolute():
        target = run_dir(root) / target  # <git dir>/plt-agent/
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(review.patch if review.patch.endswith("\n") else review.patch + "\n")
    return target


_STYLE = {"blocker": "bold red", "warning": "yellow", "info": "cyan"}


def _say(console: Console, text: str, **options: Any) -> None:
    """Print one markup line; no emoji codes (`:1234:` in a message must stay as it is)."""
    console.print(text, highlight=False, emoji=False, **options)


def _report(
    console: Console,
    findings: list[Finding],
    review: Review | None,
    patch: Path | None,
    options: HookOptions,
    blocked: bool,
) -> None:
    _say(console, safe(_headline(findings, review, options, blocked)), soft_wrap=True)
    shown = findings if options.verbose else findings[:MAX_FINDINGS]
    for f in shown:
        origin = "" if f.source == "model" else " (check)"
        message = f.message if options.verbose else first_sentence(f.message)
        _say(
            console,
            f"  [{_STYLE.get(f.severity, '')}]{safe(f.severity)}[/] {safe(f.location())}: "
            f"{safe(message)}{origin}",
            soft_wrap=True,
        )
    if len(shown) < len(findings):
        _say(console, f"  ... and {len(findings) - len(shown)} more (--verbose shows them all)")
    if review and review.status != "ok":
        _say(console, f"plt-agent: {safe(_review_note(review, options))}", soft_wrap=True)
    if patch:
        _say(
            console,
            f"plt-agent: suggested patch written to {safe(patch)} (not applied; review it, then "
            f"`git apply {safe(patch)}`)",
            soft_wrap=True,
        )
    if options.verbose and review and review.text.strip():
        _say(
            console,
            "plt-agent: the model's answer" + (f" (cut short: {review.cut})" if review.cut else "") + ":",
        )
        for text in review.text.strip().splitlines():
            _say(console, f"  {safe(text)}", soft_wrap=True)


def first_sentence(message: str, limit: int = MESSAGE_CHARS) -> str:
    """The first sentence of `message`, on one line, at most `limit` characters."""
    text = " ".join(message.split())
    match = re.search(r"(?<=[.!?])\s", text)
    if match and match.start() >= 12:
        text = text[: match.start()]
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _headline(findings: list[Finding], review: Review | None, options: HookOptions, blocked: bool) -> str:
    """One line: what was found, and what that does to the commit."""
    reviewed = review is not None and review.status == "ok"
    took = f" ({review.seconds:.1f} s)" if review is not None and review.status == "ok" else ""
    if not findings:
        if reviewed and review is not None and not _said_lgtm(review):
            return (
                f"plt-agent: no findings in the staged diff{took}; the model's answer was not in the "
                "asked form (--verbose shows it); the commit goes through"
            )
        who = "no problems found" if reviewed else "the deterministic checks found no problems"
        return f"plt-agent: {who} in the staged diff{took}; the commit goes through"
    counts = [
        plural(sum(f.severity == severity for f in findings), severity)
        for severity in ("blocker", "warning", "info")
        if any(f.severity == severity for f in findings)
    ]
    found = f"plt-agent: {', '.join(counts)} in the staged diff{took}"
    if blocked:
        return (
            f"{found}: commit blocked (--strict); fix it, or bypass with `git commit --no-verify` "
            "or PLT_AGENT_SKIP=1"
        )
    if any(f.severity == "blocker" for f in findings):
        return f"{found}; not blocking: the commit goes through (run with --strict to block)"
    return f"{found}; the commit goes through"


def _said_lgtm(review: Review) -> bool:
    lines = [line for line in review.text.strip().splitlines() if line.strip()]
    return not lines or any(line.strip(" .!`*").upper() == "LGTM" for line in lines[:2])


def _review_note(review: Review, options: HookOptions) -> str:
    if review.status == "timeout":
        return (
            f"the model review ran out of its {options.time_budget_s:g} s budget; the commit is not held up"
        )
    return f"the model review was skipped ({review.error or 'the model failed'}); the commit is not held up"

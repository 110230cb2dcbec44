"""Ask a model to review a staged diff, within a time budget, and parse what it says.

The model gets the (size-capped) diff and is asked for one finding per line,
`SEVERITY path:line: message`, or `LGTM`, and optionally one suggested patch in a ```diff
block. The parser is forgiving (bullets, brackets, missing line numbers, synonyms for the
severity); only the word "blocker" (or "critical") makes a finding blocking, because small
models call everything an error. The call runs in a worker thread: past the deadline the
model is asked to stop (`should_stop`) and the caller gets what arrived, marked timed out.

This module knows nothing about git, the terminal or exit codes; it gets a model loader.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from plt_agent.hook.checks import Finding
from plt_agent.models.base import Model

SYSTEM_PROMPT = """You review a git diff before it is committed. Report only real problems in \
the added or changed lines: bugs, wrong logic, typos in code, crashes, security problems, \
leftover debugging code, secrets.

Write one finding per line, exactly like this:
SEVERITY path:line: message
SEVERITY is one of: blocker, warning, info. Use blocker only for code that is certainly \
broken or a leaked secret.
If there is nothing worth reporting, write only: LGTM
You may end with one suggested fix as a unified diff in a ```diff block."""

ANSWER_TOKENS = 512
_SEVERITY_WORDS = {
    "blocker": "blocker",
    "critical": "blocker",
    "warning": "warning",
    "warn": "warning",
    "error": "warning",
    "bug": "warning",
    "high": "warning",
    "medium": "warning",
    "info": "info",
    "note": "info",
    "low": "info",
    "suggestion": "info",
    "nit": "info",
}
_FINDING = re.compile(
    r"^\s*(?:[-*•]|\d+[.)])?\s*[\[(*]*(?P<sev>[A-Za-z]+)[\])*]*\s*[:\-–]?\s+"
    r"(?:`?(?P<path>[\w./\\-]+\.\w+|[\w./\\-]+/[\w.-]+)(?::(?P<line>\d+))?(?::\d+)?`?\s*[:\-–]\s*)?"
    r"(?P<msg>\S.*)$"
)
_PATCH = re.compile(r"```(?:diff|patch|udiff)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


@dataclass
class Review:
    """What the model said: its findings, a suggested patch, and how the call went."""

    findings: list[Finding] = field(default_factory=list)
    patch: str = ""
    text: str = ""
    status: str = "ok"  # "ok" | "timeout" | "failed"
    error: str = ""
    seconds: float = 0.0


def cap_diff(diff: str, max_chars: int) -> tuple[str, list[str]]:
    """The diff cut to about `max_chars`, whole files first; also the paths left out."""
    if len(diff) <= max_chars:
        return diff, []
    parts = re.split(r"(?m)^(?=diff --git )", diff)
    kept, left_out, used = [], [], 0
    for part in parts:
        if used + len(part) <= max_chars:
            kept.append(part)
            used += len(part)
        elif used < max_chars // 2 and not left_out:
            kept.append(
                part[: max_chars - used].rsplit("\n", 1)[0] + "\n[... rest of this file's diff cut ...]\n"
            )
            used = max_chars
        else:
            header = part.split("\n", 1)[0]
            left_out.append(header.rsplit(" b/", 1)[-1] if " b/" in header else header)
    return "".join(kept), left_out


def build_messages(diff: str, left_out: list[str]) -> list[dict[str, Any]]:
    note = (
        f"\n\n({len(left_out)} more changed files not shown: {', '.join(left_out[:10])})" if left_out else ""
    )
    user = f"Review this staged diff.\n\n```diff\n{diff}```{note}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def parse_review(text: str) -> tuple[list[Finding], str]:
    """Findings and the first suggested patch from the model's answer."""
    patch_match = _PATCH.search(text)
    patch = patch_match.group(1) if patch_match else ""
    prose = _PATCH.sub("", text)
    findings = []
    for line in prose.splitlines():
        m = _FINDING.match(line)
        severity = _SEVERITY_WORDS.get(m.group("sev").lower()) if m else None
        if m and severity:
            line_no = int(m.group("line")) if m.group("line") else None
            findings.append(
                Finding(severity, m.group("path") or "", line_no, m.group("msg").strip(), "model")
            )
    return findings, patch


def fit_diff(model: Model, diff: str, max_chars: int) -> list[dict[str, Any]]:
    """Messages whose prompt fits the model's window with room for the answer."""
    room = max(256, model.context_window - ANSWER_TOKENS)
    limit = max_chars
    while True:
        capped, left_out = cap_diff(diff, limit)
        messages = build_messages(capped, left_out)
        if limit <= 200 or model.count_tokens(messages) <= room:
            return messages
        limit = int(limit * 0.7)


def review_diff(
    load: Callable[[], Model],
    diff: str,
    *,
    budget_s: float,
    max_chars: int,
    on_text: Callable[[str], None] | None = None,
) -> Review:
    """Load the model and review `diff` in a worker thread; never raises."""
    start = time.monotonic()
    deadline = start + budget_s
    chunks: list[str] = []
    result: dict[str, Any] = {}

    def stream(text: str) -> None:
        chunks.append(text)
        if on_text:
            on_text(text)

    def work() -> None:
        try:
            model = load()
            messages = fit_diff(model, diff, max_chars)
            result["reply"] = model.complete(
                messages,
                max_tokens=ANSWER_TOKENS,
                on_text=stream,
                should_stop=lambda: time.monotonic() > deadline,
            )
        except Exception as exc:  # fail open: any model problem becomes a note
            result["error"] = f"{type(exc).__name__}: {exc}"

    worker = threading.Thread(target=work, name="plt-agent-review", daemon=True)
    worker.start()
    worker.join(max(0.0, budget_s) + 2.0)
    return _outcome(result, "".join(chunks), worker.is_alive() or time.monotonic() > deadline, start)


def _outcome(result: dict[str, Any], streamed: str, late: bool, start: float) -> Review:
    seconds = time.monotonic() - start
    if "error" in result:
        return Review(status="failed", error=result["error"], seconds=seconds)
    reply = result.get("reply")
    if reply is not None and reply.finish_reason == "error":
        return Review(status="failed", error=reply.content or "the model reported an error", seconds=seconds)
    text = reply.content if reply is not None and reply.content else streamed
    cancelled = reply is None or reply.finish_reason == "cancelled"
    status = "timeout" if late and cancelled else "ok"
    # A cut-off answer: only its complete lines count (a half-written finding would mislead).
    findings, patch = parse_review(text if status == "ok" else text[: text.rfind("\n") + 1])
    return Review(findings, patch if status == "ok" else "", text, status, seconds=seconds)

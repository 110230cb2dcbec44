"""Ask a model to review a staged diff, within a time budget, and parse what it says.

The model gets the (size-capped) diff and is asked for one finding per line,
`SEVERITY path:line: message`, or `LGTM`, and optionally one suggested patch in a ```diff
block. The parser is forgiving (bullets, brackets, missing line numbers, synonyms for the
severity); only the word "blocker" (or "critical") makes a finding blocking, because small
models call everything an error. The answer is capped (ANSWER_TOKENS, and the caller's
`reply_tokens`) and cut short when it rambles (PROSE_CHARS without a finding, LGTM or a
diff block) or loops (`models.replywatch`); `Review.cut` says so.

The model is loaded and asked in a forked child process, in its own session, with its
output to a scratch file: whatever happens there (an exception, a native abort such as a
GGML_ASSERT, a signal, a hang) cannot take the hook down. The child streams the answer back
over a pipe; past the budget it is asked to stop (`should_stop`), and 2 s later it is
killed with everything it started. The caller always gets a Review: "ok", "timeout" (with
what arrived) or "failed" (with one line saying why). The child also reports the model's
progress (`on_progress(phase, done, total)`, a few times a second at most). POSIX only (fork).

This module knows nothing about git, the terminal or exit codes; it gets a model loader.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import re
import selectors
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from plt_agent.display import printable
from plt_agent.hook.checks import Finding
from plt_agent.models.base import Model
from plt_agent.models.replywatch import ReplyWatch
from tools.procs import MARKER_VAR, ProcessTree, die_with_parent, marker_env, signals_deferred, subreaper

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
PROSE_CHARS = 600  # an answer this long without a finding, LGTM or a diff block is cut
PROGRESS_EVERY_S = 0.25  # the child sends progress at most this often
GRACE_S = 2.0  # how long past the budget a child that ignores `should_stop` may run
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
_ASKED_FORM = re.compile(r"LGTM|```|^\W*(blocker|critical|warning|info)\b", re.IGNORECASE | re.MULTILINE)


@dataclass
class Review:
    """What the model said: its findings, a suggested patch, and how the call went."""

    findings: list[Finding] = field(default_factory=list)
    patch: str = ""
    text: str = ""
    status: str = "ok"  # "ok" | "timeout" | "failed"
    error: str = ""
    seconds: float = 0.0
    cut: str = ""  # why the answer was cut short ("rambling", "repeating"), '' if it was not


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
    reply_tokens: int = ANSWER_TOKENS,
    on_text: Callable[[str], None] | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
    waiting: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
) -> Review:
    """Load the model and review `diff` in a child process; never raises for the model.

    `waiting` makes a context manager held while the child works (a spinner): it is entered
    after the fork, so its threads are never copied into the child."""
    start = time.monotonic()
    deadline = start + max(0.0, budget_s)
    token = marker_env({})[1]
    with subreaper(), tempfile.TemporaryFile() as log:
        read_fd, write_fd = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_fd)
            job = _Job(load, diff, max_chars, min(ANSWER_TOKENS, reply_tokens), deadline)
            _child(job, write_fd, log, token, parent)
        os.close(write_fd)
        tree = ProcessTree(pid, token)
        messages: dict[str, Any] = {"text": []}
        late, status = True, None
        try:
            with waiting() if waiting else contextlib.nullcontext():
                late = not _receive(read_fd, deadline + GRACE_S, messages, on_text, on_progress)
        finally:
            with signals_deferred():
                tree.kill()
                status = _reap(pid)
                os.close(read_fd)
        if "reply" not in messages and "error" not in messages and not late:
            messages["error"] = _death(status, _log_tail(log))
    return _outcome(messages, "".join(messages["text"]), late or time.monotonic() > deadline, start)


@dataclass(frozen=True)
class _Job:
    """What the review child does: load, ask about `diff` (capped), answer within `deadline`."""

    load: Callable[[], Any]
    diff: str
    max_chars: int
    answer_tokens: int
    deadline: float


def _child(job: _Job, out_fd: int, log: IO[bytes], token: str, parent: int) -> None:
    """Review in the forked child and report over `out_fd`, one JSON message per line; exits."""

    def send(message: dict[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode()
        while data:
            data = data[os.write(out_fd, data) :]

    try:
        die_with_parent()  # the hook killed by git or the user: this goes too
        if os.getppid() != parent:  # the parent died before that took effect
            os._exit(0)
        os.setsid()  # out of the terminal's reach: the parent decides when it ends
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        if faulthandler.is_enabled():  # it may hold a copy of the old stderr: point it here too
            faulthandler.enable(file=log.fileno())
        os.environ[MARKER_VAR] = token  # for anything the model starts
        os.environ.setdefault("GGML_NO_BACKTRACE", "1")  # ggml would attach gdb before aborting
        send({"progress": ["loading the model", 0, 0]})
        model = job.load()
        messages = fit_diff(model, job.diff, job.max_chars)
        watch = ReplyWatch(lambda text: send({"text": text}), opener=_ASKED_FORM, prose_chars=PROSE_CHARS)
        reply = model.complete(
            messages,
            max_tokens=job.answer_tokens,
            on_text=watch.feed,
            should_stop=lambda: time.monotonic() > job.deadline or watch.done(),
            on_progress=_throttled(send),
        )
        cut = watch.reason  # rambling or looping: an answer, cut short (a timeout leaves it '')
        content = watch.kept() if cut else reply.content
        send(
            {
                "reply": {
                    "content": content,
                    "finish_reason": "stop" if cut else reply.finish_reason,
                    "cut": cut,
                }
            }
        )
    except BaseException as exc:  # fail open: any model problem becomes a note
        with contextlib.suppress(BaseException):
            send({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        os._exit(0)


def _throttled(send: Callable[[dict[str, Any]], None]) -> Callable[[str, int, int], None]:
    """`on_progress` for the child: a message at most every PROGRESS_EVERY_S, and at each new phase."""
    last = {"at": 0.0, "phase": ""}

    def progress(phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if phase != last["phase"] or now - last["at"] >= PROGRESS_EVERY_S:
            last["at"], last["phase"] = now, phase
            send({"progress": [phase, done, total]})

    return progress


def _receive(
    fd: int,
    hard_deadline: float,
    messages: dict[str, Any],
    on_text: Callable[[str], None] | None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> bool:
    """Read the child's messages until it closes the pipe (True) or `hard_deadline` passes (False)."""
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            left = hard_deadline - time.monotonic()
            if left <= 0:
                return False
            if not selector.select(min(left, 0.1)):
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return True
            *lines, buffer = (buffer + chunk).split(b"\n")
            for line in lines:
                _take(line, messages, on_text, on_progress)


def _take(
    line: bytes,
    messages: dict[str, Any],
    on_text: Callable[[str], None] | None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> None:
    try:
        message = json.loads(line)
    except ValueError:
        return
    if "progress" in message:
        if on_progress is not None:
            with contextlib.suppress(TypeError, ValueError):
                phase, done, total = message["progress"]
                on_progress(str(phase), int(done), int(total))
    elif "text" in message:
        messages["text"].append(str(message["text"]))
        if on_text:
            on_text(str(message["text"]))
    elif "reply" in message or "error" in message:
        messages.update(message)


def _reap(pid: int) -> int | None:
    """The child's wait status (it has been killed, so this does not wait long)."""
    for _ in range(500):
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if done:
            return status
        time.sleep(0.01)
    return None


def _death(status: int | None, log_tail: str) -> str:
    """One line on how the review process ended without an answer."""
    if status is not None and os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        what = f"the review process was killed by {name}"
    elif status is not None and os.WIFEXITED(status):
        what = f"the review process exited with code {os.WEXITSTATUS(status)} without an answer"
    else:
        what = "the review process ended without an answer"
    return f"{what}: {log_tail}" if log_tail else what


def _log_tail(log: IO[bytes]) -> str:
    """The telling line of what the child printed (an assertion or error line, else the last)."""
    log.seek(0, os.SEEK_END)
    size = log.tell()
    log.seek(max(0, size - 16384))
    lines = [printable(ln).strip() for ln in log.read().decode("utf-8", "replace").splitlines()]
    lines = [ln for ln in lines if ln]
    telling = [ln for ln in lines if re.search(r"GGML_ASSERT|assert|error|abort|fatal", ln, re.I)]
    line = (telling or lines or [""])[0 if telling else -1]
    line = re.sub(
        r"^\S*/(?=[^/\s]+:\d+: )", "", line
    )  # "/long/build/path/ops.cpp:12: ..." -> "ops.cpp:12: ..."
    return line if len(line) <= 200 else line[:100] + " ... " + line[-95:]


def _outcome(messages: dict[str, Any], streamed: str, late: bool, start: float) -> Review:
    seconds = time.monotonic() - start
    if "error" in messages:
        return Review(status="failed", error=str(messages["error"]), seconds=seconds)
    reply = messages.get("reply")
    finish = reply.get("finish_reason", "") if reply is not None else ""
    if reply is not None and finish == "error":
        return Review(
            status="failed", error=reply.get("content") or "the model reported an error", seconds=seconds
        )
    text = reply["content"] if reply is not None and reply.get("content") else streamed
    cancelled = reply is None or finish == "cancelled"
    status = "timeout" if late and cancelled else "ok"
    # A cut-off answer: only its complete lines count (a half-written finding would mislead).
    findings, patch = parse_review(text if status == "ok" else text[: text.rfind("\n") + 1])
    cut = str(reply.get("cut") or "") if reply is not None else ""
    return Review(findings, patch if status == "ok" else "", text, status, seconds=seconds, cut=cut)

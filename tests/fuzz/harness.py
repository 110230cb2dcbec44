"""Run fuzz cases in a worker process and classify what each one did.

A `Case` is one mutated input plus what a correct program may do with it:
- `reject`: the input is broken; only a clean one-line error is right;
- `either`: a clean error or a correct (finite) result are both right;
- `match`: the input means the same as the original; the output must be identical;
- `ok`: the input is valid; the command must succeed.

Outcomes: `clean` (a clean error), `ok` (a correct result) are right; `abort` (killed by a
signal), `hang` (over the time limit), `traceback` (an exception escaped), `nonfinite`
(NaN or infinite logits), `garbled` (an error message that is not one bounded line free
of control characters), `silent` (a broken input accepted, or a forbidden path written),
`mismatch` (an equivalent input gave different output) and `refused` (a valid input
rejected) are failures.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("fuzz_worker.py")
GOOD = ("clean", "ok")
OUTCOMES = (
    "clean",
    "ok",
    "abort",
    "hang",
    "traceback",
    "nonfinite",
    "garbled",
    "silent",
    "mismatch",
    "refused",
)
MAX_MESSAGE = 1000  # characters in one error line
MAX_TOOL_MESSAGE = 30_000
# Data (heap and private writable mappings) of the worker: a runaway allocation fails, not the
# machine. RLIMIT_DATA rather than RLIMIT_AS: a CUDA build reserves far more address space.
MEMORY_LIMIT = 4 << 30
# Raw control characters a terminal would act on (C0 but tab/newline, DEL, C1), lone surrogates
# (unprintable: UnicodeEncodeError on a UTF-8 terminal) and the bidi overrides.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


@dataclass
class Case:
    id: str
    group: str
    what: str
    expect: str  # reject | either | match | ok
    job: dict
    core: bool = False  # always in the default subset (a finding of the issue)
    timeout: float = 20.0
    prepare: Callable[[], None] | None = None  # writes the mutant just before the case runs
    cleanup: list[Path] = field(default_factory=list)  # removed after it ran


@dataclass
class Result:
    case: Case
    outcome: str
    detail: str
    seconds: float


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    seconds: float = 0.0

    def failures(self) -> list[Result]:
        return [r for r in self.results if r.outcome not in GOOD]

    def table(self, title: str) -> str:
        groups = sorted({r.case.group for r in self.results})
        lines = [f"{title}: {len(self.results)} cases in {self.seconds:.1f} s"]
        for g in groups:
            rs = [r for r in self.results if r.case.group == g]
            counts = Counter(r.outcome for r in rs)
            shown = ", ".join(f"{o} {counts[o]}" for o in OUTCOMES if counts[o])
            lines.append(f"  {g:<22} {len(rs):>4} cases {sum(r.seconds for r in rs):7.1f} s   {shown}")
        total = Counter(r.outcome for r in self.results)
        lines.append("  total: " + ", ".join(f"{o} {total[o]}" for o in OUTCOMES))
        for r in self.failures()[:60]:
            lines.append(f"  FAIL {r.outcome:<9} {r.case.id}: {r.case.what} -> {r.detail[:300]!r}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "seconds": self.seconds,
            "results": [
                {"id": r.case.id, "group": r.case.group, "outcome": r.outcome, "detail": r.detail[:500]}
                for r in self.results
            ],
        }


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_LIMIT, MEMORY_LIMIT))


class Worker:
    """One fuzz_worker.py process; `run(job, timeout)` -> result dict, or ("abort"|"hang", detail)."""

    def __init__(self, log: Path):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PLT_AGENT_THREADS": "1"}
        env.pop("PLT_AGENT_DEBUG", None)
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(log, "ab"),  # noqa: SIM115 - the child owns it
            env=env,
            cwd=str(ROOT),
            preexec_fn=_limit_memory,
        )
        self.buffer = b""

    def run(self, job: dict, timeout: float) -> dict | tuple[str, str]:
        try:
            self.proc.stdin.write((json.dumps(job) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            return self._died()
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                return ("hang", f"no result after {timeout:.0f} s")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    return self._died()
                self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def _died(self) -> tuple[str, str]:
        code = self.proc.wait()
        name = signal.Signals(-code).name if code < 0 and -code in signal.Signals._value2member_map_ else code
        tail = self.log.read_bytes()[-400:].decode("utf-8", "replace").strip().splitlines()
        return ("abort", f"worker died ({name}): {tail[-1] if tail else ''}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def message_problem(text: str, *, cli: bool) -> str | None:
    """Why an error output is not a clean message (None when it is)."""
    if RAW_CONTROL.search(text):
        bad = RAW_CONTROL.search(text).group()
        return f"raw control character {bad!r} in the message"
    if "Traceback (most recent call last)" in text:
        return "a traceback"
    if not cli:
        return "message too long" if len(text) > MAX_TOOL_MESSAGE else None
    line = text.strip()
    if not line:
        return "no message at all"
    if "\n" in line:
        return f"{line.count(chr(10)) + 1} lines instead of one"
    if len(line) > MAX_MESSAGE:
        return f"a message of {len(line)} characters"
    if not line.startswith("error:"):
        return "the message does not start with 'error:'"
    return None


def classify(case: Case, got: dict | tuple[str, str], seconds: float) -> Result:
    if isinstance(got, tuple):
        return Result(case, got[0], got[1], seconds)
    if got.get("exc"):
        return Result(case, "traceback", got["exc"], seconds)
    tool = case.job["kind"] == "tool"
    internal = "failed unexpectedly" in got["err"] + got.get("cli_out", "") + got.get("cli_err", "")
    if tool and internal:  # run_tool's last-resort catch: an exception the tool did not handle
        return Result(case, "traceback", got["err"][:300] or got.get("cli_out", "")[:300], seconds)
    if got.get("violations"):
        return Result(case, "silent", f"wrote forbidden path(s) {got['violations']}", seconds)
    if got["exit"] == 0:
        if got.get("finite") is False:
            return Result(case, "nonfinite", "exit 0 with NaN/inf logits", seconds)
        if case.expect == "reject":
            return Result(case, "silent", "a broken input was accepted (exit 0)", seconds)
        if case.expect == "match" and got.get("same") is False:
            return Result(case, "mismatch", "an equivalent file gave different logits", seconds)
        if tool and got.get("cli_exit") not in (0, None):
            return Result(case, "mismatch", "run_tool succeeded but `tool run` failed", seconds)
        return Result(case, "ok", (got["out"] or got["err"]).strip()[-200:], seconds)
    text = got["err"] + got["out"]
    problem = message_problem(text, cli=not tool)
    if tool and problem is None:
        cli_text = got.get("cli_err", "") + got.get("cli_out", "")
        problem = message_problem(cli_text, cli=False)
    if problem:
        return Result(case, "garbled", f"{problem}: {text.strip()[:300]}", seconds)
    if case.expect in ("ok", "match"):
        return Result(case, "refused", f"a valid input was rejected: {text.strip()[:300]}", seconds)
    return Result(case, "clean", text.strip()[:300], seconds)


def run_cases(cases: list[Case], log: Path, *, progress: bool = False) -> Report:
    report, worker = Report(), None
    started = time.monotonic()
    try:
        for case in cases:
            if worker is None or worker.proc.poll() is not None:
                worker = Worker(log)
                warm = worker.run({"kind": "cli", "argv": ["--version"]}, 120)
                if isinstance(warm, tuple):
                    raise RuntimeError(f"the fuzz worker does not start: {warm}")
            if case.prepare:
                case.prepare()
            t0 = time.monotonic()
            got = worker.run(case.job, case.timeout)
            result = classify(case, got, time.monotonic() - t0)
            for path in case.cleanup:
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                elif os.path.lexists(path):
                    os.unlink(path)
            report.results.append(result)
            if progress:
                print(f"{result.outcome:<9} {result.seconds:5.2f}s {case.id}", file=sys.stderr, flush=True)
            if isinstance(got, tuple):
                worker = None
    finally:
        if worker is not None:
            worker.close()
    report.seconds = time.monotonic() - started
    return report


def select_cases(cases: list[Case], *, every: bool, sample: int, seed: int = 10) -> list[Case]:
    """All cases, or the core ones plus a seeded sample of `sample` others (fixed across runs)."""
    if every:
        return cases
    rest = [c for c in cases if not c.core]
    picked = set(id(c) for c in random.Random(seed).sample(rest, min(sample, len(rest))))
    return [c for c in cases if c.core or id(c) in picked]


def finish(report: Report, title: str) -> None:
    """Print the table (and save it as JSON when FUZZ_REPORT_DIR is set); fail on any failure."""
    text = report.table(title)
    print("\n" + text)
    out_dir = os.environ.get("FUZZ_REPORT_DIR")
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        name = re.sub(r"\W+", "-", title).strip("-")
        (Path(out_dir) / f"{name}.json").write_text(json.dumps(report.to_json(), indent=1))
        (Path(out_dir) / f"{name}.txt").write_text(text + "\n")
    failures = report.failures()
    assert not failures, f"{len(failures)} of {len(report.results)} fuzz cases failed:\n{text}"

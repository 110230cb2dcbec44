"""`run_tests`: find and run the repository's tests; report counts, failing ids, traceback heads.

The command is, in order: the call's `command`, the Workspace's `test_command`, or one
detected from the repository in the project's own environment (`tools.testenv`: its
virtualenv, uv/poetry/hatch/tox, else plt-agent's Python with a warning; npm/go/cargo/make
for other projects). pytest gets `-rfE --tb=short -p no:cacheprovider --color=no` (unless
already given); pytest's output is parsed whatever ran it (tox and hatch run pytest too);
other runners are reported by exit code and output. A pytest run that never got to run
tests (it did not start, or stopped at collection) says so (`started`, `collected`), so a
crash at start-up is not read as "0 failing". `Observation.data` carries the structured
result for programs (see `RunTestsTool.run`).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from tools.base import Observation, ToolError, arg, schema
from tools.gitguard import git_refusal
from tools.shell import MAX_TIMEOUT, run_command
from tools.testenv import TestCommand, choose_test_command
from tools.text import truncate_middle
from tools.workspace import Workspace

DEFAULT_TIMEOUT = 600.0
_PARSE_LIMIT = 400_000
_SHOW_LIMIT = 8_000
_PYTEST = re.compile(r"(^|[\s/])(py\.test|pytest)(\s|$)")
_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?|rerun)")
_SUMMARY = re.compile(r"^=*\s*((?:\d+ \w+(?:, )?)+.*in [\d.]+s.*?|no tests ran.*?)\s*=*$")
_SECTION = re.compile(r"^={3,} (.+?) ={3,}$")
_BLOCK = re.compile(r"^_{3,} (.+?) _{3,}$")
_SESSION = re.compile(r"^=+ test session starts =+$", re.M)
_TIMING = re.compile(r" in [\d.]+s( \([\d:]+\))?")


def detect_test_command(root: Path) -> str | None:
    """A test command for the repository at `root`, or None when none is evident."""
    chosen = choose_test_command(root)
    return chosen.command if chosen else None


def is_pytest(command: str) -> bool:
    return bool(_PYTEST.search(command))


def pytest_flags(command: str) -> list[str]:
    """The reporting flags run_tests adds to a pytest command (those it does not have yet)."""
    flags = []
    if not re.search(r"(^|\s)-r\S", command):
        flags.append("-rfE")
    if "--tb" not in command:
        flags.append("--tb=short")
    if "cacheprovider" not in command:
        flags += ["-p", "no:cacheprovider"]
    if "--color" not in command:
        flags.append("--color=no")
    return flags


def parse_pytest(output: str) -> dict[str, Any]:
    """Counts, failing test ids and per-failure traceback heads from pytest's text output."""
    lines = output.splitlines()
    counts = dict.fromkeys(("passed", "failed", "errors", "skipped", "xfailed", "xpassed"), 0)
    summary = ""
    for line in reversed(lines):
        match = _SUMMARY.match(line.strip())
        if match:
            summary = match.group(1)
            for n, word in _COUNT.findall(summary):
                key = "errors" if word.startswith("error") else word
                if key in counts:
                    counts[key] = int(n)
            break
    failing = []
    for line in lines:
        if line.startswith(("FAILED ", "ERROR ")):
            test_id = line.split(" ", 1)[1].split(" - ", 1)[0].strip()
            if test_id not in failing:
                failing.append(test_id)
    blocks = _failure_blocks(lines)
    failures = [
        {"id": test_id, "traceback": _match_block(test_id, blocks, i)} for i, test_id in enumerate(failing)
    ]
    return {**counts, "summary": summary, "failing": failing, "failures": failures}


def _failure_blocks(lines: list[str]) -> list[tuple[str, list[str]]]:
    """(header, lines) for each block of the FAILURES and ERRORS sections."""
    blocks: list[tuple[str, list[str]]] = []
    inside = False
    for line in lines:
        section = _SECTION.match(line)
        if section:
            inside = section.group(1) in ("FAILURES", "ERRORS")
            continue
        block = _BLOCK.match(line) if inside else None
        if block:
            blocks.append((block.group(1), []))
        elif inside and blocks:
            blocks[-1][1].append(line)
    return blocks


def _match_block(test_id: str, blocks: list[tuple[str, list[str]]], position: int) -> str:
    for header, body in blocks:
        name = header.removeprefix("ERROR collecting ").removeprefix("ERROR at setup of ")
        name = name.removeprefix("ERROR at teardown of ")
        if test_id == name or test_id.endswith("::" + name.replace(".", "::")) or test_id.endswith(name):
            return _head(body)
    return _head(blocks[position][1]) if position < len(blocks) else ""


def _head(body: list[str], first: int = 6, last: int = 16) -> str:
    body = [line for line in body if line.strip()]
    if len(body) > first + last + 1:
        body = [*body[:first], f"[... {len(body) - first - last} lines ...]", *body[-last:]]
    return "\n".join(body)


class RunTestsTool:
    name = "run_tests"
    mutates = False
    description = (
        "Run the repository's tests (pytest by default, or the configured test command) and "
        "report counts, the failing test ids and the heads of their tracebacks. Give `tests` "
        "(test files or ids such as tests/test_x.py::test_y) to run only some."
    )
    parameters = schema(
        command=arg("string", "Test command to use instead of the detected one."),
        tests=arg(
            ["array", "string"],
            "Test files or test ids to run (appended to the command).",
            items={"type": "string"},
        ),
        timeout=arg("integer", f"Seconds before the run is killed (default {DEFAULT_TIMEOUT:g})."),
    )

    def run(self, args: dict[str, Any], workspace: Workspace) -> Observation:
        """data: command, reason (why this command), warning (it runs outside the project's
        environment), framework ('pytest' when pytest ran, else 'other'), exit_code (None when
        killed), timed_out, stopped (by the user), success (exit code 0), seconds, output
        (head+tail); for pytest also started (pytest's session began), collected (tests ran:
        exit 0 or 1), passed, failed, errors, skipped, xfailed, xpassed, summary, failing
        (ids), failures ([{id, traceback}])."""
        chosen = _chosen(args, workspace)
        base = chosen.command
        tests = args.get("tests") or []
        try:
            tests = shlex.split(tests) if isinstance(tests, str) else tests
        except ValueError as exc:  # unbalanced quotes
            raise ToolError(f"cannot split tests into words: {exc}; give a list of test ids") from None
        if not all(isinstance(t, str) for t in tests):
            raise ToolError("tests must be test files or ids (strings)")
        parts = [base, *(pytest_flags(base) if is_pytest(base) else []), *(shlex.quote(t) for t in tests)]
        command = " ".join(parts)
        timeout = min(float(args.get("timeout") or DEFAULT_TIMEOUT), MAX_TIMEOUT)
        refused = git_refusal(args["command"], workspace.root) if args.get("command") else ""
        if refused:
            return Observation(refused, ok=False, data={"refused": True})
        with workspace.track_changes(command):
            result = run_command(command, workspace.root, timeout=timeout, limit=_PARSE_LIMIT)
        pytest = is_pytest(base) or bool(_SESSION.search(result.output))
        data: dict[str, Any] = {
            "command": command,
            "reason": chosen.reason,
            "warning": chosen.warning,
            "framework": "pytest" if pytest else "other",
            "exit_code": result.exit_code,
            "timed_out": result.timed_out,
            "stopped": result.stopped,
            "success": result.exit_code == 0,
            "seconds": round(result.seconds, 2),
            "output": truncate_middle(result.output, _SHOW_LIMIT),
        }
        if pytest and not (result.timed_out or result.stopped):
            data.update(parse_pytest(result.output))
            data["started"] = bool(_SESSION.search(result.output) or data.get("summary"))
            data["collected"] = result.exit_code in (0, 1) and bool(data.get("summary"))
        return Observation(_describe(data, timeout), ok=_ran(data), data=data)


def _chosen(args: dict[str, Any], workspace: Workspace) -> TestCommand:
    if args.get("command"):
        return TestCommand(args["command"], "given with the call")
    chosen = choose_test_command(workspace.root, workspace.test_command, workspace.test_command_source)
    if chosen is None:
        raise ToolError(
            "no test command found for this repository; pass command, e.g. "
            '{"command": "python -m pytest"}, or configure the test command'
        )
    return chosen


def _ran(data: dict[str, Any]) -> bool:
    """Whether the tests actually ran and reported (failing tests are still a good report)."""
    if data["timed_out"] or data["stopped"] or data["exit_code"] in (126, 127):
        return False
    if data["framework"] == "pytest":
        return data["exit_code"] in (0, 1, 2) and bool(data.get("summary") or data.get("failing"))
    return True


def _describe(data: dict[str, Any], timeout: float) -> str:
    head = f"$ {data['command']}\n"
    if data["timed_out"]:
        return f"{head}Timed out after {timeout:g}s (the run was killed). Output:\n{data['output']}"
    if data["stopped"]:
        return f"{head}Stopped by the user (the run was killed). Output:\n{data['output']}"
    if data["framework"] != "pytest" or not _ran(data):
        verdict = "passed" if data["success"] else "FAILED"
        output = data["output"] or "(no output)"
        return f"{head}Tests {verdict} (exit code {data['exit_code']}). Output:\n{output}"
    verdict = "All tests passed" if data["success"] else "Tests failed"
    counts = _TIMING.sub("", data["summary"])  # no timings: the same failure reads the same every run
    parts = [f"{head}{verdict}: {counts} (exit code {data['exit_code']})"]
    if data["failing"]:
        parts.append("Failing: " + ", ".join(data["failing"][:20]))
        budget = _SHOW_LIMIT
        for failure in data["failures"][:10]:
            block = f"--- {failure['id']}\n{failure['traceback']}"
            if len(block) > budget:
                parts.append(f"[... tracebacks of {len(data['failures'])} failures cut; run fewer tests]")
                break
            parts.append(block)
            budget -= len(block)
    return "\n".join(parts)

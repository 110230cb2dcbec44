"""Fuzz the tools with odd files (FIFOs, sockets, devices, symlink loops, nested .git) and odd
arguments, through `run_tool` (the agent's path inside `fix`) and `plt-agent tool run`.

Every call must return an observation (never raise), finish in time, print no raw control
characters in an error, and write nothing under any .git directory. The default run takes
issue 10's findings plus a seeded sample; `-m slow` runs every case.
"""

from __future__ import annotations

import pytest
from cases_tools import tool_cases
from harness import finish, run_cases, select_cases

SAMPLE = 25


def _run(tmp_path, every: bool) -> None:
    cases = tool_cases(tmp_path / "tools")
    assert len(cases) > 100
    report = run_cases(select_cases(cases, every=every, sample=SAMPLE), tmp_path / "worker.log")
    finish(report, f"tools fuzz ({'all' if every else 'subset'})")


def test_tool_mutants_subset(tmp_path):
    _run(tmp_path, every=False)


@pytest.mark.slow
def test_tool_mutants_all(tmp_path):
    _run(tmp_path, every=True)

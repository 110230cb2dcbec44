"""How `fix` reports its outcome: a submitted change is not called fixed."""

from __future__ import annotations

from rich.console import Console

from plt_agent.agent.fix import FixResult
from plt_agent.agent.outcome import Outcome
from plt_agent.commands.agent_cmds import _report


def _printed(status: str) -> str:
    console = Console(record=True, width=200)
    result = FixResult(Outcome(status, steps=1, message="changed a.py"), "whole-file", "m", diff="")
    _report(result, console)
    return console.export_text()


def test_a_verified_fix_is_reported_as_fixed():
    text = _printed("fixed")
    assert text.startswith("Fixed (changed a.py). 1 step, ")


def test_a_submitted_change_says_it_was_not_verified_against_the_task():
    text = _printed("submitted")
    assert "Submitted, not verified against the task" in text
    assert not text.startswith("Fixed")


def test_a_failed_run_says_the_files_were_put_back():
    assert "Not fixed" in _printed("max_steps")

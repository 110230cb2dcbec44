"""The search tool's regular expressions: a pattern that backtracks without end is a tool error
within the time budget, never a hung run; ordinary patterns behave as before."""

from __future__ import annotations

import time

import pytest

import tools.search
from tools.registry import run_tool


@pytest.mark.parametrize(("pattern", "line"), [(r"(x+x+)+y", "x" * 5000), (r"(a|aa)+$", "a" * 5000 + "!")])
def test_a_catastrophic_pattern_ends_in_a_tool_error(ws, monkeypatch, pattern, line):
    monkeypatch.setattr(tools.search, "REGEX_SECONDS", 0.5)
    (ws.root / "big.txt").write_text(line + "\n")
    started = time.monotonic()
    obs = run_tool("search", {"pattern": pattern, "regex": True}, ws)
    took = time.monotonic() - started
    assert not obs.ok
    assert "took over 0.5 s" in obs.text
    assert took < 15  # unbounded otherwise (minutes to years)


def test_regular_patterns_still_find_their_lines(ws):
    (ws.root / "m.py").write_text("def add(a, b):\n    return a - b\n\nclass Adder:\n    pass\n")
    obs = run_tool("search", {"pattern": r"^(def|class) \w+", "regex": True}, ws)
    assert obs.ok
    assert "m.py:1: def add(a, b):" in obs.text
    assert "m.py:4: class Adder:" in obs.text
    assert "return" not in obs.text


def test_an_invalid_pattern_is_a_tool_error(ws):
    obs = run_tool("search", {"pattern": "(unclosed", "regex": True}, ws)
    assert not obs.ok
    assert "invalid regular expression" in obs.text

"""Tool lookup and argument checking: clear messages for the model, harmless coercions."""

from __future__ import annotations

import pytest

from tools.base import ToolError
from tools.registry import default_tools, get_tool, run_tool

ISSUE_TOOLS = {
    "repo_map": set(),
    "view": {"path"},
    "search": {"pattern"},
    "find": {"glob"},
    "edit": {"path", "old", "new"},
    "write": {"path", "content"},
    "insert": {"path", "line", "text"},
    "run_tests": set(),
    "bash": {"command"},
    "diff": set(),
    "undo": set(),
}
OPTIONAL = {
    "repo_map": {"query", "budget_tokens"},
    "view": {"start", "end"},
    "search": {"path", "regex"},
    "run_tests": {"command", "tests", "timeout"},
    "bash": {"timeout"},
}


def test_every_tool_of_the_issue_with_its_arguments():
    tools = {t.name: t for t in default_tools()}
    assert set(tools) == set(ISSUE_TOOLS)
    for name, required in ISSUE_TOOLS.items():
        params = tools[name].parameters
        assert params["type"] == "object"
        assert set(params.get("required", [])) == required
        assert set(params["properties"]) == required | OPTIONAL.get(name, set())
        assert tools[name].description


def test_unknown_tool_lists_the_valid_names():
    with pytest.raises(ToolError, match="unknown tool 'nope'.*repo_map.*undo"):
        get_tool("nope")
    obs = run_tool("nope", {}, None)
    assert not obs.ok
    assert "edit" in obs.text


def test_missing_and_unknown_arguments(ws):
    obs = run_tool("edit", {"path": "app.py"}, ws)
    assert not obs.ok
    assert "missing required argument(s) old, new" in obs.text
    assert "path (string, required)" in obs.text
    obs = run_tool("view", {"path": "app.py", "lines": 3}, ws)
    assert not obs.ok
    assert "unknown argument(s) lines" in obs.text


def test_wrong_types_are_named(ws):
    obs = run_tool("view", {"path": ["app.py"]}, ws)
    assert not obs.ok
    assert "argument path of view must be string" in obs.text
    obs = run_tool("view", {"path": "app.py", "start": 1.5}, ws)
    assert not obs.ok
    assert "must be integer" in obs.text


def test_harmless_coercions(ws):
    obs = run_tool("view", {"path": "app.py", "start": "2"}, ws)
    assert obs.ok
    assert obs.data["start"] == 2
    obs = run_tool("search", {"pattern": "main", "regex": "false"}, ws)
    assert obs.ok
    assert obs.data["total"] == 1


def test_arguments_as_a_json_string(ws):
    assert run_tool("view", '{"path": "app.py"}', ws).ok
    obs = run_tool("view", '{"path": ', ws)
    assert not obs.ok
    assert "not valid JSON" in obs.text

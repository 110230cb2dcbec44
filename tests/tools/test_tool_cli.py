"""`plt-agent tool list` and `plt-agent tool run` through the real CLI."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from plt_agent.cli import app

runner = CliRunner()


def test_tool_list_prints_names_descriptions_and_schemas():
    result = runner.invoke(app, ["tool", "list"])
    assert result.exit_code == 0
    for name in (
        "repo_map",
        "view",
        "search",
        "find",
        "edit",
        "write",
        "insert",
        "run_tests",
        "bash",
        "diff",
        "undo",
    ):
        assert f"\n{name}\n" in "\n" + result.output
    as_json = json.loads(runner.invoke(app, ["tool", "list", "--json"]).output)
    edit = next(t for t in as_json if t["name"] == "edit")
    assert edit["parameters"]["required"] == ["path", "old", "new"]


def test_tool_run_success_exits_0(repo):
    args = json.dumps({"path": "app.py", "old": "return 1", "new": "return 2"})
    result = runner.invoke(app, ["tool", "run", "edit", "--repo", str(repo), "--args", args])
    assert result.exit_code == 0, result.output
    assert "Edited app.py" in result.output
    assert (repo / "app.py").read_text() == "def main():\n    return 2\n"
    diff = runner.invoke(app, ["tool", "run", "diff", "--repo", str(repo), "--json"])
    assert diff.exit_code == 0
    assert json.loads(diff.output)["data"]["files"] == ["app.py"]
    undo = runner.invoke(app, ["tool", "run", "undo", "--repo", str(repo)])
    assert undo.exit_code == 0
    assert (repo / "app.py").read_text() == "def main():\n    return 1\n"


def test_tool_run_failure_exits_1(repo):
    args = json.dumps({"path": "app.py", "old": "not there", "new": "x"})
    result = runner.invoke(app, ["tool", "run", "edit", "--repo", str(repo), "--args", args])
    assert result.exit_code == 1
    assert "not found" in result.output


def test_tool_run_unknown_tool_and_bad_json_are_one_line_errors(repo):
    result = runner.invoke(app, ["tool", "run", "nope", "--repo", str(repo)])
    assert result.exit_code == 2  # bad usage, not a tool that ran and failed
    assert "unknown tool" in result.output
    result = runner.invoke(app, ["tool", "run", "view", "--repo", str(repo), "--args", "{bad"])
    assert result.exit_code == 2
    assert "not valid JSON" in result.output

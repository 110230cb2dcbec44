"""Real SWE-bench instances: a swebench-format record plus a local clone of its repository.

The "upstream" repository is made here: a base commit with the bug, then the fix and its
tests in a later commit (as in the real project's history). The record is built the way
swebench builds one: base_commit, patch (non-test files), test_patch, FAIL_TO_PASS and
PASS_TO_PASS as JSON-encoded strings.
"""

import json

import pytest
from eval_helpers import ADD_BASE, ADD_FIXED, ADD_HIDDEN, PYPROJECT, git, write_tree
from typer.testing import CliRunner

from plt_agent.cli import app

runner = CliRunner()


def _commit_all(repo, message):
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def upstream(tmp_path):
    """A clone-like repository at tmp/clones/demo whose history holds the fix after the base."""
    repo = tmp_path / "clones" / "demo"
    repo.mkdir(parents=True)
    write_tree(repo, {"pyproject.toml": PYPROJECT, **ADD_BASE})
    git(repo, "init", "-q")
    base = _commit_all(repo, "base")
    write_tree(repo, ADD_FIXED)
    patch = git(repo, "diff")
    _commit_all(repo, "fix add")
    write_tree(repo, ADD_HIDDEN)
    git(repo, "add", "-N", "tests/test_add.py")
    test_patch = git(repo, "diff")
    head = _commit_all(repo, "tests for add")
    record = {
        "instance_id": "example__demo-7",
        "repo": "example/demo",
        "base_commit": base,
        "patch": patch,
        "test_patch": test_patch,
        "problem_statement": "add(2, 3) returns -1.\n",
        "hints_text": "",
        "created_at": "2024-01-01T00:00:00Z",
        "version": "0.1",
        "environment_setup_commit": base,
        "FAIL_TO_PASS": json.dumps(["tests/test_add.py::test_add"]),
        "PASS_TO_PASS": json.dumps(["tests/test_add.py::test_add_zero", "tests/test_mul.py::test_mul"]),
    }
    instances = tmp_path / "instances.jsonl"
    instances.write_text(json.dumps(record) + "\n")
    return repo, instances, head


def _untouched(repo, head):
    assert git(repo, "rev-parse", "HEAD").strip() == head
    assert git(repo, "status", "--porcelain") == ""
    assert len(git(repo, "worktree", "list").splitlines()) == 1


def test_instance_loads_and_checks_out_base_without_history(upstream, tmp_path):
    from plt_agent.eval.checkout import materialize
    from plt_agent.eval.tasks import load_tasks

    repo, instances, head = upstream
    [task] = load_tasks(instances, repo_dir=repo.parent)  # a folder of clones: found by name
    assert task.fail_to_pass == ("tests/test_add.py::test_add",)
    assert task.file_to_fix == "calc/ops.py"
    work = materialize(task, tmp_path / "work")
    assert "return a - b" in (work / "calc/ops.py").read_text()  # the base, not the fixed head
    assert not (work / "tests/test_add.py").exists()
    assert git(work, "log", "--oneline").count("\n") == 1  # one commit: the fix cannot leak
    _untouched(repo, head)


@pytest.mark.slow
def test_validate_and_oracle_run_on_a_swebench_instance(upstream, tmp_path):
    repo, instances, head = upstream
    checked = runner.invoke(app, ["eval", "validate", str(instances), "--repo-dir", str(repo)])
    assert checked.exit_code == 0, checked.output
    assert "1 valid, 0 broken" in checked.output

    out = tmp_path / "run" / "report.json"
    result = runner.invoke(
        app, ["eval", str(instances), "--repo-dir", str(repo), "--model", "oracle", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "1 passed, 0 failed"
    pred = json.loads((out.parent / "preds.jsonl").read_text())
    assert pred["instance_id"] == "example__demo-7"
    assert "+    return a + b" in pred["model_patch"]
    _untouched(repo, head)


@pytest.mark.slow
def test_wrong_fix_on_a_swebench_instance_is_not_resolved(upstream, tmp_path):
    repo, instances, _ = upstream
    script = tmp_path / "wrong.jsonl"
    wrong = {
        "name": "edit",
        "arguments": {"path": "calc/ops.py", "old": "return a * b", "new": "return b * a"},
    }
    script.write_text(
        json.dumps({"content": "", "tool_calls": [wrong]})
        + "\n"
        + json.dumps({"content": "", "tool_calls": [{"name": "submit", "arguments": {}}]})
        + "\n"
    )
    out = tmp_path / "run" / "report.json"
    result = runner.invoke(
        app,
        ["eval", str(instances), "--repo-dir", str(repo), "--model", f"scripted:{script}", "-o", str(out)],
    )
    assert result.output.strip().splitlines()[-1] == "0 passed, 1 failed"
    r = json.loads(out.read_text())["results"][0]
    assert (r["status"], r["f2p_passed"], r["p2p_passed"]) == ("NOT", 0, 2)


def test_missing_clone_is_a_usage_error(upstream, tmp_path):
    _, instances, _ = upstream
    result = runner.invoke(app, ["eval", "validate", str(instances), "--repo-dir", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "no git clone of example/demo" in result.output


def test_instance_file_needs_a_repo_dir(upstream):
    _, instances, _ = upstream
    result = runner.invoke(app, ["eval", "validate", str(instances)])
    assert result.exit_code == 2
    assert "--repo-dir" in result.output

"""run_tests on a real temporary pytest project: counts, failing ids and traceback heads."""

from __future__ import annotations

import sys

import pytest
from toolrepos import make_repo

from tools.registry import run_tool
from tools.testrunner import detect_test_command, parse_pytest
from tools.workspace import Workspace

PROJECT = {
    "calc.py": "def add(a, b):\n    return a + b\n\n\ndef div(a, b):\n    return a / b\n",
    "tests/test_calc.py": (
        "import pytest\n\nfrom calc import add, div\n\n\n"
        "def test_add():\n    assert add(1, 2) == 3\n\n\n"
        "def test_add_wrong():\n    assert add(2, 2) == 5\n\n\n"
        "def test_div_zero():\n    div(1, 0)\n\n\n"
        "@pytest.mark.skip(reason='not today')\ndef test_skipped():\n    pass\n\n\n"
        "@pytest.fixture\ndef broken():\n    raise RuntimeError('fixture boom')\n\n\n"
        "def test_uses_broken(broken):\n    pass\n\n\n"
        "class TestGroup:\n    def test_method(self):\n        assert 'a' == 'b'\n"
    ),
    "pytest.ini": "[pytest]\npythonpath = .\n",
}


@pytest.fixture
def project(tmp_path):
    return Workspace(make_repo(tmp_path / "proj", PROJECT), test_command=f"{sys.executable} -m pytest")


def test_counts_ids_and_traceback_heads(project):
    obs = run_tool("run_tests", {}, project)
    data = obs.data
    assert obs.ok, obs.text
    assert (data["passed"], data["failed"], data["errors"], data["skipped"]) == (1, 3, 1, 1)
    assert data["exit_code"] == 1
    assert data["success"] is False
    assert set(data["failing"]) == {
        "tests/test_calc.py::test_add_wrong",
        "tests/test_calc.py::test_div_zero",
        "tests/test_calc.py::TestGroup::test_method",
        "tests/test_calc.py::test_uses_broken",
    }
    heads = {f["id"].rsplit("::", 1)[1]: f["traceback"] for f in data["failures"]}
    assert "assert 4 == 5" in heads["test_add_wrong"]
    assert "ZeroDivisionError" in heads["test_div_zero"]
    assert "calc.py:6" in heads["test_div_zero"]  # the frame where it happened
    assert "fixture boom" in heads["test_uses_broken"]
    assert "AssertionError" in heads["test_method"] or "assert 'a' == 'b'" in heads["test_method"]
    assert "tests/test_calc.py::test_add_wrong" in obs.text
    assert "ZeroDivisionError" in obs.text


def test_selected_tests_only(project):
    obs = run_tool("run_tests", {"tests": ["tests/test_calc.py::test_add"]}, project)
    assert obs.ok
    assert obs.data["success"] is True
    assert (obs.data["passed"], obs.data["failed"]) == (1, 0)
    assert "All tests passed" in obs.text


def test_collection_error_is_reported_as_failing(project):
    (project.root / "tests/test_bad.py").write_text("def test_x(:\n    pass\n")
    obs = run_tool("run_tests", {"tests": "tests/test_bad.py"}, project)
    assert obs.ok
    assert obs.data["errors"] == 1
    assert obs.data["exit_code"] == 2
    assert obs.data["failing"] == ["tests/test_bad.py"]
    assert "SyntaxError" in obs.data["failures"][0]["traceback"]


def test_no_tests_collected_is_not_a_success(project):
    obs = run_tool("run_tests", {"tests": ["tests/test_calc.py", "-k", "nothing_matches_this"]}, project)
    assert not obs.ok
    assert obs.data["exit_code"] == 5
    assert obs.data["success"] is False


def test_other_runners_report_exit_code_and_output(project):
    obs = run_tool("run_tests", {"command": "echo checking; exit 4"}, project)
    assert obs.ok
    assert obs.data["framework"] == "other"
    assert obs.data["exit_code"] == 4
    assert obs.data["success"] is False
    assert "checking" in obs.text
    assert "exit code 4" in obs.text


def test_timeout(project):
    obs = run_tool("run_tests", {"command": "sleep 30", "timeout": 1}, project)
    assert not obs.ok
    assert obs.data["timed_out"]
    assert obs.data["exit_code"] is None


def test_detects_pytest_projects(tmp_path):
    root = make_repo(tmp_path / "p", PROJECT)
    assert detect_test_command(root).endswith("-m pytest")
    empty = make_repo(tmp_path / "e", {"README.md": "hi\n"})
    assert detect_test_command(empty) is None
    obs = run_tool("run_tests", {}, Workspace(empty))
    assert not obs.ok
    assert "no test command" in obs.text


def test_parse_quiet_summary_and_duration_suffix():
    output = (
        "FAILED tests/test_a.py::test_one - assert 1 == 2\n"
        "ERROR tests/test_b.py::test_two - RuntimeError\n"
        "2 failed, 10 passed, 1 error, 3 skipped, 1 xfailed in 61.20s (0:01:01)\n"
    )
    parsed = parse_pytest(output)
    assert (parsed["failed"], parsed["passed"], parsed["errors"], parsed["skipped"], parsed["xfailed"]) == (
        2,
        10,
        1,
        3,
        1,
    )
    assert parsed["failing"] == ["tests/test_a.py::test_one", "tests/test_b.py::test_two"]

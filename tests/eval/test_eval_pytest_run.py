"""Reading pytest outcomes per node id, on a repository made for each case."""

import pytest
from eval_helpers import PYPROJECT, write_tree

from plt_agent.eval.pytest_run import ERROR, FAILED, MISSING, PASSED, SKIPPED, XFAIL, run_pytest

CASES = """
import pytest


@pytest.fixture
def broken():
    raise RuntimeError("fixture fails")


def test_pass():
    assert 1 + 1 == 2


def test_fail():
    assert 1 + 1 == 3


def test_setup_error(broken):
    pass


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass


@pytest.mark.xfail(reason="known bug")
def test_expected_failure():
    assert False


@pytest.mark.parametrize("n", [1, 2])
def test_param(n):
    assert n == 1


class TestGroup:
    def test_method(self):
        assert True
"""


@pytest.fixture
def repo(tmp_path):
    write_tree(
        tmp_path,
        {
            "pyproject.toml": PYPROJECT,
            "tests/test_cases.py": CASES,
            "tests/test_broken_import.py": "import no_such_module\n\n\ndef test_never():\n    pass\n",
        },
    )
    return tmp_path


def test_outcomes_by_node_id(repo):
    f = "tests/test_cases.py"
    ids = [
        f"{f}::test_pass",
        f"{f}::test_fail",
        f"{f}::test_setup_error",
        f"{f}::test_skipped",
        f"{f}::test_expected_failure",
        f"{f}::test_param[1]",
        f"{f}::test_param[2]",
        f"{f}::TestGroup::test_method",
        f"{f}::test_not_there",
        "tests/test_broken_import.py::test_never",
        "tests/test_absent_file.py::test_x",
    ]
    run = run_pytest(repo, ids)
    expected = [PASSED, FAILED, ERROR, SKIPPED, XFAIL, PASSED, FAILED, PASSED, MISSING, MISSING, MISSING]
    assert [run.status(i) for i in ids] == expected
    assert [run.passed(i) for i in ids] == [s in (PASSED, XFAIL) for s in expected]


def test_collection_error_does_not_hide_other_files(repo):
    run = run_pytest(repo, ["tests/test_broken_import.py::test_never", "tests/test_cases.py::test_pass"])
    assert run.passed("tests/test_cases.py::test_pass")
    assert not run.passed("tests/test_broken_import.py::test_never")


def test_nothing_to_run_when_no_file_exists(tmp_path):
    run = run_pytest(tmp_path, ["tests/test_nope.py::test_a"])
    assert run.outcomes == {}
    assert not run.passed("tests/test_nope.py::test_a")


def test_no_cache_or_bytecode_left_behind(repo):
    run_pytest(repo, ["tests/test_cases.py::test_pass"])
    assert not (repo / ".pytest_cache").exists()
    assert not list(repo.rglob("__pycache__"))


@pytest.mark.slow
def test_per_test_timeout_fails_only_the_hanging_test(tmp_path):
    write_tree(
        tmp_path,
        {
            "pyproject.toml": PYPROJECT,
            "tests/test_hang.py": (
                "import time\n\n\ndef test_hangs():\n    time.sleep(60)\n\n\ndef test_quick():\n    pass\n"
            ),
        },
    )
    run = run_pytest(
        tmp_path, ["tests/test_hang.py::test_hangs", "tests/test_hang.py::test_quick"], per_test_timeout=2
    )
    assert run.status("tests/test_hang.py::test_hangs") == FAILED
    assert run.passed("tests/test_hang.py::test_quick")
    assert not run.timed_out


@pytest.mark.slow
def test_whole_run_timeout_kills_the_run(tmp_path):
    write_tree(
        tmp_path,
        {
            "pyproject.toml": PYPROJECT,
            "tests/test_hang.py": "import time\n\n\ndef test_hangs():\n    time.sleep(60)\n",
        },
    )
    run = run_pytest(tmp_path, ["tests/test_hang.py::test_hangs"], per_test_timeout=0, total_timeout=3)
    assert run.timed_out
    assert not run.passed("tests/test_hang.py::test_hangs")

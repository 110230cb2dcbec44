"""Grading rules, checked on hand-made outcomes (swebench's definitions, not the code's)."""

import pytest

from plt_agent.eval.grading import NOT, PARTIAL, RESOLVED, grade, not_applied

F2P = ["t.py::a", "t.py::b"]
P2P = ["t.py::c", "t.py::d"]


@pytest.mark.parametrize(
    ("passing", "expected"),
    [
        ({"t.py::a", "t.py::b", "t.py::c", "t.py::d"}, RESOLVED),
        ({"t.py::a", "t.py::c", "t.py::d"}, PARTIAL),  # one of two F2P, all P2P
        ({"t.py::c", "t.py::d"}, NOT),  # no F2P
        ({"t.py::a", "t.py::b", "t.py::c"}, NOT),  # all F2P but a P2P broke
        ({"t.py::a", "t.py::c"}, NOT),  # some F2P and a P2P broke
        (set(), NOT),
    ],
)
def test_grade_table(passing, expected):
    assert grade(F2P, P2P, passing.__contains__).status == expected


def test_grade_lists_which_tests_failed():
    g = grade(F2P, P2P, {"t.py::a", "t.py::d"}.__contains__)
    assert (g.f2p_passed, g.f2p_failed) == (["t.py::a"], ["t.py::b"])
    assert (g.p2p_passed, g.p2p_failed) == (["t.py::d"], ["t.py::c"])


def test_noop_task_is_resolved_when_nothing_breaks():
    assert grade([], P2P, set(P2P).__contains__).status == RESOLVED
    assert grade([], P2P, {"t.py::c"}.__contains__).status == NOT


def test_unapplied_patch_fails_everything():
    g = not_applied(F2P, P2P, "the model patch does not apply")
    assert g.status == NOT
    assert g.f2p_failed == F2P
    assert g.p2p_failed == P2P
    assert "does not apply" in g.reason

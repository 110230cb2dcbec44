"""Grade a test run against a task's FAIL_TO_PASS and PASS_TO_PASS lists, as swebench does.

RESOLVED: every FAIL_TO_PASS and every PASS_TO_PASS test passes.
PARTIAL: at least one FAIL_TO_PASS test passes (not all) and every PASS_TO_PASS test passes.
NOT: anything else, including a model patch that does not apply.
An empty list counts as fully passing (a no-op task is RESOLVED when nothing broke).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

RESOLVED, PARTIAL, NOT = "RESOLVED", "PARTIAL", "NOT"


@dataclass
class Grade:
    status: str
    f2p_passed: list[str] = field(default_factory=list)
    f2p_failed: list[str] = field(default_factory=list)
    p2p_passed: list[str] = field(default_factory=list)
    p2p_failed: list[str] = field(default_factory=list)
    reason: str = ""

    @property
    def resolved(self) -> bool:
        return self.status == RESOLVED


def _split(ids: Iterable[str], passed: Callable[[str], bool]) -> tuple[list[str], list[str]]:
    ok, bad = [], []
    for node_id in ids:
        (ok if passed(node_id) else bad).append(node_id)
    return ok, bad


def grade(fail_to_pass: Iterable[str], pass_to_pass: Iterable[str], passed: Callable[[str], bool]) -> Grade:
    """`passed(node_id)` says whether one test passed in the graded run."""
    f2p_ok, f2p_bad = _split(fail_to_pass, passed)
    p2p_ok, p2p_bad = _split(pass_to_pass, passed)
    if not f2p_bad and not p2p_bad:
        status = RESOLVED
    elif f2p_ok and not p2p_bad:
        status = PARTIAL
    else:
        status = NOT
    return Grade(status, f2p_ok, f2p_bad, p2p_ok, p2p_bad)


def not_applied(fail_to_pass: Iterable[str], pass_to_pass: Iterable[str], reason: str) -> Grade:
    """The grade of a run whose patch could not be applied: every test counts as failed."""
    return Grade(NOT, [], list(fail_to_pass), [], list(pass_to_pass), reason=reason)

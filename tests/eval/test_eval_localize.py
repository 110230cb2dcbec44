"""Localisation figures: the rate arithmetic on hand-made ranks, and the skip rules."""

from eval_helpers import make_add_task

from plt_agent.eval.localize import Localization, localize_task, rates
from plt_agent.eval.tasks import load_task_dir


def test_rates_count_top1_and_top3_over_counted_tasks():
    items = [
        Localization("a", "x.py", rank=1),
        Localization("b", "x.py", rank=3),
        Localization("c", "x.py", rank=4),
        Localization("d", "x.py", rank=None),  # ranked nowhere: a miss
        Localization("e", None, skipped="no-op"),
    ]
    r = rates(items)
    assert (r["counted"], r["skipped"], r["top1"], r["top3"]) == (4, 1, 1, 2)
    assert r["top1_rate"] == 0.25
    assert r["top3_rate"] == 0.5


def test_rates_of_nothing_are_zero():
    assert rates([])["top1_rate"] == 0.0


def test_localize_finds_the_file_in_a_made_up_task(tmp_path):
    task = load_task_dir(make_add_task(tmp_path))
    loc = localize_task(task)
    assert loc.counted
    assert loc.rank is not None
    assert 1 <= loc.rank <= loc.n_ranked
    if loc.rank <= 3:
        assert loc.top[loc.rank - 1] == "calc/ops.py"


def test_noop_and_new_file_tasks_are_skipped(tmp_path):
    noop = load_task_dir(make_add_task(tmp_path, "example__noop-1", fixed={}, f2p=[], tags=["no-op"]))
    assert localize_task(noop).skipped.startswith("no failing tests")
    new_file = load_task_dir(
        make_add_task(
            tmp_path, "example__new-2", fixed={"calc/extra.py": "X = 1\n"}, file_to_fix="calc/extra.py"
        )
    )
    assert "does not exist before the fix" in localize_task(new_file).skipped

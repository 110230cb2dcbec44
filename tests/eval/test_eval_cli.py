"""`plt-agent eval` end to end: the oracle, scripted agents (wrong, partial), reports, workers."""

import json
import shutil

import pytest
from eval_helpers import BENCH, git
from typer.testing import CliRunner

from plt_agent.cli import app

runner = CliRunner()
pytestmark = pytest.mark.slow

ORACLE_TASKS = ["fsutil__pathfmt-13", "textops__casefold-4", "parcelco__shipcalc-90"]  # new file, no-op, .ini


def _eval(*args):
    return runner.invoke(app, ["eval", *args], catch_exceptions=False)


def _last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


def test_oracle_resolves_tasks_and_writes_swebench_predictions(tmp_path):
    report_path = tmp_path / "out" / "report.json"
    selected = [a for t in ORACLE_TASKS for a in ("--task", t)]
    result = _eval(str(BENCH), "--model", "oracle", "-o", str(report_path), *selected)
    assert result.exit_code == 0, result.output
    assert _last_line(result.output) == "3 passed, 0 failed"
    report = json.loads(report_path.read_text())
    assert report["summary"]["resolved"] == 3
    assert {r["status"] for r in report["results"]} == {"RESOLVED"}
    assert report["localization"]["counted"] == 1  # the no-op and the new-file task do not count

    preds = [json.loads(line) for line in (report_path.parent / "preds.jsonl").read_text().splitlines()]
    assert [p["instance_id"] for p in preds] == sorted(ORACLE_TASKS)
    for pred in preds:
        assert set(pred) == {"instance_id", "model_name_or_path", "model_patch"}
        assert pred["model_name_or_path"] == "oracle"
        _assert_same_tree_as_gold(tmp_path / pred["instance_id"], pred)


def _assert_same_tree_as_gold(tmp, pred):
    """The predicted patch and the gold patch, each applied by git to the base, give equal trees."""
    task_dir = BENCH / pred["instance_id"]
    trees = []
    for name, patch in (("pred", pred["model_patch"]), ("gold", (task_dir / "gold.patch").read_text())):
        repo = tmp / name
        shutil.copytree(task_dir / "repo", repo)
        git(repo, "init", "-q")
        if patch.strip():
            (tmp / f"{name}.diff").write_text(patch)
            git(repo, "apply", str(tmp / f"{name}.diff"))
        files = [p for p in repo.rglob("*") if p.is_file() and ".git" not in p.relative_to(repo).parts]
        trees.append({str(p.relative_to(repo)): p.read_bytes() for p in files})
    assert trees[0] == trees[1]


TEXTKIT = "textops__textkit-61"  # truncate(): F2P cut width, custom placeholder, format_row widths


def _script(tmp_path, replies):
    folder = tmp_path / "scripts"
    folder.mkdir(exist_ok=True)
    (folder / f"{TEXTKIT}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in replies))
    return folder


def _call(name, **arguments):
    return {"content": "", "tool_calls": [{"name": name, "arguments": arguments}]}


def test_scripted_wrong_fix_is_not_resolved_and_its_mistakes_are_counted(tmp_path):
    scripts = _script(
        tmp_path,
        [
            {"content": "Let me think about the problem first."},  # no action: a format error
            _call("edit", path="textkit/truncate.py", old="no such line", new="x = 1"),  # a failed edit
            _call(
                "edit",
                path="textkit/truncate.py",
                old="    If `width` is smaller than the placeholder, the placeholder itself is cut.",
                new="    If `width` is smaller than the placeholder, only part of the placeholder is kept.",
            ),
            _call("submit"),
        ],
    )
    out = tmp_path / "report.json"
    result = _eval(
        str(BENCH), "--model", f"scripted:{scripts}", "--task", TEXTKIT, "-o", str(out), "--no-localize"
    )
    assert result.exit_code == 1
    assert _last_line(result.output) == "0 passed, 1 failed"
    r = json.loads(out.read_text())["results"][0]
    assert (r["status"], r["f2p_passed"], r["f2p_total"], r["p2p_passed"]) == ("NOT", 0, 3, 2)
    assert (r["format_errors"], r["failed_edits"], r["steps"]) == (1, 1, 4)
    assert r["files_changed"] == ["textkit/truncate.py"]
    assert "only part of the placeholder" in r["model_patch"]
    assert r["prompt_tokens"] > 0


def test_scripted_partial_fix_is_partial(tmp_path):
    # Cutting a fixed 3 characters is right for "..." and wrong for a one-character placeholder.
    scripts = _script(
        tmp_path,
        [
            _call(
                "edit",
                path="textkit/truncate.py",
                old="    return text[:width] + placeholder",
                new="    return text[: width - 3] + placeholder",
            ),
            _call("submit"),
        ],
    )
    out = tmp_path / "report.json"
    result = _eval(
        str(BENCH), "--model", f"scripted:{scripts}", "--task", TEXTKIT, "-o", str(out), "--no-localize"
    )
    assert _last_line(result.output) == "0 passed, 1 failed"
    r = json.loads(out.read_text())["results"][0]
    assert r["status"] == "PARTIAL"
    assert r["f2p_passed"] == 2
    assert r["failing_tests"] == ["tests/test_truncate.py::test_custom_placeholder"]


def test_an_agent_that_edits_and_runs_out_of_budget_is_graded_on_its_diff(tmp_path):
    # Like SWE-bench harnesses: the edit stays (keep_changes) though the run never submits.
    edit = _call(
        "edit",
        path="textkit/truncate.py",
        old="    return text[:width] + placeholder",
        new="    return text[: width - 3] + placeholder",
    )
    scripts = _script(tmp_path, [edit, _call("submit")])
    out = tmp_path / "report.json"
    result = _eval(
        str(BENCH),
        *("--model", f"scripted:{scripts}", "--task", TEXTKIT, "--max-steps", "1"),
        *("-o", str(out), "--no-localize"),
    )
    assert _last_line(result.output) == "0 passed, 1 failed"
    r = json.loads(out.read_text())["results"][0]
    assert r["solver_status"] == "max_steps"
    assert "+    return text[: width - 3] + placeholder" in r["model_patch"]
    assert (r["status"], r["f2p_passed"]) == ("PARTIAL", 2)  # graded on the diff it left


def test_scripted_gold_edit_through_the_whole_agent_loop(tmp_path):
    from plt_agent.eval.oracle import write_script

    folder = tmp_path / "scripts"
    folder.mkdir()
    gold = (BENCH / TEXTKIT / "gold.patch").read_text()
    write_script(gold, folder / f"{TEXTKIT}.jsonl", native=False)  # the text protocol this time
    out = tmp_path / "report.json"
    result = _eval(
        str(BENCH), "--model", f"scripted:{folder}", "--task", TEXTKIT, "-o", str(out), "--no-localize"
    )
    assert result.exit_code == 0, result.output
    r = json.loads(out.read_text())["results"][0]
    assert (r["status"], r["solver_status"]) == ("RESOLVED", "fixed")


def test_workers_run_tasks_in_parallel_processes(tmp_path):
    out = tmp_path / "report.json"
    tasks = ["acme__clikit-112", "netops__throttle-58"]
    args = [a for t in tasks for a in ("--task", t)]
    result = _eval(str(BENCH), "--model", "oracle", "--workers", "2", "-o", str(out), "--no-localize", *args)
    assert result.exit_code == 0, result.output
    assert _last_line(result.output) == "2 passed, 0 failed"
    assert [r["instance_id"] for r in json.loads(out.read_text())["results"]] == tasks


def test_unknown_task_id_is_a_usage_error():
    result = runner.invoke(app, ["eval", str(BENCH), "--model", "oracle", "--task", "nope__nope-1"])
    assert result.exit_code == 2
    assert "nope__nope-1" in result.output


def test_validate_passes_good_tasks_and_flags_broken_ones(tmp_path):
    from eval_helpers import ADD_BASE, make_add_task

    good = _eval("validate", str(BENCH), "--task", "acme__clikit-112", "--task", "textops__casefold-4")
    assert good.exit_code == 0, good.output
    assert "2 valid, 0 broken" in good.output

    tasks = tmp_path / "tasks"
    make_add_task(tasks, "example__good-1")
    make_add_task(tasks, "example__nofix-2", fixed={"calc/ops.py": ADD_BASE["calc/ops.py"] + "\n# tidy\n"})
    make_add_task(tasks, "example__f2p-passes-3", f2p=["tests/test_add.py::test_add_zero"], p2p=[])
    result = _eval("validate", str(tasks))
    assert result.exit_code == 1
    assert "1 valid, 2 broken" in result.output
    assert "fails with the gold patch: tests/test_add.py::test_add" in result.output
    assert "FAIL_TO_PASS passes without the fix: tests/test_add.py::test_add_zero" in result.output


def test_localize_reports_ranks_and_rates(tmp_path):
    out = tmp_path / "loc.json"
    result = _eval(
        "localize",
        str(BENCH),
        "--task",
        "lintbox__brackets-3",
        "--task",
        "textops__casefold-4",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["rates"]["counted"] == 1
    assert data["rates"]["skipped"] == 1
    brackets = next(t for t in data["tasks"] if t["instance_id"] == "lintbox__brackets-3")
    assert brackets["rank"] is not None
    assert brackets["top"][brackets["rank"] - 1] == "brackets/check.py"
    assert data["rates"]["top3"] == (1 if brackets["rank"] <= 3 else 0)
    assert "localization: top-1" in result.output


def test_eval_without_arguments_shows_help():
    result = runner.invoke(app, ["eval"])
    assert "validate" in result.output
    assert "localize" in result.output


def test_report_of_scripted_run_names_the_trajectory(tmp_path):
    scripts = _script(tmp_path, [_call("submit")])
    out = tmp_path / "r" / "report.json"
    _eval(str(BENCH), "--model", f"scripted:{scripts}", "--task", TEXTKIT, "-o", str(out), "--no-localize")
    r = json.loads(out.read_text())["results"][0]
    trajectory = out.parent / "trajectories" / f"{TEXTKIT}.jsonl"
    assert r["trajectory"] == str(trajectory)
    events = [json.loads(line)["type"] for line in trajectory.read_text().splitlines()]
    assert events[0] == "start"
    assert events[-1] == "end"
    assert r["model_patch"] == ""


def test_every_bundled_task_validates():
    """The whole suite on this interpreter: F2P fail at base and pass with gold, P2P pass both."""
    result = _eval("validate", str(BENCH), "--workers", "2")
    assert result.exit_code == 0, result.output
    assert _last_line(result.output).endswith(" valid, 0 broken")

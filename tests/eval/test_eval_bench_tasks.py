"""The bundled task suite, checked on paper (fast): format, coverage, no leaks of the fix."""

import ast
import json
import re

import pytest
from eval_helpers import BENCH

from plt_agent.eval.patches import parse_patch, touched_files
from plt_agent.eval.tasks import load_tasks, structural_problems
from tools.filekinds import is_test_file

TASKS = load_tasks(BENCH)
REQUIRED_TAGS = {
    "cross-file", "off-by-one", "boundary", "wrong-condition", "bad-default",
    "config-file", "import", "string-handling", "no-op",
}  # fmt: skip


def test_suite_size_and_unique_ids():
    ids = [t.instance_id for t in TASKS]
    assert len(ids) >= 30
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-z0-9-]+__[a-z0-9-]+-\d+", i) for i in ids), ids


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.instance_id)
def test_task_is_structurally_sound(task):
    assert structural_problems(task) == []
    meta = json.loads((BENCH / task.instance_id / "task.json").read_text())
    assert set(meta) >= {"instance_id", "repo", "problem_statement", "FAIL_TO_PASS", "PASS_TO_PASS", "tags"}
    assert "/" in meta["repo"]


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.instance_id)
def test_hidden_tests_are_not_in_the_visible_repo(task):
    for fp in parse_patch(task.test_patch):
        target = task.repo_dir / fp.path
        if fp.new_file:
            assert not target.exists(), fp.path
        else:  # an appended test: none of its added test functions may be visible already
            added = [line for h in fp.hunks for line in _added(h) if line.startswith("def test_")]
            assert added
            assert not any(line in target.read_text() for line in added)
    assert all(is_test_file(f) for f in touched_files(task.test_patch))


@pytest.mark.parametrize("task", [t for t in TASKS if t.gold_patch], ids=lambda t: t.instance_id)
def test_problem_statement_does_not_contain_the_fix(task):
    statement = task.problem_statement
    for fp in parse_patch(task.gold_patch):
        for hunk in fp.hunks:
            removed = set(hunk.old_lines)
            for line in hunk.new_lines:
                code = line.strip()
                if line not in removed and len(code) > 6:
                    assert code not in statement, f"{task.instance_id}: the statement shows {code!r}"


def _added(hunk):
    """Lines the hunk adds (new lines that are not context)."""
    old = list(hunk.old_lines)
    out = []
    for line in hunk.new_lines:
        if line in old:
            old.remove(line)
        else:
            out.append(line)
    return out


def test_every_required_category_is_covered():
    tags = {tag for t in TASKS for tag in t.tags}
    assert tags >= REQUIRED_TAGS


def test_exactly_one_noop_task_and_it_changes_nothing():
    noop = [t for t in TASKS if "no-op" in t.tags]
    assert len(noop) == 1
    assert noop[0].fail_to_pass == ()
    assert noop[0].gold_patch.strip() == ""


def test_config_file_tasks_fix_a_data_file():
    config = [t for t in TASKS if "config-file" in t.tags]
    assert config
    for task in config:
        assert task.file_to_fix
        assert not task.file_to_fix.endswith(".py")
        assert task.file_to_fix.rsplit(".", 1)[-1] in ("json", "ini", "toml", "cfg", "yaml")


def _imported_modules(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def _test_sources(task) -> dict[str, str]:
    """The text of each F2P test file after the test patch (visible part + added lines)."""
    out = {}
    for fp in parse_patch(task.test_patch):
        added = "".join(line for h in fp.hunks for line in _added(h))
        visible = (task.repo_dir / fp.path).read_text() if not fp.new_file else ""
        out[fp.path] = visible + "\n" + added
    return out


@pytest.mark.parametrize("task", [t for t in TASKS if "cross-file" in t.tags], ids=lambda t: t.instance_id)
def test_cross_file_tasks_fix_a_module_the_failing_tests_do_not_import(task):
    fixed = task.file_to_fix
    module = fixed.removesuffix(".py").replace("/", ".")
    failing_files = {i.split("::")[0] for i in task.fail_to_pass}
    sources = _test_sources(task)
    for path in failing_files:
        assert path != fixed
        imported = _imported_modules(sources[path])
        assert module not in imported, f"{path} imports {module} directly"


def test_repositories_are_small():
    total = sum(p.stat().st_size for p in BENCH.rglob("*") if p.is_file())
    assert total < 1_000_000
    for task in TASKS:
        files = [p for p in task.repo_dir.rglob("*") if p.is_file()]
        assert 2 <= len(files) <= 10, task.instance_id

"""The oracle carries patches through the agent's own tools; git apply is the reference."""

from pathlib import Path

from eval_helpers import BENCH, diff_between, git, write_tree

from plt_agent.eval.oracle import apply_with_tools, script_from_patch

BLOCK = ["k1\n", "k2\n", "k3\n", "X\n", "k4\n", "k5\n", "k6\n"]


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def _repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    write_tree(path, files)
    git(path, "init", "-q")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "base")
    return path


BEFORE = {
    "twice.txt": "".join(BLOCK + ["mid\n"] + BLOCK + ["end\n"]),
    "pkg/mod.py": "def f():\n    return 1\n",
    "pkg/old.py": "OLD = True\n",
    "blank.txt": "\n",
    "empty.txt": "",
}
AFTER = {
    "twice.txt": "".join(BLOCK + ["mid\n"] + [x if x != "X\n" else "Y\n" for x in BLOCK] + ["end\n"]),
    "pkg/mod.py": "def f():\n    return 2\n",
    "pkg/new.py": "NEW = 1\n",
    "blank.txt": "import os\n\n",
    "empty.txt": "a = 1\n",
}


def test_oracle_matches_git_apply(tmp_path):
    from tools.workspace import Workspace

    patch = diff_between(tmp_path, BEFORE, AFTER)
    reference = _repo(tmp_path / "ref", BEFORE)
    (tmp_path / "p.diff").write_text(patch)
    git(reference, "apply", str(tmp_path / "p.diff"))
    target = _repo(tmp_path / "oracle", BEFORE)
    run = apply_with_tools(patch, Workspace(target))
    assert run.failed == []
    assert _tree(target) == _tree(reference) == {**AFTER}
    names = [c.name for c in run.calls]
    assert names.count("edit") == 2  # twice.txt (after widening) and pkg/mod.py
    assert "write" in names
    assert "bash" in names


def test_ambiguous_hunk_is_widened_not_misapplied(tmp_path):
    from tools.workspace import Workspace

    patch = diff_between(tmp_path, {"twice.txt": BEFORE["twice.txt"]}, {"twice.txt": AFTER["twice.txt"]})
    target = _repo(tmp_path / "r", {"twice.txt": BEFORE["twice.txt"]})
    run = apply_with_tools(patch, Workspace(target))
    assert [c.ok for c in run.calls] == [True]
    lines = (target / "twice.txt").read_text().splitlines()
    assert lines[3] == "X"
    assert lines[11] == "Y"


def test_failed_edit_is_recorded(tmp_path):
    from tools.workspace import Workspace

    patch = diff_between(tmp_path, {"a.py": "x = 1\n"}, {"a.py": "x = 2\n"})
    target = _repo(tmp_path / "r", {"a.py": "something = 'else'\n"})
    run = apply_with_tools(patch, Workspace(target))
    assert len(run.failed) == 1
    assert run.failed[0].name == "edit"
    assert (target / "a.py").read_text() == "something = 'else'\n"


def test_script_from_patch_ends_with_submit():
    patch = (BENCH / "acme__clikit-112" / "gold.patch").read_text()
    replies = script_from_patch(patch)
    assert [r["tool_calls"][0]["name"] for r in replies] == ["edit", "submit"]
    args = replies[0]["tool_calls"][0]["arguments"]
    assert 'body.split("=")' in args["old"]
    assert 'body.split("=", 1)' in args["new"]
    text = script_from_patch(patch, native=False)
    assert text[0]["content"].startswith("<function=edit>")
    assert "tool_calls" not in text[0]


def test_oracle_reproduces_every_bundled_gold_patch(tmp_path):
    """Every bench fix can be carried by the tools: the resulting diff equals the gold patch."""
    from plt_agent.eval.checkout import diff_since_base, materialize
    from plt_agent.eval.tasks import load_tasks
    from tools.workspace import Workspace

    for task in load_tasks(BENCH):
        repo = materialize(task, tmp_path / task.instance_id)
        run = apply_with_tools(task.gold_patch, Workspace(repo))
        assert run.failed == [], task.instance_id
        assert diff_since_base(repo).strip() == task.gold_patch.strip(), task.instance_id

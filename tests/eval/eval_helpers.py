"""Helpers for the eval tests: build task directories and git repositories on the fly."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from repo_helpers import git, write_tree

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH = REPO_ROOT / "bench" / "tasks"

PYPROJECT = '[project]\nname = "demo"\nversion = "0.1.0"\n\n[tool.pytest.ini_options]\npythonpath = ["."]\n'


def diff_between(tmp: Path, before: dict[str, str], after: dict[str, str]) -> str:
    """`git diff` of two file sets, made with git itself (not with the code under test)."""
    work = tmp / "diffwork"
    if work.exists():
        subprocess.run(["rm", "-rf", str(work)], check=True)
    work.mkdir(parents=True)
    write_tree(work, before)
    git(work, "init", "-q")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "before")
    for rel in before:
        if rel not in after:
            (work / rel).unlink()
    write_tree(work, after)
    git(work, "add", "-A")
    return git(work, "diff", "--cached")


def make_task(
    parent: Path,
    instance_id: str,
    base: dict[str, str],
    fixed: dict[str, str],
    hidden: dict[str, str],
    f2p: list[str],
    p2p: list[str],
    *,
    tags: list[str] | None = None,
    file_to_fix: str | None = None,
) -> Path:
    """A bench task directory: base files, `fixed` = changed files after the fix, hidden tests."""
    base = {"pyproject.toml": PYPROJECT, **base}
    task = parent / instance_id
    write_tree(task / "repo", base)
    gold = diff_between(parent, base, {**base, **fixed}) if fixed else ""
    test = diff_between(parent, base, {**base, **hidden})
    (task / "gold.patch").write_text(gold)
    (task / "test.patch").write_text(test)
    meta = {
        "instance_id": instance_id,
        "repo": "example/demo",
        "problem_statement": "add() returns the wrong sum for 2 + 3.\n",
        "FAIL_TO_PASS": f2p,
        "PASS_TO_PASS": p2p,
        "tags": tags or ["logic"],
        "file_to_fix": file_to_fix if file_to_fix is not None else (sorted(fixed)[0] if fixed else None),
    }
    (task / "task.json").write_text(json.dumps(meta, indent=2))
    return task


ADD_BASE = {
    "calc/__init__.py": "",
    "calc/ops.py": "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n",
    "tests/test_mul.py": "from calc.ops import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n",
}
ADD_FIXED = {"calc/ops.py": "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"}
ADD_HIDDEN = {
    "tests/test_add.py": (
        "from calc.ops import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
        "def test_add_zero():\n    assert add(0, 0) == 0\n"
    )
}


def make_add_task(parent: Path, instance_id: str = "example__demo-1", **overrides) -> Path:
    """A sound one-bug task: add() subtracts. F2P test_add; P2P test_add_zero and test_mul."""
    args = {
        "base": ADD_BASE,
        "fixed": ADD_FIXED,
        "hidden": ADD_HIDDEN,
        "f2p": ["tests/test_add.py::test_add"],
        "p2p": ["tests/test_add.py::test_add_zero", "tests/test_mul.py::test_mul"],
    }
    args.update(overrides)
    return make_task(parent, instance_id, **args)

"""diff and undo restore exactly the agent's changes and never touch git's index, stash, refs or history."""

from __future__ import annotations

from pathlib import Path

from toolrepos import git, make_repo

from tools.registry import run_tool
from tools.workspace import Workspace


def git_state(repo: Path) -> dict[str, object]:
    objects = repo / ".git" / "objects"
    return {
        "status": git(repo, "status", "--porcelain=v1", "--untracked-files=all"),
        "index": git(repo, "ls-files", "--stage"),
        "stash": git(repo, "stash", "list"),
        "head": git(repo, "rev-parse", "HEAD"),
        "refs": git(repo, "for-each-ref"),
        "objects": sorted(str(p.relative_to(objects)) for p in objects.rglob("*") if p.is_file()),
    }


def test_undo_keeps_the_users_uncommitted_work(tmp_path):
    repo = make_repo(
        tmp_path / "r",
        {"a.py": "A = 1\n", "b.py": "B = 1\n", "c.py": "C = 1\n", "f.py": "F = 1\n"},
    )
    (repo / "a.py").write_text("A = 1\nUSER_EDIT = True\n")  # the user's unstaged change
    (repo / "b.py").write_text("B = 2\n")
    git(repo, "add", "b.py")  # the user's staged change
    before = git_state(repo)

    ws = Workspace(repo)
    ws.snapshot()
    assert run_tool("edit", {"path": "a.py", "old": "A = 1", "new": "A = 100"}, ws).ok
    assert run_tool("edit", {"path": "c.py", "old": "C = 1", "new": "C = 3"}, ws).ok
    assert run_tool("write", {"path": "pkg/d.py", "content": "D = 4\n"}, ws).ok
    assert run_tool("bash", {"command": "rm f.py && echo e > e.txt"}, ws).ok
    assert ws.changed_files() == ["a.py", "c.py", "e.txt", "f.py", "pkg/d.py"]

    diff = run_tool("diff", {}, ws)
    assert "--- /dev/null\n+++ b/pkg/d.py" in diff.text
    assert "--- a/f.py\n+++ /dev/null" in diff.text
    assert "-A = 1\n+A = 100\n USER_EDIT = True" in diff.text  # relative to the user's version
    assert "b.py" not in diff.data["files"]

    undo = run_tool("undo", {}, ws)
    assert undo.ok, undo.text
    assert sorted(undo.data["restored"]) == ["a.py", "c.py", "f.py"]
    assert sorted(undo.data["removed"]) == ["e.txt", "pkg/d.py"]
    assert (repo / "a.py").read_text() == "A = 1\nUSER_EDIT = True\n"
    assert (repo / "b.py").read_text() == "B = 2\n"
    assert (repo / "c.py").read_text() == "C = 1\n"
    assert (repo / "f.py").read_text() == "F = 1\n"
    assert not (repo / "pkg").exists()
    assert not (repo / "e.txt").exists()
    assert git_state(repo) == before
    assert run_tool("diff", {}, ws).text.startswith("No changes")


def test_snapshot_persists_between_workspace_instances(repo):
    first = Workspace(repo)
    first.snapshot()
    assert run_tool("edit", {"path": "app.py", "old": "return 1", "new": "return 2"}, first).ok
    second = Workspace(repo)  # e.g. a later `plt-agent tool run diff`
    assert second.changed_files() == ["app.py"]
    assert run_tool("undo", {}, second).ok
    assert (repo / "app.py").read_text() == "def main():\n    return 1\n"
    assert Workspace(repo).changed_files() == []


def test_undo_leaves_files_someone_else_changed_later(ws):
    assert run_tool("edit", {"path": "app.py", "old": "return 1", "new": "return 2"}, ws).ok
    (ws.root / "app.py").write_text("def main():\n    return 'user'\n")  # changed outside the tools
    obs = run_tool("undo", {}, ws)
    assert not obs.ok
    assert "app.py" in obs.data["skipped"]
    assert (ws.root / "app.py").read_text() == "def main():\n    return 'user'\n"
    report = ws.restore_all(force=True)
    assert report.restored == ["app.py"]
    assert (ws.root / "app.py").read_text() == "def main():\n    return 1\n"


def test_a_new_snapshot_forgets_earlier_changes(ws):
    assert run_tool("edit", {"path": "app.py", "old": "return 1", "new": "return 2"}, ws).ok
    ws.snapshot()
    assert ws.changed_files() == []
    assert run_tool("undo", {}, ws).text.startswith("Nothing to undo")
    assert (ws.root / "app.py").read_text() == "def main():\n    return 2\n"


def test_changes_reverted_by_hand_are_not_reported(ws):
    assert run_tool("edit", {"path": "app.py", "old": "return 1", "new": "return 2"}, ws).ok
    assert run_tool("edit", {"path": "app.py", "old": "return 2", "new": "return 1"}, ws).ok
    assert ws.changed_files() == []
    assert ws.diff() == ""


def test_without_git(tmp_path):
    root = tmp_path / "plain"
    (root / "src").mkdir(parents=True)
    (root / "src" / "m.py").write_text("M = 1\n")
    ws = Workspace(root, use_git=False, state=tmp_path / "state")
    ws.snapshot()
    assert ws.files() == ["src/m.py"]
    assert run_tool("edit", {"path": "src/m.py", "old": "M = 1", "new": "M = 2"}, ws).ok
    assert run_tool("bash", {"command": "echo x > src/new.txt"}, ws).ok
    assert ws.changed_files() == ["src/m.py", "src/new.txt"]
    ws.restore_all()
    assert (root / "src" / "m.py").read_text() == "M = 1\n"
    assert sorted(p.name for p in (root / "src").iterdir()) == ["m.py"]
    assert not (root / ".git").exists()


def test_a_workspace_in_a_subfolder_keeps_its_own_journal(tmp_path):
    repo = make_repo(tmp_path / "r", {"top.py": "T = 1\n", "sub/inner.py": "I = 1\n"})
    whole, sub = Workspace(repo), Workspace(repo / "sub")
    whole.snapshot()
    sub.snapshot()
    assert sub.files() == ["inner.py"]
    assert run_tool("edit", {"path": "top.py", "old": "T = 1", "new": "T = 2"}, whole).ok
    assert run_tool("edit", {"path": "inner.py", "old": "I = 1", "new": "I = 2"}, sub).ok
    assert Workspace(repo).changed_files() == ["top.py"]
    assert Workspace(repo / "sub").changed_files() == ["inner.py"]
    Workspace(repo / "sub").restore_all()
    assert (repo / "sub" / "inner.py").read_text() == "I = 1\n"
    assert (repo / "top.py").read_text() == "T = 2\n"

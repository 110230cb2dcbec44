"""Unified-diff parsing and application, on diffs written by git itself."""

import subprocess

import pytest
from eval_helpers import diff_between, git, write_tree

from plt_agent.eval.errors import EvalError
from plt_agent.eval.patches import git_apply, parse_patch, touched_files


def test_modified_new_deleted_files(tmp_path):
    before = {"a.py": "x = 1\ny = 2\n", "old.py": "gone = True\n"}
    after = {"a.py": "x = 1\ny = 3\n", "new.py": "fresh = 1\nmore = 2\n"}
    files = {fp.path: fp for fp in parse_patch(diff_between(tmp_path, before, after))}
    assert set(files) == {"a.py", "new.py", "old.py"}
    assert files["new.py"].new_file
    assert files["new.py"].old_path is None
    assert files["new.py"].hunks[0].new_text == "fresh = 1\nmore = 2\n"
    assert files["old.py"].deleted
    hunk = files["a.py"].hunks[0]
    assert (hunk.old_text, hunk.new_text) == ("x = 1\ny = 2\n", "x = 1\ny = 3\n")


def test_two_hunks_with_context(tmp_path):
    lines = [f"line{i}\n" for i in range(30)]
    changed = list(lines)
    changed[2] = "LINE2\n"
    changed[25] = "LINE25\n"
    patch = diff_between(tmp_path, {"f.txt": "".join(lines)}, {"f.txt": "".join(changed)})
    hunks = parse_patch(patch)[0].hunks
    assert len(hunks) == 2
    assert "line2\n" in hunks[0].old_lines
    assert "LINE2\n" in hunks[0].new_lines
    assert hunks[1].old_start == 23  # three lines of context before line 26 (1-based)


def test_no_newline_at_end_of_file(tmp_path):
    patch = diff_between(tmp_path, {"f.py": "a = 1\nb = 2"}, {"f.py": "a = 1\nb = 3"})
    assert "\\ No newline at end of file" in patch
    hunk = parse_patch(patch)[0].hunks[0]
    assert hunk.old_text == "a = 1\nb = 2"
    assert hunk.new_text == "a = 1\nb = 3"


def test_rename_is_recognised(tmp_path):
    body = "".join(f"v{i} = {i}\n" for i in range(20))
    patch = diff_between(tmp_path, {"pkg/a.py": body}, {"pkg/b.py": body})
    fp = parse_patch(patch)[0]
    assert fp.renamed
    assert (fp.old_path, fp.path) == ("pkg/a.py", "pkg/b.py")
    assert touched_files(patch) == ["pkg/a.py", "pkg/b.py"]


def test_plain_diff_u_output(tmp_path):
    (tmp_path / "a").write_text("one\ntwo\n")
    (tmp_path / "b").write_text("one\n2\n")
    proc = subprocess.run(["diff", "-u", "a", "b"], cwd=tmp_path, capture_output=True, text=True)
    fp = parse_patch(proc.stdout)[0]
    assert fp.path == "b"
    assert fp.hunks[0].new_text == "one\n2\n"


def test_truncated_hunk_is_an_error():
    with pytest.raises(EvalError, match="truncated hunk"):
        parse_patch("--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n")


def test_git_apply_reports_conflicts(tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    write_tree(repo, {"f.py": "a = 1\n"})
    git(repo, "init", "-q")
    good = diff_between(tmp_path, {"f.py": "a = 1\n"}, {"f.py": "a = 2\n"})
    bad = diff_between(tmp_path, {"f.py": "zzz = 9\n"}, {"f.py": "zzz = 10\n"})
    assert git_apply(repo, bad)[0] is False
    assert (repo / "f.py").read_text() == "a = 1\n"
    assert git_apply(repo, good, check_only=True)[0] is True
    assert (repo / "f.py").read_text() == "a = 1\n"
    assert git_apply(repo, good)[0] is True
    assert (repo / "f.py").read_text() == "a = 2\n"
    ok, message = git_apply(repo, good)  # already applied: git refuses and says why
    assert not ok
    assert "does not apply" in message

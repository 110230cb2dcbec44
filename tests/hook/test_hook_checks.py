"""Deterministic checks on staged content: line numbers, what blocks, index vs work tree."""

from __future__ import annotations

from pathlib import Path

from hook_helpers import git

from plt_agent.hook.checks import added_lines, check_added_lines, run_checks
from tools import git as g


def _stage(repo: Path, name: str, text: str) -> None:
    (repo / name).write_text(text)
    git(repo, "add", name)


def _checks(repo: Path, max_bytes: int = 5_000_000):
    return run_checks(repo, g.staged_diff(repo), g.staged_files(repo), max_bytes)


def test_added_lines_report_new_file_line_numbers(repo):
    old = [f"line {i}" for i in range(1, 31)]
    new = list(old)
    new.insert(3, "ADDED one")
    new[20] = "ADDED changed"
    new.append("++ ADDED looks like a header")
    _stage(repo, "long.txt", "\n".join(old) + "\n")
    git(repo, "commit", "-q", "-m", "long")
    _stage(repo, "long.txt", "\n".join(new) + "\n")

    got = [(p, n, t) for p, n, t in added_lines(g.staged_diff(repo))]

    expected = [("long.txt", i + 1, t) for i, t in enumerate(new) if t.startswith(("ADDED", "++ ADDED"))]
    assert got == expected


def test_conflict_markers_and_keys_block_but_a_lone_rule_line_does_not(repo):
    _stage(repo, "doc.rst", "Title\n=======\n\ntext\n")
    _stage(repo, "merge.txt", "a\n<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> topic\n")
    _stage(repo, "key.pem", "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n")

    found = {(f.path, f.line, f.severity) for f in _checks(repo)}

    assert found == {
        ("merge.txt", 2, "blocker"),
        ("merge.txt", 4, "blocker"),
        ("merge.txt", 6, "blocker"),
        ("key.pem", 1, "blocker"),
    }


def test_syntax_is_checked_on_the_staged_blob_not_the_work_tree(repo):
    _stage(repo, "broken.py", "x = 1\ny = 2\ndef f(:\n    pass\n")
    (repo / "broken.py").write_text("x = 1\n")  # fixed in the work tree, but not staged
    _stage(repo, "fine.py", "z = 3\n")
    (repo / "fine.py").write_text("z = (\n")  # broken in the work tree only
    _stage(repo, "data.json", '{"a": 1,\n "b": }\n')

    found = {(f.path, f.line) for f in _checks(repo)}

    assert found == {("broken.py", 3), ("data.json", 2)}


def test_size_limit_uses_the_staged_size(repo):
    _stage(repo, "big.bin", "x" * 2048)
    _stage(repo, "small.txt", "x" * 10)

    found = _checks(repo, max_bytes=1024)

    assert [(f.path, f.severity) for f in found] == [("big.bin", "blocker")]
    assert "2.0 KB" in found[0].message


def test_deleted_and_clean_files_give_no_findings(repo):
    git(repo, "rm", "-q", "app.py")
    _stage(repo, "ok.py", "print('hi')\n")

    assert _checks(repo) == []
    assert [f.path for f in _checks(repo, max_bytes=0)] == ["ok.py"]  # the deletion has no size


def test_conflict_marker_already_committed_is_not_reported_again(repo):
    _stage(repo, "notes.txt", "<<<<<<< old\n")
    git(repo, "commit", "-q", "-m", "oops")
    _stage(repo, "notes.txt", "<<<<<<< old\nnew line\n")

    assert check_added_lines(g.staged_diff(repo)) == []

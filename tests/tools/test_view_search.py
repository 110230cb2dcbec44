"""view, search and find: windows, listings, counts, limits and .gitignore."""

from __future__ import annotations

import pytest
from toolrepos import make_repo

from tools.registry import run_tool
from tools.search import MAX_FILES
from tools.workspace import Workspace


@pytest.fixture
def tree(tmp_path):
    files = {
        "big.py": "".join(f"line_{n} = {n}\n" for n in range(1, 251)),
        "src/app/main.py": "import os\nTOKEN = 'needle'\n",
        "src/app/util.py": "def helper():\n    return 'needle needle'\n",
        "src/lib/deep/x.py": "pass\n",
        "docs/readme.md": "A needle in docs.\n",
        ".gitignore": "build/\n*.log\n",
    }
    root = make_repo(tmp_path / "tree", files)
    (root / "build").mkdir()
    (root / "build" / "out.py").write_text("needle = 1\n")
    (root / "debug.log").write_text("needle\n")
    (root / "untracked.py").write_text("needle = 'untracked but not ignored'\n")
    return Workspace(root)


def test_view_first_window(tree):
    obs = run_tool("view", {"path": "big.py"}, tree)
    lines = obs.text.splitlines()
    assert lines[0] == "[File: big.py (250 lines total)]"
    assert lines[1] == "  1: line_1 = 1"
    assert lines[100] == "100: line_100 = 100"
    assert lines[-1] == "(150 more lines below)"


def test_view_middle_window(tree):
    obs = run_tool("view", {"path": "big.py", "start": 120, "end": 125}, tree)
    lines = obs.text.splitlines()
    assert lines[1] == "(119 more lines above)"
    assert lines[2] == "120: line_120 = 120"
    assert lines[-2] == "125: line_125 = 125"
    assert lines[-1] == "(125 more lines below)"


def test_view_past_the_end_is_an_error(tree):
    obs = run_tool("view", {"path": "big.py", "start": 999}, tree)
    assert not obs.ok
    assert "250 lines" in obs.text


def test_view_clips_very_long_lines(tree):
    (tree.root / "min.js").write_text("var a=" + "1+" * 5000 + "1;\n")
    obs = run_tool("view", {"path": "min.js"}, tree)
    assert len(obs.text) < 1000
    assert "more characters]" in obs.text


def test_view_directory_lists_two_levels_without_ignored_files(tree):
    obs = run_tool("view", {"path": "."}, tree)
    body = obs.text.splitlines()[1:]
    assert body[:3] == ["docs/", "  readme.md", "src/"]
    assert "  app/" in body
    assert "  lib/" in body
    assert "main.py" not in obs.text  # third level
    assert "build" not in obs.text
    assert "debug.log" not in obs.text
    assert "untracked.py" in body


def test_search_lists_files_with_counts_then_hits(tree):
    obs = run_tool("search", {"pattern": "needle"}, tree)
    assert obs.data["files"] == {
        "docs/readme.md": 1,
        "src/app/main.py": 1,
        "src/app/util.py": 1,
        "untracked.py": 1,
    }
    assert "4 matches in 4 files:" in obs.text
    assert "src/app/main.py:2: TOKEN = 'needle'" in obs.text


def test_search_within_a_path_and_with_regex(tree):
    obs = run_tool("search", {"pattern": "needle", "path": "src/app"}, tree)
    assert set(obs.data["files"]) == {"src/app/main.py", "src/app/util.py"}
    obs = run_tool("search", {"pattern": r"line_1\d\b", "regex": True}, tree)
    assert obs.data["total"] == 10
    literal = run_tool("search", {"pattern": r"line_1\d\b"}, tree)
    assert literal.data["total"] == 0


def test_search_over_many_files_lists_counts_only(tmp_path):
    files = {f"m{n:02}.py": "shared = 1\nshared += 1\n" for n in range(30)}
    ws = Workspace(make_repo(tmp_path / "many", files))
    obs = run_tool("search", {"pattern": "shared"}, ws)
    assert obs.ok
    assert "60 matches in 30 files:" in obs.text
    assert "  m29.py (2)" in obs.text
    assert "m00.py:1:" not in obs.text


def test_search_bad_regex_says_so(tree):
    obs = run_tool("search", {"pattern": "foo(", "regex": True}, tree)
    assert not obs.ok
    assert "invalid regular expression" in obs.text


def test_search_refuses_too_many_files(tmp_path):
    files = {f"m{n:03}.py": "common = 1\n" for n in range(MAX_FILES + 1)}
    ws = Workspace(make_repo(tmp_path / "many", files))
    obs = run_tool("search", {"pattern": "common"}, ws)
    assert not obs.ok
    assert "too many" in obs.text
    assert "m000.py" not in obs.text


def test_search_skips_binary_files(tree):
    (tree.root / "data.bin").write_bytes(b"\x00needle\x00")
    assert "data.bin" not in run_tool("search", {"pattern": "needle"}, tree).data["files"]


@pytest.mark.parametrize(
    ("glob", "expected"),
    [
        ("*.py", ["big.py", "src/app/main.py", "src/app/util.py", "src/lib/deep/x.py", "untracked.py"]),
        ("src/*/*.py", ["src/app/main.py", "src/app/util.py"]),
        ("src/**/x.py", ["src/lib/deep/x.py"]),
        ("deep", ["src/lib/deep/"]),
        ("*.log", []),
    ],
)
def test_find_globs(tree, glob, expected):
    obs = run_tool("find", {"glob": glob}, tree)
    assert obs.ok
    assert obs.data["matches"] == expected

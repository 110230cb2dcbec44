"""The edit ladder: each rung as a pure function, then the edit/write/insert tools on real files."""

from __future__ import annotations

import pytest

from tools.matching import closest_lines, locate
from tools.registry import run_tool

# (case, content, old, new, expected rung, expected content after the edit)
LADDER = [
    ("exact", "a = 1\nb = 2\n", "b = 2", "b = 3", "exact", "a = 1\nb = 3\n"),
    (
        "file has trailing blanks",
        "def f():\n    return 1   \n",
        "def f():\n    return 1\n",
        "def f():\n    return 2\n",
        "trailing whitespace ignored",
        "def f():\n    return 2\n",
    ),
    (
        "old has trailing blanks",
        "x = 1\ny = 2\n",
        "x = 1  \ny = 2\t\n",
        "x = 10\ny = 20\n",
        "trailing whitespace ignored",
        "x = 10\ny = 20\n",
    ),
    (
        "old under-indented",
        "class A:\n    def f(self):\n        return 1\n",
        "def f(self):\n    return 1",
        "def f(self):\n    return 2",
        "re-indented",
        "class A:\n    def f(self):\n        return 2\n",
    ),
    (
        "old over-indented",
        "def f():\n    return 1\n",
        "        def f():\n            return 1\n",
        "        def f():\n            return 3\n",
        "re-indented",
        "def f():\n    return 3\n",
    ),
    (
        "tab-indented file",
        "def f():\n\tif x:\n\t\treturn 1\n",
        "if x:\n\treturn 1",
        "if x:\n\treturn 2",
        "re-indented",
        "def f():\n\tif x:\n\t\treturn 2\n",
    ),
    (
        "curly apostrophe in old",
        'msg = "it\'s done"\n',
        'msg = "it\u2019s done"',
        'msg = "it is done"',
        "Unicode punctuation normalised",
        'msg = "it is done"\n',
    ),
    (
        "em dash and nbsp in old",
        "# a - b\nx = 1\n",
        "# a \u2014 b\nx\u00a0= 1",
        "# a minus b\nx = 2",
        "Unicode punctuation normalised",
        "# a minus b\nx = 2\n",
    ),
    ("delete whole line", "a\nb\nc\n", "b\n", "", "exact", "a\nc\n"),
    ("delete line with drift", "a\nb\nc\n", "b  \n", "", "trailing whitespace ignored", "a\nc\n"),
    (
        "spurious leading blank line",
        "def f():\n    return 1\n",
        "\ndef f():\n    return 1\n",
        "\ndef f():\n    return 5\n",
        "trailing whitespace ignored",
        "def f():\n    return 5\n",
    ),
]


@pytest.mark.parametrize(
    ("case", "content", "old", "new", "rung", "expected"), LADDER, ids=[c[0] for c in LADDER]
)
def test_ladder_rung_and_result(case, content, old, new, rung, expected):
    found_rung, spans = locate(content, old, new)
    assert found_rung == rung
    assert len(spans) == 1
    span = spans[0]
    assert content[: span.start] + span.replacement + content[span.end :] == expected


@pytest.mark.parametrize(
    ("content", "old"),
    [
        ("x = 1\ny = 2\nx = 1\n", "x = 1"),
        ("    a()\nb()\n  a()\n", "a()\n"),
        ("f(\u201cq\u201d)\nf(\u201cq\u201d)\n", 'f("q")'),
    ],
)
def test_ladder_reports_every_match_when_ambiguous(content, old):
    _, spans = locate(content, old, "z")
    assert len(spans) == 2


def test_ladder_gives_up_rather_than_guessing():
    assert locate("def f():\n    return 1\n", "def g():\n    return 1\n", "x") == ("", [])
    # mixed tabs and spaces are not one uniform indent shift
    assert locate("\tif x:\n\t\ty()\n", "    if x:\n        y()\n", "z") == ("", [])


def test_closest_lines_points_at_the_real_text():
    content = "import os\n\n\ndef load(path):\n    with open(path) as fh:\n        return fh.read()\n"
    first, lines = closest_lines(content, "def load(p):\n    with open(p) as f:\n")
    assert first == 4
    assert lines == ["def load(path):", "    with open(path) as fh:"]


# ---- the edit tool on files ---------------------------------------------------------------


def edit(ws, path, old, new):
    return run_tool("edit", {"path": path, "old": old, "new": new}, ws)


def test_edit_keeps_crlf_line_endings(ws):
    (ws.root / "win.py").write_bytes(b"a = 1\r\nb = 2\r\n")
    obs = edit(ws, "win.py", "b = 2", "b = 3\nc = 4")
    assert obs.ok, obs.text
    assert (ws.root / "win.py").read_bytes() == b"a = 1\r\nb = 3\r\nc = 4\r\n"


def test_edit_keeps_tabs_and_reports_the_rung(ws):
    (ws.root / "tabs.py").write_text("def f(x):\n\tif x:\n\t\treturn 1\n\treturn 0\n")
    obs = edit(ws, "tabs.py", "if x:\n    return 1", "if x:\n    return 2")
    assert not obs.ok  # four spaces are not a tab: refused, with the real lines shown
    assert "\t\treturn 1" in obs.text or "return 1" in obs.text
    obs = edit(ws, "tabs.py", "if x:\n\treturn 1", "if x:\n\treturn 2")
    assert obs.ok, obs.text
    assert obs.data["rung"] == "re-indented"
    assert (ws.root / "tabs.py").read_text() == "def f(x):\n\tif x:\n\t\treturn 2\n\treturn 0\n"


def test_edit_refuses_ambiguous_old_and_lists_the_lines(ws):
    original = "x = 1\nprint(x)\nx = 1\n"
    (ws.root / "dup.py").write_text(original)
    obs = edit(ws, "dup.py", "x = 1", "x = 2")
    assert not obs.ok
    assert "2 times" in obs.text
    assert "lines 1, 3" in obs.text
    assert (ws.root / "dup.py").read_text() == original


def test_edit_says_already_applied(ws):
    (ws.root / "done.py").write_text("value = 42\n")
    obs = edit(ws, "done.py", "value = 41", "value = 42")
    assert obs.ok
    assert "Already applied" in obs.text
    assert obs.data["already_applied"] is True
    assert (ws.root / "done.py").read_text() == "value = 42\n"
    assert ws.changed_files() == []


@pytest.mark.parametrize("old", ["", "  \n "])
def test_edit_refuses_empty_old(ws, old):
    obs = edit(ws, "app.py", old, "x = 1\n")
    assert not obs.ok
    assert "empty" in obs.text
    assert (ws.root / "app.py").read_text() == "def main():\n    return 1\n"


def test_edit_without_match_shows_the_closest_real_lines(ws):
    obs = edit(ws, "app.py", "def main(argv):\n    return 1", "def main(argv):\n    return 0")
    assert not obs.ok
    assert "1: def main():" in obs.text
    assert "2:     return 1" in obs.text


def test_edit_that_breaks_python_is_rejected_and_shown(ws):
    obs = edit(ws, "app.py", "    return 1", "    return (1")
    assert not obs.ok
    assert obs.data["syntax_error"]
    assert "SyntaxError" in obs.text
    assert "return (1" in obs.text
    assert (ws.root / "app.py").read_text() == "def main():\n    return 1\n"
    assert ws.changed_files() == []


def test_edit_that_breaks_javascript_is_rejected(ws):
    source = "function area(r) {\n  return Math.PI * r * r;\n}\n"
    (ws.root / "geo.js").write_text(source)
    obs = edit(ws, "geo.js", "  return Math.PI * r * r;\n}", "  return Math.PI * r * r;\n")
    assert not obs.ok
    assert "javascript syntax error" in obs.text
    assert (ws.root / "geo.js").read_text() == source
    good = edit(ws, "geo.js", "Math.PI * r * r", "Math.PI * r ** 2")
    assert good.ok, good.text


def test_edit_of_a_file_that_was_already_broken_is_not_gated(ws):
    (ws.root / "broken.py").write_text("def f(:\n    return 1\n")
    obs = edit(ws, "broken.py", "return 1", "return 2")
    assert obs.ok, obs.text


def test_edit_success_shows_the_edited_window(ws):
    obs = edit(ws, "app.py", "return 1", "return 2")
    assert obs.ok
    assert "2:     return 2" in obs.text
    assert (ws.root / "app.py").read_text() == "def main():\n    return 2\n"


# ---- write and insert ---------------------------------------------------------------------


def test_write_creates_and_replaces_with_the_gate(ws):
    obs = run_tool("write", {"path": "pkg/new.py", "content": "X = 1\n"}, ws)
    assert obs.ok
    assert obs.data["created"]
    assert (ws.root / "pkg/new.py").read_text() == "X = 1\n"
    bad = run_tool("write", {"path": "pkg/new.py", "content": "X = (\n"}, ws)
    assert not bad.ok
    assert "SyntaxError" in bad.text
    assert (ws.root / "pkg/new.py").read_text() == "X = 1\n"


def test_write_keeps_crlf_of_an_existing_file(ws):
    (ws.root / "w.txt").write_bytes(b"one\r\ntwo\r\n")
    assert run_tool("write", {"path": "w.txt", "content": "uno\ndos\n"}, ws).ok
    assert (ws.root / "w.txt").read_bytes() == b"uno\r\ndos\r\n"


@pytest.mark.parametrize(
    ("line", "expected"),
    [(0, "# top\na\nb\n"), (1, "a\n# top\nb\n"), (2, "a\nb\n# top\n")],
)
def test_insert_after_line(ws, line, expected):
    (ws.root / "i.py").write_text("a\nb\n")
    obs = run_tool("insert", {"path": "i.py", "line": line, "text": "# top"}, ws)
    assert obs.ok, obs.text
    assert (ws.root / "i.py").read_text() == expected


def test_insert_out_of_range_and_syntax_gate(ws):
    assert not run_tool("insert", {"path": "app.py", "line": 9, "text": "x = 1"}, ws).ok
    obs = run_tool("insert", {"path": "app.py", "line": 1, "text": "    if True"}, ws)
    assert not obs.ok
    assert "SyntaxError" in obs.text
    assert (ws.root / "app.py").read_text() == "def main():\n    return 1\n"

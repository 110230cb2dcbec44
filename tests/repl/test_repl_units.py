"""Small pieces of the chat: hiding tool-call markup while streaming, command lookup, scripting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from repl_helpers import CALC, edit_reply, write_replies

from plt_agent.repl.commands import COMMANDS, find_command
from plt_agent.repl.turn import ProseFilter, describe_action


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 1000])
def test_prose_filter_stops_at_tool_markup_whatever_the_chunking(size):
    prose = "I will look at the file <b>now</b> < soon.\n"
    text = prose + "<function=view>\n<parameter=path>a.py</parameter>\n</function>"
    prose_filter = ProseFilter()

    shown = "".join(prose_filter.feed(text[i : i + size]) for i in range(0, len(text), size))
    shown += prose_filter.flush()

    assert shown == prose


def test_prose_filter_passes_text_without_markup_including_a_trailing_angle_bracket():
    prose_filter = ProseFilter()

    shown = prose_filter.feed("a < b and b <") + prose_filter.feed("") + prose_filter.flush()

    assert shown == "a < b and b <"


def test_describe_action_names_the_tool_and_its_main_argument():
    assert describe_action("edit", {"path": "src/a.py", "old": "x", "new": "y"}) == "-> edit src/a.py"
    assert describe_action("bash", {"command": "ls -la\nrm -rf /"}) == "-> bash ls -la"
    assert describe_action("diff", {}) == "-> diff"


def test_find_command_exact_alias_prefix_and_ambiguity():
    assert find_command("/exit") is COMMANDS["/exit"]
    assert find_command("/quit") is COMMANDS["/exit"]
    assert find_command("/to") is COMMANDS["/tokens"]
    assert sorted(find_command("/d")) == ["/diff", "/drop"]
    assert find_command("/zzz") == []


@pytest.mark.slow
def test_piped_stdin_works_for_scripting(repo, tmp_path, hermetic_env):
    spec = write_replies(
        tmp_path / "r.jsonl", edit_reply("calc.py", "    return a - b", "    return a + b"), "Done."
    )
    plt_agent = Path(sys.executable).with_name("plt-agent")
    script = "/add calc.py\nplease fix add\n/diff\n"

    done = subprocess.run(
        [str(plt_agent), "chat", str(repo), "--model", spec],
        input=script,
        capture_output=True,
        text=True,
        env=hermetic_env,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert "added calc.py to the chat" in done.stdout
    assert "-> edit calc.py" in done.stdout
    assert "+    return a + b" in done.stdout
    assert "\x1b[" not in done.stdout  # no terminal escapes when stdout is not a terminal
    assert (repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")

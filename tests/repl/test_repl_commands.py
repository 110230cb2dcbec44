"""The chat driven in-process through a plain (non-terminal) Terminal with the scripted backend."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from repl_helpers import CALC, edit_reply, write_replies
from rich.console import Console

from plt_agent.commands.common import load_model_for
from plt_agent.config import load_config
from plt_agent.repl.app import Repl, open_session
from plt_agent.repl.terminal import Terminal


class Chat:
    """A session fed from a list of lines; `out` holds everything it printed."""

    def __init__(self, repo: Path, spec: str, yes: bool = False):
        self.buffer = io.StringIO()
        self.lines: list[str] = []
        console = Console(file=self.buffer, width=200, soft_wrap=True, highlight=False, color_system=None)
        self.terminal = Terminal(console, self._read, interactive=False)
        config = load_config(repo, {"model": spec})
        self.session = open_session(repo, config, load_model_for, self.terminal, yes=yes)
        self.repl = Repl(self.session, self.terminal)

    def _read(self) -> str:
        if not self.lines:
            raise EOFError
        return self.lines.pop(0)

    def run(self, *lines: str) -> str:
        """Feed `lines`, run until they are used up; what was printed meanwhile."""
        start = len(self.buffer.getvalue())
        self.lines = list(lines)
        self.repl.running = True
        self.repl.loop()
        return self.buffer.getvalue()[start:]


@pytest.fixture
def chat_factory(repo, tmp_path):
    def make(*replies: str, yes: bool = False) -> Chat:
        return Chat(repo, write_replies(tmp_path / "replies.jsonl", *replies), yes=yes)

    return make


def test_add_files_then_a_message_sends_them_and_streams_the_answer(chat_factory, repo):
    chat = chat_factory("add() subtracts: it returns a - b.")

    out = chat.run("/add calc.py", "/files", "what is wrong with add?")

    assert "added calc.py to the chat" in out
    assert "calc.py  (goes with your next message)" in out
    assert "add() subtracts: it returns a - b." in out
    user = [m for m in chat.session.agent.messages if m["role"] == "user"][0]["content"]
    assert CALC in user
    assert user.rstrip().endswith("what is wrong with add?")
    assert "the model has its current contents" in chat.run("/files")


def test_edit_shows_a_diff_and_diff_and_undo_work_on_the_tree(chat_factory, repo):
    chat = chat_factory(edit_reply("calc.py", "    return a - b", "    return a + b"), "Done: add now adds.")

    out = chat.run("fix add in calc.py")

    assert "-> edit calc.py" in out
    assert "-    return a - b\n+    return a + b" in out
    assert "Done: add now adds." in out
    assert "<function=edit>" not in out  # tool-call markup is not shown as prose
    assert (repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")

    diff = chat.run("/diff")
    assert "--- a/calc.py" in diff
    assert "+    return a + b" in diff

    undo = chat.run("/undo")
    assert "Restored: calc.py" in undo
    assert (repo / "calc.py").read_text() == CALC
    assert "no changes since the chat started" in chat.run("/diff")


def test_a_changed_chat_file_is_sent_again_with_the_next_message(chat_factory, repo):
    chat = chat_factory("first", "second", "third")
    chat.run("/add calc.py", "one")
    chat.run("two")
    (repo / "calc.py").write_text("def add(a, b):\n    return b + a\n")
    chat.run("three")

    users = [m["content"] for m in chat.session.agent.messages if m["role"] == "user"]
    assert [("return a - b" in u, "return b + a" in u) for u in users] == [
        (True, False),
        (False, False),
        (False, True),
    ]


def test_drop_and_bad_paths(chat_factory, repo, tmp_path):
    (tmp_path / "outside.txt").write_text("secret\n")
    chat = chat_factory()

    out = chat.run(
        "/add calc.py test_calc.py", "/drop calc.py", "/files", "/add nope.py", "/add ../outside.txt"
    )

    assert "dropped calc.py" in out
    assert "  test_calc.py  (" in out
    assert "  calc.py  (" not in out
    assert "no file matches nope.py" in out
    assert "path ../outside.txt is outside the repository" in out
    assert chat.session.files == ["test_calc.py"]


def test_run_output_goes_with_the_next_message(chat_factory):
    chat = chat_factory("noted")

    out = chat.run("/run echo marker-$((40 + 2))", "what did it print?")

    assert "marker-42" in out
    assert "the output goes with your next message" in out
    user = [m for m in chat.session.agent.messages if m["role"] == "user"][-1]["content"]
    assert "marker-42" in user
    assert user.rstrip().endswith("what did it print?")


def test_failing_tests_are_offered_to_the_model(chat_factory):
    chat = chat_factory("I see the failure.")

    out = chat.run("/test")

    assert "1 failed" in out
    assert "goes with your next message" in out
    chat.run("fix it")
    user = [m for m in chat.session.agent.messages if m["role"] == "user"][-1]["content"]
    assert "test_add" in user


def test_tokens_parts_add_up_to_the_total(chat_factory):
    chat = chat_factory("ok")
    chat.run("/add calc.py", "hello")

    out = chat.run("/tokens")

    rows = [(int(n.replace(",", "")), label) for n, label in re.findall(r"^\s+([\d,]+)  (.+)$", out, re.M)]
    *parts, (total, total_label) = rows
    assert [label.split(" (")[0] for _, label in parts] == ["system prompt", "conversation"]
    assert total == sum(n for n, _ in parts)
    window = chat.session.model.context_window
    assert f"total of a {window:,}-token window ({100 * total / window:.0f}%)" in total_label


def test_model_show_switch_and_refuse_a_bad_spec(chat_factory, tmp_path):
    chat = chat_factory("one")
    other = write_replies(tmp_path / "other.jsonl", "from the other model")

    shown = chat.run("/model")
    bad = chat.run("/model scripted:/no/such.jsonl")
    switched = chat.run(f"/model {other}", "hi")

    assert f"model: scripted:{tmp_path / 'replies.jsonl'}" in shown
    assert "model not changed" in bad
    assert "/no/such.jsonl" in bad
    assert f"model: {other}" in switched
    assert "from the other model" in switched


def test_clear_forgets_the_conversation_but_keeps_files(chat_factory):
    chat = chat_factory("a", "b")
    chat.run("/add calc.py", "first")

    chat.run("/clear", "second")

    users = [m["content"] for m in chat.session.agent.messages if m["role"] == "user"]
    assert len(users) == 1
    assert "return a - b" in users[0]
    assert "first" not in users[0]


def test_unknown_and_abbreviated_commands(chat_factory):
    chat = chat_factory()

    out = chat.run("/frobnicate", "/he", "/exit", "/files")

    assert "unknown command /frobnicate" in out
    assert "/tokens" in out  # the help list
    assert "no files in the chat" not in out  # /exit stopped the loop before /files


def test_model_failure_is_reported_and_the_chat_goes_on(chat_factory):
    chat = chat_factory("only one reply")

    out = chat.run("first", "second", "/files")

    assert "only one reply" in out
    assert "the model failed" in out
    assert "ran out of replies" in out
    assert "no files in the chat" in out


def _bash(command: str) -> str:
    return f"<function=bash>\n<parameter=command>{command}</parameter>\n</function>"


def test_without_a_terminal_the_models_commands_are_refused_and_the_user_told_once(chat_factory, tmp_path):
    ran = tmp_path / "ran.txt"
    chat = chat_factory(_bash(f"echo 1 >> {ran}"), _bash(f"echo 2 >> {ran}"), "I could not run it.")

    out = chat.run("run something")

    assert not ran.exists()
    assert out.count("shell commands are refused") == 1
    assert "I could not run it." in out
    told = [m["content"] for m in chat.session.agent.messages if "no terminal to ask" in str(m["content"])]
    assert len(told) == 2  # the model is told why, each time


def test_with_yes_the_models_commands_run_without_a_terminal(chat_factory, tmp_path):
    ran = tmp_path / "ran.txt"
    chat = chat_factory(_bash(f"echo yes > {ran}"), "Done.", yes=True)

    out = chat.run("run something")

    assert ran.read_text() == "yes\n"
    assert "refused" not in out

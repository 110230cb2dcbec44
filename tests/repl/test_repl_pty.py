"""`plt-agent chat` in a pseudo-terminal: line editing mode, streaming, Ctrl-C and Ctrl-D."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest
from proc_helpers import alive_with
from repl_helpers import CALC, edit_reply, write_replies

pytestmark = pytest.mark.slow

LAUNCHER = Path(__file__).with_name("slow_scripted_chat.py")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|[\x08\r]")
LONG_STORY = "Once upon a time " + " ".join(f"word{i}" for i in range(2000)) + " THE-END"
WORD_DELAY = 0.03  # the story takes 60 s to tell: a stop that works is told apart by a wide margin


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text)


class Screen:
    """A chat in a pty; `wait_for` matches against the output with terminal escapes removed."""

    def __init__(self, repo: Path, spec: str, env: dict[str, str], delay: float = WORD_DELAY):
        env = {**env, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "PLT_TEST_WORD_DELAY": str(delay)}
        self.child = pexpect.spawn(
            sys.executable,
            [str(LAUNCHER), "chat", "--model", spec],
            cwd=str(repo),
            env=env,
            encoding="utf-8",
            timeout=30,
            dimensions=(40, 200),
        )
        self.text = ""

    def wait_for(self, needle: str, timeout: float = 30) -> str:
        """Read until `needle` appears in the cleaned output after what was already matched.

        Line breaks and runs of spaces compare as one space, so text the terminal wrapped matches.
        """
        deadline = time.monotonic() + timeout
        needle = _squeeze(needle)
        while True:
            position = _squeeze(self.text).find(needle)
            if position >= 0:
                seen = _squeeze(self.text)
                self.text = seen[position + len(needle) :]
                return seen[: position + len(needle)]
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not shown; screen so far:\n{self.text[-3000:]}")
            try:
                self.text += ANSI.sub("", self.child.read_nonblocking(4096, timeout=0.2))
            except pexpect.TIMEOUT:
                continue

    def line(self, text: str) -> None:
        time.sleep(0.2)  # let the prompt take the terminal before typing
        self.child.sendline(text)

    def key(self, control: str) -> None:
        time.sleep(0.4)  # a control key typed before the prompt is up would go to the wrong place
        self.child.sendcontrol(control)

    def finish(self) -> int:
        self.child.expect(pexpect.EOF, timeout=20)
        self.child.close()
        return self.child.exitstatus


def test_a_whole_session_in_a_terminal(repo, tmp_path, hermetic_env):
    spec = write_replies(
        tmp_path / "replies.jsonl",
        "The function `add` returns **a - b**, so it subtracts.",
        edit_reply("calc.py", "    return a - b", "    return a + b"),
        "Fixed: add now returns a + b.",
        LONG_STORY,
        "Still here after the interruption.",
        "<function=bash>\n<parameter=command>rm test_calc.py</parameter>\n</function>",
        "Not removing them then.",
    )
    screen = Screen(repo, spec, hermetic_env)
    screen.wait_for("Ctrl-D leaves")

    screen.line("/help")
    screen.wait_for("token use of the context against the model's window")
    screen.line("/files")
    screen.wait_for("no files in the chat")
    screen.line("/add calc.py")
    screen.wait_for("added calc.py to the chat")
    screen.line("what does add do?")
    screen.wait_for("so it subtracts.")
    screen.line("fix it")
    screen.wait_for("-> edit calc.py")
    screen.wait_for("Fixed: add now returns a + b.")
    assert (repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    screen.line("/diff")
    screen.wait_for("+    return a + b")
    screen.line("/undo")
    screen.wait_for("Restored: calc.py")
    assert (repo / "calc.py").read_text() == CALC

    screen.line("tell me a long story")
    screen.wait_for("Once upon a time")
    started = time.monotonic()
    screen.key("c")
    stopped = screen.wait_for("answer stopped")
    assert time.monotonic() - started < 25  # the rest of the story would take about 59 s
    assert "THE-END" not in stopped

    screen.line("are you still there?")
    screen.wait_for("Still here after the interruption.")
    screen.line("remove the tests")
    screen.wait_for("-> bash rm test_calc.py run it? [Y/n]")
    screen.line("n")
    screen.wait_for("Not removing them then.")
    assert (repo / "test_calc.py").exists()

    screen.key("c")  # at an empty prompt: a hint, not an exit
    screen.wait_for("to leave, type /exit or press Ctrl-D")
    screen.line("/exit")
    assert screen.finish() == 0

    history = Path(hermetic_env["PLT_AGENT_HOME"]) / "chat-history"
    assert "tell me a long story" in history.read_text()


def test_ctrl_d_leaves(repo, tmp_path, hermetic_env):
    screen = Screen(repo, write_replies(tmp_path / "r.jsonl", "unused"), hermetic_env)
    screen.wait_for("Ctrl-D leaves")

    screen.key("d")

    assert screen.finish() == 0


def test_a_slow_prompt_shows_a_live_progress_line_then_the_answer(repo, tmp_path, hermetic_env):
    env = {**hermetic_env, "PLT_TEST_PREFILL_S": "3"}
    screen = Screen(repo, write_replies(tmp_path / "r.jsonl", "Here is the answer."), env, delay=0.01)
    screen.wait_for("Ctrl-D leaves")

    screen.line("hello")
    screen.wait_for("the model reads the prompt", timeout=2.5)  # on screen while it reads
    seen = screen.wait_for("Here is the answer.")

    assert re.search(r"\d[\d,]*/[\d,]+ tokens", seen)  # how far along, of how many
    screen.line("/exit")
    assert screen.finish() == 0


def test_off_a_terminal_a_slow_prompt_prints_a_plain_progress_line(repo, tmp_path, hermetic_env):
    env = {**hermetic_env, "PLT_TEST_PREFILL_S": "7", "PLT_TEST_WORD_DELAY": "0"}
    spec = write_replies(tmp_path / "r.jsonl", "Here is the answer.")

    proc = subprocess.run(
        [sys.executable, str(LAUNCHER), "chat", "--model", spec],
        cwd=repo, env=env, input="hello\n/exit\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert proc.returncode == 0, proc.stderr
    progress = [
        line for line in proc.stdout.splitlines() if line.startswith("  ... the model reads the prompt")
    ]
    assert len(progress) == 1, proc.stdout  # after 5 s of silence; the next would come 10 s later
    assert re.search(r"\d[\d,]*/[\d,]+ tokens", progress[0])
    assert proc.stdout.index(progress[0]) < proc.stdout.index("Here is the answer.")


def test_tab_completes_commands_and_paths(repo, tmp_path, hermetic_env):
    (repo / "src").mkdir()
    (repo / "src" / "helpers.py").write_text("X = 1\n")
    screen = Screen(repo, write_replies(tmp_path / "r.jsonl", "unused"), hermetic_env)
    screen.wait_for("Ctrl-D leaves")

    def typed(*pieces: str) -> None:
        for piece in pieces:  # completion runs between keys: give it a moment after each Tab
            time.sleep(0.4)
            screen.child.send(piece)

    typed("/ad", "\t", " ca", "\t", "\r")  # one candidate each: /add, calc.py
    screen.wait_for("added calc.py to the chat")
    typed("/add s", "\t", "h", "\t", "\r")  # a folder, then a file in it
    screen.wait_for("added src/helpers.py to the chat")
    typed("/dr", "\t", " src", "\t", "\r")  # /drop offers the files in the chat
    screen.wait_for("dropped src/helpers.py")
    screen.line("/files")
    files = screen.wait_for("calc.py (goes with your next message)")
    assert "helpers" not in files

    screen.line("/exit")
    assert screen.finish() == 0


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_ctrl_c_ends_a_running_shell_command_at_once(repo, tmp_path, hermetic_env):
    started, late = tmp_path / "started", tmp_path / "late.txt"
    tag = f"60.{time.time_ns() % 10**9:09d}"
    command = f"echo go > {started}; setsid sleep {tag} & sleep {tag}; echo late > {late}"
    spec = write_replies(
        tmp_path / "r.jsonl",
        f"<function=bash>\n<parameter=command>{command}</parameter>\n</function>",
        "never sent: the answer was stopped",
    )
    screen = Screen(repo, spec, hermetic_env)
    screen.wait_for("Ctrl-D leaves")
    screen.line("run the slow thing")
    screen.wait_for("run it? [Y/n]")
    screen.line("y")
    deadline = time.monotonic() + 30
    while not started.exists():
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.05)

    screen.key("c")
    screen.wait_for("answer stopped", timeout=20)  # the command alone would take 60 s

    assert alive_with(tag) == []
    assert not late.exists()
    screen.line("/exit")
    assert screen.finish() == 0

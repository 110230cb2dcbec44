"""Error lines and progress lines print user-controlled text literally (issue 10): rich markup
such as `[/bold]` is not interpreted (it crashed the error handler with a MarkupError),
terminal control characters are escaped, and a message stays one bounded line."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from typer.testing import CliRunner

from plt_agent.cli import app
from plt_agent.display import literal, printable


def _error_line(*argv: str) -> str:
    result = CliRunner().invoke(app, list(argv))
    assert result.exit_code == 2, result.output  # a missing file or repository: bad usage
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    line = result.output.strip()
    assert "\n" not in line
    return line


@pytest.mark.parametrize("name", ["[/bold]x.gguf", "[bold red]y[/].gguf", "a[/]b\\[/x].gguf"])
def test_markup_in_a_file_name_prints_literally(tmp_path, name):
    path = tmp_path / "d" / name
    line = _error_line("logits", str(path), "--ids", "1", "-o", str(tmp_path / "o.npy"))
    assert line == f"error: {path}: no such model file"


def test_control_characters_in_a_message_are_escaped(tmp_path):
    path = tmp_path / "\x1b[2Jclear\u202eevil\nname.gguf"
    line = _error_line("logits", str(path), "--ids", "1", "-o", str(tmp_path / "o.npy"))
    assert "\x1b" not in line
    assert "\u202e" not in line
    assert "\\x1b[2Jclear\\u202eevil\\nname.gguf" in line


def test_a_huge_message_is_one_bounded_line(tmp_path):
    path = tmp_path / ("x" * 250) / ("y" * 250) / ("z" * 250) / ("w" * 250)
    line = _error_line("logits", str(path), "--ids", "1", "-o", str(tmp_path / "o.npy"))
    assert len(line) < 1000
    assert "characters cut" in line
    assert line.endswith(": no such model file")


def test_tool_errors_at_the_cli_print_literally(tmp_path):
    repo = tmp_path / "[/bold]\x1b[2J"
    line = _error_line("tool", "run", "view", "--repo", str(repo), "--args", "{}")
    assert line.startswith("error: the repository root ")
    assert "[/bold]\\x1b[2J" in line


def test_literal_and_printable():
    assert literal("[/bold] a") == "\\[/bold] a"
    assert printable("a\x1b[31mb\x07\r\n\t\udcff") == "a\\x1b[31mb\\x07\\r\\n\\t\\udcff"
    assert printable("a\nb\tc", lines=True) == "a\nb\tc"
    assert len(printable("x" * 100_000)) < 1000


def test_progress_lines_print_model_text_literally():
    from plt_agent.agent.actions import Action
    from plt_agent.agent.progress import ConsoleEvents
    from tools.base import Observation

    buf = io.StringIO()
    events = ConsoleEvents(Console(file=buf, width=200), show_replies=True)
    action = Action(name="view", arguments={"path": "[/bold]\x1b[2J.py"})
    events.action(action)
    events.observation(action, Observation("[/red] failed \x1b]0;title\x07", ok=False))
    events.note("[/]\x1b[31m note")
    text = buf.getvalue()
    assert "\x1b" not in text
    assert "[/bold]" in text
    assert "[/red] failed" in text

"""`generate --chat` wraps the prompt (and `--system`) in the file's own chat template."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from engine import api
from plt_agent.cli import app

runner = CliRunner()


def _prompt_tokens(output: str) -> int:
    found = re.search(r"\[(\d+) prompt tokens", output)
    assert found, output
    return int(found.group(1))


def test_generate_chat_renders_the_files_template_with_the_system_message(tiny_gguf):
    path = tiny_gguf("f32")
    argv = ["generate", str(path), "-p", "fix add()", "-n", "8", "--threads", "1"]
    chat = runner.invoke(app, [*argv, "--chat", "--system", "Be terse."])
    plain = runner.invoke(app, argv)
    assert chat.exit_code == 0, chat.output
    assert plain.exit_code == 0, plain.output

    messages = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "fix add()"}]
    with api.load(path, threads=1) as m:
        rendered = m.tokenizer.render_chat(messages)
        ids = m.tokenizer.encode_prompt(rendered)
        expected = m.generate(ids, max_tokens=8).text
        plain_ids = m.tokenizer.encode_prompt("fix add()")
    assert "Be terse." in rendered
    assert "fix add()" in rendered
    assert _prompt_tokens(chat.output) == len(ids)
    assert _prompt_tokens(plain.output) == len(plain_ids) < len(ids)
    assert expected in chat.stdout


def test_generate_chat_without_system_sends_only_the_user_turn(tiny_gguf):
    path = tiny_gguf("f32")
    result = runner.invoke(app, ["generate", str(path), "-p", "hi", "--chat", "-n", "2", "--threads", "1"])
    assert result.exit_code == 0, result.output
    with api.load(path, threads=1) as m:
        ids = m.tokenizer.encode_prompt(m.tokenizer.render_chat([{"role": "user", "content": "hi"}]))
    assert _prompt_tokens(result.output) == len(ids)

"""The progress line: its text, plain lines off a terminal, a live line on one; prefill reports."""

from __future__ import annotations

import io
import re
import time

from rich.console import Console

from plt_agent.liveline import LiveLine


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=terminal, width=120, highlight=False), buf


def test_the_text_names_phase_progress_rate_and_time():
    console, _ = _console(False)
    line = LiveLine(console, quiet_s=100)
    line.phase("the model reads the prompt", total=2185)
    line.update(100)
    time.sleep(0.2)
    line.update(612)

    text = line.text()
    line.stop()

    assert text.startswith("the model reads the prompt  612/2,185 tokens  ")
    rate = float(re.search(r"([\d,.]+) tok/s", text).group(1).replace(",", ""))
    assert 500 < rate < 5000  # 512 tokens in about 0.2 s
    assert re.search(r"  0\.\d s$", text)


def test_off_a_terminal_plain_lines_come_only_after_a_quiet_spell():
    console, buf = _console(False)
    line = LiveLine(console, quiet_s=0.5, every_s=0.5)

    line.phase("quick", total=10)
    line.stop()
    time.sleep(0.8)
    quick = buf.getvalue()
    line.phase("slow", total=10)
    line.update(3)
    time.sleep(1.4)
    line.stop()
    slow = buf.getvalue()
    time.sleep(0.8)

    assert quick == ""  # a short wait prints nothing
    lines = slow.splitlines()
    assert 2 <= len(lines) <= 3  # after 0.5 s, then every 0.5 s
    assert all(x.startswith("  ... slow  3/10 tokens") for x in lines)
    assert buf.getvalue() == slow  # nothing after stop


def test_on_a_terminal_the_line_redraws_and_goes_away():
    console, buf = _console(True)
    line = LiveLine(console)

    line.phase("the model writes its reply", total=512)
    line.update(40)
    time.sleep(0.5)
    assert line.active
    line.stop()

    out = buf.getvalue()
    assert "the model writes its reply" in out
    assert "40/512 tokens" in out
    assert not line.active


def test_the_engine_reports_prefill_progress_chunk_by_chunk(tiny_gguf):
    from engine import api

    seen: list[tuple[int, int]] = []
    with api.load(tiny_gguf("f32"), n_ctx=128, threads=1) as model:
        ids = [i % min(model.config.vocab_size - 1, 32) + 1 for i in range(70)]
        model.runner.prefill(ids, chunk=32, progress=lambda done, total: seen.append((done, total)))

    assert seen == [(32, 70), (64, 70), (70, 70)]

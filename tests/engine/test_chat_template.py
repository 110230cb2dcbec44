"""Chat templates from files: rendered as HF renders them, and bounded in time and size."""

from __future__ import annotations

import time

import pytest

import engine.chat_template
from engine.chat_template import ChatTemplate
from engine.errors import EngineError

MESSAGES = [{"role": "user", "content": "hi <b> & 'q'"}]


def test_an_ordinary_template_renders_with_tojson_unescaped_and_the_special_tokens():
    source = (
        "{{ bos_token }}{% for m in messages %}{{ m['role'] }}:{{ m['content'] | tojson }}{% endfor %}"
        "{{ eos_token }}"
    )
    text = ChatTemplate(source).render(messages=MESSAGES, bos_token="<s>", eos_token="</s>")
    assert text == "<s>user:\"hi <b> & 'q'\"</s>"  # json.dumps, not jinja's HTML-escaping tojson


@pytest.mark.parametrize(
    "source",
    [
        "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
        "{% set ns = namespace(n=0) %}{% for i in range(99999) %}{% for j in range(99999) %}"
        "{% set ns.n = ns.n + 1 %}{% endfor %}{% endfor %}",
    ],
)
def test_a_template_that_runs_for_ever_is_stopped(monkeypatch, source):
    monkeypatch.setattr(engine.chat_template, "RENDER_SECONDS", 0.5)
    started = time.monotonic()
    with pytest.raises(EngineError, match="ran for over 0.5 s"):
        ChatTemplate(source).render(messages=MESSAGES)
    assert time.monotonic() - started < 10  # unbounded otherwise (about 10^10 steps)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ 'x' * 10000000000 }}", "too large"),
        ("{{ [0] * 10000000000 }}", "too large"),
        ("{{ 10 ** 100000000 }}", "exponent"),
        (
            "{% set ns = namespace(s='xxxxxxxx') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
            "{% endfor %}{{ ns.s }}",
            "too large",
        ),
        ("{% for i in range(99999) %}{{ 'y' * 9999 }}{% endfor %}", "over 16,000,000 characters"),
    ],
)
def test_a_template_that_would_fill_memory_is_refused_before(source, message):
    with pytest.raises(EngineError, match=message):
        ChatTemplate(source).render(messages=MESSAGES)


def test_template_errors_are_one_line_engine_errors():
    with pytest.raises(EngineError, match="does not compile"):
        ChatTemplate("{% for %}")
    with pytest.raises(EngineError, match="ZeroDivisionError"):
        ChatTemplate("{{ 1 / 0 }}").render(messages=MESSAGES)
    with pytest.raises(EngineError, match="no tools \\\\x1b"):
        ChatTemplate("{{ raise_exception('no tools \x1b[2J') }}").render(messages=MESSAGES)


def test_the_trace_hook_in_place_before_a_render_is_put_back():
    import sys

    def tracer(frame, event, arg):
        return None

    sys.settrace(tracer)
    try:
        ChatTemplate("{{ 1 }}").render()
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(None)

"""Model specs and the scripted backend (offline): what load_model accepts and refuses, and
that scripted replies go through the same stop strings and tool-call parsing as real ones."""

from __future__ import annotations

import json

import pytest
from agent_helpers import write_script

from plt_agent.errors import UsageError
from plt_agent.models import load_model
from plt_agent.models.base import ModelError
from plt_agent.models.scripted import ScriptExhausted
from plt_agent.models.wire import parse_tool_call

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("spec", ["gpt-17", "foo:bar", "openai:127.0.0.1:8000#m", "openai:http://x/v1"])
def test_bad_specs_list_the_valid_forms(hermetic, spec):
    with pytest.raises(UsageError) as info:
        load_model(spec)
    assert "openai:URL#MODEL" in str(info.value)


def test_missing_files_are_told_apart_from_unknown_specs(hermetic, tmp_path):
    from plt_agent.models.spec import NoSuchModelFile, UnknownModelSpec

    for spec in (f"llama:{tmp_path / 'none.gguf'}", f"plt:{tmp_path}/x.gguf", str(tmp_path / "none.gguf")):
        with pytest.raises(NoSuchModelFile, match="no such model file"):
            load_model(spec)
    with pytest.raises(NoSuchModelFile, match="no such model file"):
        load_model(f"scripted:{tmp_path / 'none.jsonl'}")
    with pytest.raises(NoSuchModelFile, match="is a directory"):
        load_model(f"plt:{tmp_path}")
    for spec in ("no-such-model", "bogus:thing"):
        with pytest.raises(UnknownModelSpec, match="unknown model spec"):
            load_model(spec)
    assert NoSuchModelFile.exit_code == UnknownModelSpec.exit_code == ModelError.exit_code == 2


def test_an_unreachable_server_is_reported(hermetic):
    with pytest.raises(ModelError, match="cannot reach"):
        load_model("openai:http://127.0.0.1:9#model")


def test_scripted_replays_in_order_then_says_it_ran_out(tmp_path):
    script = write_script(tmp_path / "s.jsonl", ["first", {"content": "second"}])
    model = load_model(f"scripted:{script}")
    streamed: list[str] = []
    assert model.complete(MESSAGES, on_text=streamed.append).content == "first"
    assert streamed == ["first"]
    assert model.complete(MESSAGES).content == "second"
    with pytest.raises(ScriptExhausted, match="ran out of replies after 2"):
        model.complete(MESSAGES)


def test_scripted_applies_stop_strings_like_a_server(tmp_path):
    script = write_script(
        tmp_path / "s.jsonl", ["<function=view>\n<parameter=path>a</parameter>\n</function> junk"]
    )
    reply = load_model(f"scripted:{script}").complete(MESSAGES, stop=["</function>"])
    assert reply.content == "<function=view>\n<parameter=path>a</parameter>\n"


def test_scripted_tool_calls_are_parsed_like_native_ones(tmp_path):
    raw = {
        "id": "x1",
        "type": "function",
        "function": {"name": "view", "arguments": json.dumps({"path": "a.py"})},
    }
    script = write_script(
        tmp_path / "s.jsonl", [{"content": "", "tool_calls": [raw, {"name": "bad", "arguments": "{"}]}]
    )
    model = load_model(f"scripted:{script}")
    assert model.supports_tools
    calls = model.complete(MESSAGES, tools=[]).tool_calls
    assert (calls[0].name, calls[0].arguments, calls[0].id, calls[0].error) == (
        "view",
        {"path": "a.py"},
        "x1",
        "",
    )
    assert calls[1].name == "bad"
    assert "not valid JSON" in calls[1].error


def test_scripted_reads_a_trajectory_and_its_mode(tmp_path):
    lines = [
        {"type": "start", "mode": "whole-file"},
        {"type": "message", "message": {"role": "user", "content": "x"}},
        {"type": "reply", "content": "answer one", "tool_calls": []},
        {"type": "end", "status": "fixed"},
    ]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    model = load_model(f"scripted:{path}")
    assert model.mode == "whole-file"
    assert model.complete(MESSAGES).content == "answer one"


def test_a_bad_script_line_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"content": "ok"}\nnot json\n')
    with pytest.raises(ModelError, match=r"bad\.jsonl:2"):
        load_model(f"scripted:{path}")


def test_tool_call_arguments_in_a_code_fence_are_accepted():
    call = parse_tool_call({"name": "view", "arguments": '```json\n{"path": "a"}\n```'})
    assert call.arguments == {"path": "a"}
    assert call.error == ""


@pytest.mark.parametrize(
    ("props", "listing", "expected"),
    [
        ({"default_generation_settings": {"n_ctx": 8192}}, None, 8192),  # llama-server /props
        ({"n_ctx": 4096}, {"data": [{"id": "m", "meta": {"n_ctx_train": 131072}}]}, 4096),  # props win
        (
            {},
            {"data": [{"id": "other", "max_model_len": 1}, {"id": "m", "max_model_len": 32768}]},
            32768,
        ),  # vLLM
        ({}, {"data": [{"id": "m", "context_length": 16384}]}, 16384),
        ({}, {"data": [{"id": "m", "meta": {"n_ctx_train": 2048}}]}, 2048),
        ({}, {"data": [{"id": "m", "owned_by": "me"}]}, None),  # llama_cpp.server reports nothing
    ],
)
def test_the_reported_context_size_is_read_from_the_usual_places(props, listing, expected):
    from plt_agent.models.openai import _reported_context

    assert _reported_context(props, listing, "m") == expected

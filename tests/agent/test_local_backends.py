"""The llama (llama-cpp-python) and plt (our engine) backends with SmolLM2-135M from the store,
and `plt-agent demo` with the default model, end to end."""

from __future__ import annotations

import json

import pytest

from plt_agent.models import ModelOptions, load_model
from plt_agent.models.base import ContextOverflow

pytestmark = pytest.mark.slow

CHAT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Name three colours."},
]


@pytest.fixture(scope="module", params=["llama", "plt"])
def model(request, smollm2_gguf):
    return load_model(f"{request.param}:{smollm2_gguf}", ModelOptions(context=1024, threads=1))


def test_window_tokenizer_and_usage_agree(model):
    assert model.context_window == 1024
    assert model.n_params == 134_515_008  # SmolLM2-135M
    pieces: list[str] = []
    reply = model.complete(CHAT, max_tokens=16, on_text=pieces.append)
    assert "".join(pieces) == reply.content
    assert reply.usage.prompt_tokens == model.count_tokens(CHAT)
    assert 1 <= reply.usage.completion_tokens <= 16
    rendered = model.render(CHAT)
    assert rendered.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>")
    assert rendered.endswith("<|im_start|>assistant\n")


def test_an_appended_conversation_reuses_the_cached_prefix(model):
    first = model.complete(CHAT, max_tokens=8)
    longer = [
        *CHAT,
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": "Two more."},
    ]
    second = model.complete(longer, max_tokens=8)
    prefix = model.count_tokens(CHAT) - 3  # the generation prompt differs from the assistant turn
    assert second.usage.cached_tokens >= prefix


def test_greedy_is_deterministic_and_stop_strings_cut(model):
    counting = [{"role": "user", "content": "Count from 1 to 20, separated by commas."}]
    a = model.complete(counting, max_tokens=40)
    b = model.complete(counting, max_tokens=40)
    assert a.content == b.content
    cut = model.complete(counting, max_tokens=40, stop=["5"])
    assert "5" not in cut.content
    assert a.content.startswith(cut.content)


def test_a_prompt_larger_than_the_window_is_refused(model):
    with pytest.raises(ContextOverflow, match="context window is 1024"):
        model.complete([{"role": "user", "content": "word " * 1500}], max_tokens=8)


def test_both_backends_render_and_count_the_same_prompt(smollm2_gguf):
    llama = load_model(f"llama:{smollm2_gguf}", ModelOptions(context=512, threads=1))
    plt = load_model(f"plt:{smollm2_gguf}", ModelOptions(context=512, threads=1))
    assert llama.render(CHAT) == plt.render(CHAT)
    assert llama.count_tokens(CHAT) == plt.count_tokens(CHAT)


def test_demo_with_the_default_model(smollm2_gguf, hermetic, cli, monkeypatch):
    # a fresh store that already holds the model the session fixture pulled
    store = hermetic / "demo-store"
    (store / "models").mkdir(parents=True)
    (store / "models" / "smollm2-135m").symlink_to(smollm2_gguf.parent)
    monkeypatch.setenv("PLT_AGENT_HOME", str(store))
    result = cli("demo", "--keep")
    assert "small demonstration model" in result.stderr
    assert result.exit_code == 0, result.output
    assert "the model fixed the bug" in result.stderr
    assert "+    return a + b" in result.stdout
    (trajectory,) = (store / "trajectories").glob("*-mathlib.jsonl")
    start = json.loads(trajectory.read_text().splitlines()[0])
    assert start["mode"] == "whole-file"

"""Context budgeting: outputs clipped head+tail, old outputs elided before anything overflows,
and an overflow that cannot be avoided is an error, never a silent cut."""

from __future__ import annotations

import json

import pytest
from agent_helpers import write_script, xml_call

from plt_agent.agent.context import ELIDED, ContextBudget, head_tail
from plt_agent.models.base import ContextOverflow, text_tokens
from plt_agent.models.scripted import ScriptedModel
from plt_agent.models.wire import approx_message_tokens


def _model(window: int) -> ScriptedModel:
    return ScriptedModel([], context_window=window)


def test_head_tail_keeps_both_ends_and_says_what_was_cut():
    text = "".join(f"line {i}\n" for i in range(1000))
    clipped = head_tail(text, 600)
    assert clipped.startswith("line 0\n")
    assert clipped.endswith("line 999\n")
    assert len(clipped) < 800
    cut_lines = 1000 - clipped.count("line ")
    assert f"{cut_lines + 1} lines" in clipped or f"{cut_lines} lines" in clipped


def test_clip_respects_the_token_limit_counted_by_the_model():
    budget = ContextBudget(_model(4096))
    text = " ".join(f"word{i}" for i in range(5000))
    clipped = budget.clip(text, limit=300)
    assert text_tokens(budget.model, clipped) <= 300
    assert clipped.startswith("word0 ")
    assert budget.clip("short text", limit=300) == "short text"


def test_old_observations_are_elided_first_and_the_prefix_survives():
    budget = ContextBudget(_model(2000), keep_last=1, min_reply=100)
    big = "x " * 400  # ~400 tokens each
    messages = [{"role": "system", "content": "system prompt"}, {"role": "user", "content": "the task"}]
    observations = []
    for i in range(6):
        messages.append({"role": "assistant", "content": f"action {i}"})
        messages.append({"role": "user", "content": big})
        observations.append(len(messages) - 1)
    assert approx_message_tokens(messages) + 300 > 2000  # it would overflow as it is
    fit = budget.fit(messages, observations, reply_tokens=300)
    assert fit.elided >= 1
    assert fit.prompt_tokens + fit.reply_tokens <= 2000
    assert messages[0]["content"] == "system prompt"
    assert messages[1]["content"] == "the task"
    assert messages[observations[-1]]["content"] == big  # the newest output is kept
    elided = [i for i in observations if messages[i]["content"] == ELIDED]
    assert elided == observations[: len(elided)]  # oldest first


def test_an_overflow_that_elision_cannot_fix_raises():
    budget = ContextBudget(_model(1000), min_reply=100)
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "y " * 2000}]
    with pytest.raises(ContextOverflow, match="context window"):
        budget.fit(messages, [], reply_tokens=200)


def test_the_context_override_forces_elision_in_a_real_run(demo_repo, tmp_path, cli, monkeypatch):
    views = [xml_call("view", path="mathlib/core.py", start=str(i)) for i in range(1, 9)]
    script = write_script(tmp_path / "v.jsonl", views)
    traj = tmp_path / "v-run.jsonl"
    monkeypatch.setenv("PLT_AGENT_CONTEXT", "2600")
    result = cli(
        "fix", str(demo_repo), "--model", f"scripted:{script}", "--trajectory", str(traj), "--max-steps", "8"
    )
    assert result.exit_code == 1
    events = [json.loads(line) for line in traj.read_text().splitlines()]
    assert events[0]["context_window"] == 2600
    assert any(e["type"] == "elide" for e in events)
    assert events[-1]["status"] == "max_steps"  # it ran out of steps, not of context
    counted = [e["prompt_tokens_counted"] for e in events if e["type"] == "reply"]
    assert max(counted) <= 2600


def test_a_task_too_big_for_the_window_fails_loudly(demo_repo, tmp_path, cli, monkeypatch):
    script = write_script(tmp_path / "s.jsonl", ["never used"])
    monkeypatch.setenv("PLT_AGENT_CONTEXT", "256")
    result = cli("fix", str(demo_repo), "--model", f"scripted:{script}")
    assert result.exit_code == 1
    assert "context_overflow" in result.stderr
    assert "context window" in result.stderr

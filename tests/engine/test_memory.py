"""The memory check: a context that cannot fit is refused before the cache is allocated, with
the figures and what would fit; a context left to the engine follows the model and the machine.

`memory_limit` (the CLI's `--memory-limit` / `PLT_AGENT_MEMORY_LIMIT`) stands in for the
machine's free memory, so the figures do not depend on what else runs here.
"""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from engine import api, state
from engine.errors import EngineError
from engine.memory import CONTEXT_STEP, parse_bytes
from plt_agent.cli import app

HUGE = dict(head_dim=32, layers=8, max_position=1 << 20)  # trained for a million positions
MIB = 1 << 20


@pytest.fixture
def allocations(monkeypatch):
    """Counts the caches the engine allocates (probes, which have no memory, are not counted)."""
    made = []
    real = state.State.__init__

    def spy(self, *args, allocate=True, **kwargs):  # noqa: ANN001, ANN202
        if allocate:
            made.append(args[2] if len(args) > 2 else kwargs.get("n_ctx"))
        return real(self, *args, allocate=allocate, **kwargs)

    monkeypatch.setattr(state.State, "__init__", spy)
    return made


def test_a_context_that_does_not_fit_is_refused_before_allocation(tiny_gguf, monkeypatch, allocations):
    with pytest.raises(EngineError) as err:
        api.load(tiny_gguf("f32", **HUGE), n_ctx=1 << 20, kv_type="f16", memory_limit="64M")
    message = str(err.value)
    assert allocations == []
    assert "\n" not in message
    assert "1048576-token context needs" in message
    for part in ("weights", "f16 KV cache", "compute"):
        assert part in message
    assert "0.06 GiB is available" in message  # 64 MiB
    # the cache alone: 8 layers x (K + V) x 2 KV heads x 32 x 2 bytes = 2 KiB per token
    assert state.cache_bytes(api.open_model(tiny_gguf("f32", **HUGE)).config, "f16").per_token == 2048
    assert "f16 KV cache 2.00 GiB" in message
    f16 = re.search(r"at most (\d+) tokens", message)
    q8 = re.search(r"a q8_0 cache \((\d+) tokens fit\)", message)
    assert f16
    assert q8
    assert int(q8[1]) > int(f16[1])  # a q8_0 row is 34/64 of an f16 row


def test_what_the_refusal_offers_is_the_longest_that_fits(tiny_gguf):
    path = tiny_gguf("f32", **HUGE)
    with pytest.raises(EngineError) as err:
        api.load(path, n_ctx=1 << 20, memory_limit=64 * MIB)
    offered = int(re.search(r"at most (\d+) tokens", str(err.value))[1])
    assert offered % CONTEXT_STEP == 0
    with api.load(path, n_ctx=offered, memory_limit=64 * MIB) as m:  # fits
        assert m.runner.budget.need <= 64 * MIB
    with pytest.raises(EngineError):
        api.load(path, n_ctx=offered + CONTEXT_STEP, memory_limit=64 * MIB)  # the next step does not


def test_the_budget_adds_up_and_bounds_what_is_used(tiny_gguf):
    path = tiny_gguf("f32", **HUGE)
    with api.load(path, n_ctx=2048, kv_type="q8_0") as m:
        b = m.runner.budget
        assert b.cache == m.runner.state.nbytes()  # the planner's cache size is the allocated one
        assert b.weights == sum(t.nbytes for t in m.file.tensors.values())
        assert b.need == b.weights + b.cache + b.compute
        m.runner.prefill([5 + i % 300 for i in range(1995)], chunk=512)
        for t in range(40):
            m.runner.decode(7 + t)
        assert 0 < m.runner.compute_buffer_bytes() <= b.compute


def test_a_context_left_to_the_engine_follows_the_machine(tiny_gguf, monkeypatch):
    path = tiny_gguf("f32", **HUGE)
    with api.load(path, memory_limit="64M") as m:
        assert CONTEXT_STEP <= m.n_ctx < 1 << 20
        assert m.runner.budget.need <= 0.9 * 64 * MIB
    monkeypatch.setenv("PLT_AGENT_MEMORY_LIMIT", "1M")  # ignored: the engine reads no environment
    small = dict(head_dim=32, max_position=8192)
    with api.load(tiny_gguf("f32", **small)) as m:  # plenty of memory: the trained length
        assert m.n_ctx == 8192


def test_refusal_through_the_cli_is_one_line(tiny_gguf, monkeypatch):
    monkeypatch.setenv("PLT_AGENT_MEMORY_LIMIT", "64M")
    result = CliRunner().invoke(
        app, ["generate", str(tiny_gguf("f32", **HUGE)), "-p", "hi", "--ctx", str(1 << 20), "-n", "2"]
    )
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    for part in ("needs", "available", "q8_0"):
        assert part in lines[0]


def test_cache_types_and_their_sizes(tiny_gguf):
    cfg = api.open_model(tiny_gguf("f32", **HUGE)).config
    per_token = {t: state.cache_bytes(cfg, t).per_token for t in ("f32", "f16", "q8_0")}
    row = 2 * 32  # KV heads x head_dim
    assert per_token == {
        "f32": 8 * 2 * row * 4,
        "f16": 8 * 2 * row * 2,
        "q8_0": 8 * 2 * (row // 32) * 34,
    }
    with pytest.raises(EngineError, match="head size divisible by 32"):
        api.load(tiny_gguf("f32"), kv_type="q8_0")  # head_dim 16
    with pytest.raises(EngineError, match="must be one of"):
        api.load(tiny_gguf("f32"), kv_type="q4_0")  # left out: it costs accuracy


def test_parse_bytes():
    assert parse_bytes("8G") == 8 << 30
    assert parse_bytes("512M") == 512 << 20
    assert parse_bytes("2GiB") == 2 << 30
    assert parse_bytes("1000") == 1000
    with pytest.raises(EngineError):
        parse_bytes("lots")


def test_a_malformed_limit_on_the_cli_is_one_line(tiny_gguf, monkeypatch):
    monkeypatch.setenv("PLT_AGENT_MEMORY_LIMIT", "lots")
    result = CliRunner().invoke(app, ["generate", str(tiny_gguf("f32")), "-p", "hi", "-n", "1"])
    assert result.exit_code == 2
    assert "memory limit must look like 8G" in result.output
    assert "Traceback" not in result.output


def test_sizes_in_messages_never_read_zero():
    from engine.memory import _gib

    assert _gib(1024) == "1.0 KiB"
    assert _gib(5 << 20) == "5.0 MiB"
    assert _gib(3 << 30) == "3.00 GiB"
    assert _gib(64 << 20) == "0.06 GiB"

"""IQuest-Coder-V1-Loop (plt-model.md §5) through the converter and the ggml engine.

Parity target as for V2 (issue 15): F32 GGUF max error / largest |logit| <= 1e-4 against the
torch reference in every mode (full, token-by-token decode, chunked prefill), with prompts
longer than 3x the window so the rings evict. Files of one family relabelled as the other,
and the llama.cpp fork's V1-Loop GGUFs, must be refused with one line.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import engine_logits, random_ids, rel_err
from gguf import GGUFReader, GGUFWriter

from converters.check import check_gguf
from converters.errors import ConvertError
from engine import api
from engine.errors import EngineError
from engine.reference import reference_logits
from engine.session import Session

N_TOKENS = 37  # > 3 * 8, the largest window below
V1 = {"family": "v1"}


def _ids(n: int = N_TOKENS, seed: int = 0, vocab: int = 384) -> list[int]:
    return random_ids(n, seed, vocab)


VARIANTS = [
    pytest.param({}, id="L2-window4"),
    pytest.param({"loops": 3}, id="L3"),
    pytest.param({"window": 8, "kv_heads": 1, "seed": 3}, id="window8-MQA"),
    pytest.param({"window": 1, "seed": 5}, id="window1-only-self"),
]


@pytest.mark.parametrize("options", VARIANTS)
@pytest.mark.parametrize("mode", ["full", "decode", "chunks:5", "chunks:16"])
def test_v1_f32_gguf_matches_reference(tiny_checkpoint, tiny_gguf, options, mode):
    ids = _ids()
    ref = reference_logits(tiny_checkpoint(**V1, **options), ids)
    got = engine_logits(tiny_gguf("f32", **V1, **options), ids, mode)
    assert got.shape == ref.shape
    assert rel_err(got, ref) <= 1e-4


def test_v1_f16_gguf_within_1e_2(tiny_checkpoint, tiny_gguf):
    ids = _ids()
    ref = reference_logits(tiny_checkpoint(**V1), ids)
    for mode in ("full", "decode", "chunks:7"):
        assert rel_err(engine_logits(tiny_gguf("f16", **V1), ids, mode), ref) <= 1e-2


def test_v1_parity_check_can_fail(tiny_checkpoint, tiny_gguf):
    """The V2 reading of the same weights is far from V1's logits (the loop rules matter)."""
    ids = _ids()
    ref = reference_logits(tiny_checkpoint(**V1), ids)
    assert rel_err(engine_logits(tiny_gguf("f32", **V1, seed=9), ids, "full"), ref) > 0.05


def test_v1_decode_is_two_passes_whatever_mode_is_asked(tiny_gguf):
    path, ids = tiny_gguf("f32", **V1), _ids(20)
    with api.load(path, n_ctx=64, threads=1) as m:
        assert m.config.is_v1
        assert m.runner.decode_passes == 2
        assert not m.runner.fused
    fused = engine_logits(path, ids, "decode", decode_mode="fused")
    serial = engine_logits(path, ids, "decode", decode_mode="serial")
    np.testing.assert_array_equal(fused, serial)  # the same graph: V1 has no fused step


def test_v1_kv_memory_is_global_cache_plus_one_window_ring_per_layer(tiny_gguf):
    with api.load(tiny_gguf("f32", **V1, window=8), n_ctx=64, threads=1) as m:
        st = m.runner.state
        assert st.slots == 8  # loop_window_size keys, the current one included
        assert len(st.ring_k) == 1  # one later loop
        assert len(st.ring_k[0]) == m.config.num_layers


# ---- sessions and prefix reuse ----------------------------------------------------------------


def _fresh_last(path, ids) -> np.ndarray:
    with api.load(path, n_ctx=128, threads=1) as m:
        return m.runner.prefill(ids, chunk=13)[-1]


def test_v1_session_prefix_reuse_matches_a_fresh_run(tiny_gguf):
    path = tiny_gguf("f32", **V1)
    a, b = _ids(30, 1), _ids(9, 2)
    with api.load(path, n_ctx=128, threads=1) as m:
        s = m.new_session()
        s.feed(a)
        logits, reused = s.feed(a + b)
    assert reused == len(a)
    assert rel_err(logits, _fresh_last(path, a + b)) <= 1e-4


def test_v1_going_back_into_decoded_tokens_restores_the_rings(tiny_gguf):
    path = tiny_gguf("f32", **V1, loops=3)
    with api.load(path, n_ctx=128, threads=1) as m:
        s = Session(m.runner, snapshot_every=8)
        s.feed(_ids(5, 8))
        for t in _ids(30, 9):
            s.step(t)
        other = s.tokens[:21] + _ids(4, 10)
        logits, reused = s.feed(other)
    assert reused == 21
    assert rel_err(logits, _fresh_last(path, other)) <= 1e-4


def test_v1_save_and_load_a_session(tiny_gguf, tmp_path):
    path = tiny_gguf("f32", **V1)
    a = _ids(25, 12)
    with api.load(path, n_ctx=128, threads=1) as m:
        s = m.new_session()
        s.feed(a)
        s.save(tmp_path / "s.bin")
    with api.load(path, n_ctx=128, threads=1) as m:
        s = m.new_session()
        s.load(tmp_path / "s.bin")
        logits, reused = s.feed(a + [7, 8, 9])
    assert reused == len(a)
    assert rel_err(logits, _fresh_last(path, a + [7, 8, 9])) <= 1e-4


# ---- converter --------------------------------------------------------------------------------


def test_v1_gguf_has_its_own_architecture_and_keys(tiny_gguf):
    reader = GGUFReader(tiny_gguf("f32", **V1))
    fields = reader.fields
    assert fields["general.architecture"].contents() == "iquestloopcoder"
    assert fields["iquestloopcoder.loop.count"].contents() == 2
    assert fields["iquestloopcoder.loop.window_size"].contents() == 4
    assert not [k for k in fields if k.startswith("pltcoder.")]
    names = {t.name for t in reader.tensors}
    assert {"blk.0.loop_gate.weight", "blk.1.loop_gate.bias"} <= names
    assert not [n for n in names if "plt_gate" in n]


@pytest.mark.parametrize("outtype", ["f32", "q8_0"])
def test_v1_convert_check_passes(tiny_checkpoint, tiny_gguf, outtype):
    rows = check_gguf(tiny_checkpoint(**V1), tiny_gguf(outtype, **V1))
    assert rows
    assert all(r.ok for r in rows), [r for r in rows if not r.ok]
    assert any(r.name == "blk.0.loop_gate.weight" for r in rows)


def test_convert_check_refuses_the_other_familys_file(tiny_checkpoint, tiny_gguf):
    with pytest.raises(ConvertError, match="architecture 'pltcoder'"):
        check_gguf(tiny_checkpoint(**V1), tiny_gguf("f32"))


# ---- relabelled files and the llama.cpp fork ---------------------------------------------------


def _rewrite(
    src: Path,
    dst: Path,
    arch: str,
    keys: dict[str, str] | None = None,
    tensors: dict[str, str] | None = None,
    extra: dict[str, int] | None = None,
) -> Path:
    """Copy a GGUF with another architecture; key prefixes and tensor name parts replaced as given."""
    keys, tensors = keys or {}, tensors or {}
    reader = GGUFReader(src)
    writer = GGUFWriter(dst, arch)
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        for old, new in keys.items():
            name = name.replace(old, new)
        sub = field.types[-1] if len(field.types) > 1 else None
        writer.add_key_value(name, field.contents(), field.types[0], sub_type=sub)
    for name, value in (extra or {}).items():
        writer.add_uint32(name, value)
    for t in reader.tensors:
        name = t.name
        for old, new in tensors.items():
            name = name.replace(old, new)
        writer.add_tensor(name, np.array(t.data), raw_dtype=t.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dst


def _refused(path: Path, match: str) -> None:
    with pytest.raises(EngineError, match=match):
        api.load(path, n_ctx=32, threads=1)


def test_v2_file_relabelled_as_v1_is_refused(tiny_gguf, tmp_path):
    v2 = tiny_gguf("f32", gate="query")  # V2's query-gate variant: the closest to V1
    _refused(_rewrite(v2, tmp_path / "a.gguf", "iquestloopcoder"), "relabelled|missing metadata")
    renamed = _rewrite(v2, tmp_path / "b.gguf", "iquestloopcoder", keys={"pltcoder.": "iquestloopcoder."})
    _refused(renamed, "relabelled|missing")


def test_v1_file_relabelled_as_v2_is_refused(tiny_gguf, tmp_path):
    v1 = tiny_gguf("f32", **V1)
    _refused(_rewrite(v1, tmp_path / "a.gguf", "pltcoder"), "relabelled|missing metadata")
    renamed = _rewrite(
        v1,
        tmp_path / "b.gguf",
        "pltcoder",
        keys={"iquestloopcoder.": "pltcoder."},
        tensors={"loop_gate": "plt_gate"},
    )
    _refused(renamed, "relabelled|missing")


def test_llama_cpp_fork_v1_loop_gguf_is_refused_with_one_line(tiny_gguf, tmp_path):
    """A file shaped like the fork's (llama arch, llama.loop.*, blk.N.loop_gate) is not run as llama."""
    fork = _rewrite(
        tiny_gguf("f32", **V1),
        tmp_path / "fork.gguf",
        "llama",
        keys={"iquestloopcoder.loop.count": "llama.loop.num", "iquestloopcoder.": "llama."},
        extra={"llama.loop.window_size": 64},
    )
    _refused(fork, r"llama\.cpp fork.*cannot be confirmed offline")
    keys_only = _rewrite(
        tiny_gguf("f32", llama=True), tmp_path / "keys.gguf", "llama", extra={"llama.loop.num": 2}
    )
    _refused(keys_only, r"llama\.loop\.num.*missing llama\.loop\.window_size")


def test_fork_refusal_is_one_line_on_the_cli(tiny_gguf, tmp_path):
    fork = _rewrite(
        tiny_gguf("f32", **V1),
        tmp_path / "fork.gguf",
        "llama",
        keys={"iquestloopcoder.loop.count": "llama.loop.num", "iquestloopcoder.": "llama."},
    )
    out = subprocess.run(
        [sys.executable, "-m", "plt_agent.cli", "generate", str(fork), "-p", "hi", "-n", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert "loop_gate" in out.stderr + out.stdout


# ---- bench -------------------------------------------------------------------------------------


def test_bench_says_v1_decode_is_two_passes(tiny_gguf):
    import json
    import statistics

    from typer.testing import CliRunner

    from plt_agent.cli import app

    args = ["bench", "engine", str(tiny_gguf("q8_0", **V1)), "--json", "--rounds", "1"]
    args += ["--prompt-tokens", "16", "--decode-tokens", "3", "--threads", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["family"] == "v1"
    assert set(data["variants"]) == {"serial", "single"}
    assert data["variants"]["serial"]["decode_passes"] == 2
    assert data["variants"]["single"]["decode_passes"] == 1
    assert "two passes" in data["note"] or "2 passes" in data["note"]
    serial, single = data["variants"]["serial"]["steps_ms"], data["variants"]["single"]["steps_ms"]
    assert data["serial_over_single"] == pytest.approx(
        statistics.median(a / b for a, b in zip(serial, single, strict=True)), rel=1e-3
    )


def test_v1_real_shape_synthetic_preset(tmp_path):
    from converters.synthetic import FAMILIES, synthetic_config, write_synthetic

    p = FAMILIES["v1-40b-loop"]
    cfg = synthetic_config(2 << 30, p.shape, family=p.family)
    assert cfg.is_v1
    assert (cfg.hidden_size, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim) == (5120, 40, 8, 128)
    assert (cfg.intermediate_size, cfg.vocab_size, cfg.local_keys) == (27648, 76800, 64)
    assert 1 <= cfg.num_layers < p.real_layers
    # a narrow file of the same family loads and decodes (the real width is for the benchmark)
    small = synthetic_config(
        1 << 20, replace(p.shape, hidden=256, heads=2, kv_heads=1, intermediate=512, vocab=512), family="v1"
    )
    path = write_synthetic(tmp_path / "s.gguf", small)
    with api.load(path, n_ctx=128, threads=1) as m:
        assert m.config.is_v1
        assert m.config.local_keys == 64
        assert np.isfinite(m.runner.prefill(_ids(70, vocab=512), chunk=32)).all()
        assert np.isfinite(m.runner.decode(5)).all()

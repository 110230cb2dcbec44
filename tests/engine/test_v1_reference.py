"""IQuest-Coder-V1-Loop (plt-model.md §5) in the reference model and the HF config reader.

`naive_v1` below is a separate, plain transcription of §5 (one position and one head at a
time, RoPE as a rotation matrix, the config read straight from the HF dict, the weights by
their HF names), sharing no code with engine.reference. Each V1 rule broken on purpose in the
reference (`Variant`) must move the logits far beyond the parity tolerance, so a runtime that
got any of them wrong could not pass the parity tests.
"""

from __future__ import annotations

import pytest
import torch
from engine_helpers import TINY_SHAPE, llama_layer
from naive_ops import attention, rotation, tokens
from naive_ops import norm as norm_

from engine.arch import ArchError, config_from_hf
from engine.reference import Reference, Variant

T = 20  # > 3 * loop_window_size (4 below), so the window slides


def tiny_v1(**overrides) -> dict:
    cfg = {
        "architectures": ["IQuestLoopCoderForCausalLM"],
        "model_type": "iquestloopcoder",
        **TINY_SHAPE,
        "loop_num": 2,
        "loop_window_size": 4,
    }
    cfg.update(overrides)
    return cfg


def v1_tensors(hf: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights under the HF names of §5: the layers of §2 plus model.gate_projections.{j}."""
    gen = torch.Generator().manual_seed(seed)
    d, v = hf["hidden_size"], hf["vocab_size"]
    heads, hd = hf["num_attention_heads"], hf["head_dim"]

    def mat(*shape: int, std: float = 0.2) -> torch.Tensor:
        return std * torch.randn(*shape, generator=gen)

    def norm(n: int) -> torch.Tensor:
        return 1 + 0.1 * torch.randn(n, generator=gen)

    out = {"model.embed_tokens.weight": mat(v, d), "model.norm.weight": norm(d), "lm_head.weight": mat(v, d)}
    for j in range(hf["num_hidden_layers"]):
        p = f"model.layers.{j}."
        out |= llama_layer(p, hf, mat, norm)
        out |= {
            f"model.gate_projections.{j}.weight": mat(heads, hd, std=0.3),
            f"model.gate_projections.{j}.bias": 0.5 * torch.randn(heads, generator=gen),
        }
    return out


def naive_v1(hf: dict, tensors: dict, ids: list[int]) -> torch.Tensor:
    """Logits [T, vocab] of an IQuestLoopCoder config, position by position, head by head."""
    w = {k: v.double() for k, v in tensors.items()}
    eps, theta = hf["rms_norm_eps"], hf["rope_theta"]
    heads, kv, hd = hf["num_attention_heads"], hf["num_key_value_heads"], hf["head_dim"]
    window, n_layers = hf["loop_window_size"], hf["num_hidden_layers"]
    group = heads // kv
    x = [w["model.embed_tokens.weight"][i] for i in ids]
    loop0_kv: dict[int, list] = {}
    for loop in range(hf["loop_num"]):
        own_kv: dict[int, list] = {}
        for j in range(n_layers):
            p = f"model.layers.{j}."
            qs, ks, vs = [], [], []
            for t, r in enumerate(x):
                z = norm_(r, w[p + "input_layernorm.weight"], eps)
                rot = rotation(t, hd, theta)
                qs.append([rot @ q for q in (w[p + "self_attn.q_proj.weight"] @ z).view(heads, hd)])
                ks.append([rot @ k for k in (w[p + "self_attn.k_proj.weight"] @ z).view(kv, hd)])
                vs.append(list((w[p + "self_attn.v_proj.weight"] @ z).view(kv, hd)))
            own_kv[j] = (ks, vs)
            if loop == 0:
                loop0_kv[j] = (ks, vs)
            new_x = []
            for t, r in enumerate(x):
                out = []
                for h in range(heads):
                    q, g_kv = qs[t][h], h // group
                    gk, gv = loop0_kv[j]
                    glob = attention(
                        q, [gk[s][g_kv] for s in range(t + 1)], [gv[s][g_kv] for s in range(t + 1)]
                    )
                    if loop == 0:
                        out.append(glob)
                        continue
                    lk, lv = own_kv[j]
                    span = range(max(0, t - window + 1), t + 1)  # window keys, the current one included
                    local = attention(q, [lk[s][g_kv] for s in span], [lv[s][g_kv] for s in span])
                    gw, gb = w[f"model.gate_projections.{j}.weight"], w[f"model.gate_projections.{j}.bias"]
                    g = torch.sigmoid(q @ gw[h] + gb[h])  # the post-RoPE query of head h
                    out.append(g * glob + (1 - g) * local)
                r2 = r + w[p + "self_attn.o_proj.weight"] @ torch.cat(out)
                z2 = norm_(r2, w[p + "post_attention_layernorm.weight"], eps)
                act = torch.nn.functional.silu(w[p + "mlp.gate_proj.weight"] @ z2) * (
                    w[p + "mlp.up_proj.weight"] @ z2
                )
                new_x.append(r2 + w[p + "mlp.down_proj.weight"] @ act)
            x = new_x
        # the next loop reads x as it is: same slot, no norm, no embedding
    final = [norm_(r, w["model.norm.weight"], eps) for r in x]
    return torch.stack([w["lm_head.weight"] @ h for h in final])


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


@pytest.fixture(scope="module")
def v1_model():
    hf = tiny_v1()
    tensors = v1_tensors(hf)
    return hf, tensors, Reference(config_from_hf(hf), tensors, dtype=torch.float64)


# ---- config -----------------------------------------------------------------------------------


def test_v1_config_fields():
    cfg = config_from_hf(tiny_v1())
    assert cfg.is_v1
    assert cfg.family == "v1"
    assert cfg.loops == 2
    assert cfg.gate_mode == "query"
    assert not cfg.normalize_per_loop
    assert cfg.local_keys == 4  # loop_window_size counts the current key
    assert "blk.0.loop_gate.weight" in cfg.tensor_names()
    assert cfg.tensor_shapes()["blk.1.loop_gate.weight"] == (4, 8)
    assert not any("plt_gate" in n for n in cfg.tensor_names())


@pytest.mark.parametrize("key", ["loop_num", "loop_window_size"])
def test_v1_config_needs_its_loop_keys(key):
    cfg = tiny_v1()
    del cfg[key]
    with pytest.raises(ArchError, match=key):
        config_from_hf(cfg)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("loop_num", 1),
        ("loop_num", "2"),
        ("loop_window_size", 0),
        ("loop_window_size", True),
        ("loop_window_size", 4.5),
    ],
)
def test_v1_config_refuses_bad_loop_values(key, value):
    with pytest.raises(ArchError, match=key):
        config_from_hf(tiny_v1(**{key: value}))


def test_v2_config_relabelled_as_v1_is_refused(hf_config):
    relabelled = hf_config(architectures=["IQuestLoopCoderForCausalLM"], model_type="iquestloopcoder")
    with pytest.raises(ArchError, match="plt_num_loops|another model family"):
        config_from_hf(relabelled)
    only_arch = hf_config(architectures=["IQuestLoopCoderForCausalLM"])  # model_type still V2's
    with pytest.raises(ArchError, match="relabelled"):
        config_from_hf(only_arch)


def test_v1_config_relabelled_as_v2_is_refused():
    with pytest.raises(ArchError, match="loop_num|another model family"):
        config_from_hf(tiny_v1(architectures=["IQuestPLTCoderForCausalLM"], model_type="iquestpltcoder"))
    with pytest.raises(ArchError, match="relabelled"):
        config_from_hf(tiny_v1(architectures=["IQuestPLTCoderForCausalLM"]))


def test_v2_weights_under_a_v1_config_are_refused(hf_config, random_tensors):
    """Gate tensors of the other family (names and shapes) do not load."""
    v2_tensors = random_tensors(hf_config())
    with pytest.raises(Exception, match="missing tensor 'model.gate_projections.0.weight'"):
        Reference(config_from_hf(tiny_v1()), v2_tensors)


# ---- the forward pass ------------------------------------------------------------------------


def test_reference_equals_the_naive_transcription(v1_model):
    hf, tensors, model = v1_model
    ids = tokens()
    with torch.no_grad():
        assert _rel(model.logits(ids), naive_v1(hf, tensors, ids)) < 1e-10


def test_three_loops_equal_the_naive_transcription():
    hf = tiny_v1(loop_num=3, loop_window_size=3)
    tensors = v1_tensors(hf, seed=4)
    model = Reference(config_from_hf(hf), tensors, dtype=torch.float64)
    ids = tokens(14)
    with torch.no_grad():
        assert _rel(model.logits(ids), naive_v1(hf, tensors, ids)) < 1e-10


@pytest.mark.parametrize(("mode", "chunk"), [("decode", None), ("chunks", 3), ("chunks", 7)])
def test_full_chunked_and_decode_agree(v1_model, mode, chunk):
    _, _, model = v1_model
    ids = tokens()
    with torch.no_grad():
        assert _rel(model.logits(ids, mode=mode, chunk=chunk), model.logits(ids)) < 1e-10


def test_loop_one_reads_loop_zeros_raw_output_at_the_same_slot(v1_model):
    _, _, model = v1_model
    record: dict = {}
    with torch.no_grad():
        model.forward(tokens(), record)
    assert torch.equal(record["inputs"][1], record["outputs"][0])  # raw: outputs[0] is not normed
    assert _rel(record["outputs"][0], record["inputs"][0]) > 0.1


# Each V1 rule of §5, broken on purpose; every one must move the logits far beyond 1e-4.
BROKEN = [
    pytest.param(Variant(v1_loop_input="shifted"), id="loop-input-shifted-one-slot"),
    pytest.param(Variant(v1_loop_input="with_emb"), id="loop-input-embedding-reinjected"),
    pytest.param(Variant(v1_norm_between_loops=True), id="norm-between-loops"),
    pytest.param(Variant(gate_input="query_prerope"), id="gate-reads-pre-rope-query"),
    pytest.param(Variant(gate_weights_global=False), id="gate-weights-local"),
    pytest.param(Variant(local_keys_offset=1), id="window-65-style-W-plus-1"),
    pytest.param(Variant(local_keys_offset=-1), id="window-one-key-short"),
    pytest.param(Variant(global_from_loop0=False), id="global-reads-own-loop"),
    pytest.param(Variant(loop_rope_offset=1), id="loop1-rope-position-offset"),
]


@pytest.mark.parametrize("variant", BROKEN)
@pytest.mark.parametrize("mode", ["full", "decode", "chunks"])
def test_each_broken_v1_rule_changes_the_logits(v1_model, variant, mode):
    hf, tensors, model = v1_model
    broken = Reference(config_from_hf(hf), tensors, dtype=torch.float64, variant=variant)
    ids = tokens()
    with torch.no_grad():
        assert _rel(broken.logits(ids, mode=mode, chunk=6), model.logits(ids)) > 1e-2


def test_window_counts_the_current_key():
    """With loop_window_size 1 the local branch sees only the current position: its value."""
    hf = tiny_v1(loop_window_size=1)
    tensors = v1_tensors(hf, seed=2)
    model = Reference(config_from_hf(hf), tensors, dtype=torch.float64)
    with torch.no_grad():
        assert _rel(model.logits(tokens()), naive_v1(hf, tensors, tokens())) < 1e-10
        wider = Reference(
            config_from_hf(hf), tensors, dtype=torch.float64, variant=Variant(local_keys_offset=1)
        )
        assert _rel(wider.logits(tokens()), model.logits(tokens())) > 1e-2

"""Checks of the reference model against things other than itself.

`naive_forward` below is a second, deliberately plain transcription of plt-model.md §3: one
position and one head at a time, RoPE as an explicit rotation matrix, hyperparameters read
straight from the HF config dict. It shares no code with engine.reference. On top of it:
hand-derivable properties (CLP inputs, loop-1 collapsing to a Llama when b = 0, saturated gates).
"""

from __future__ import annotations

import pytest
import torch
from naive_ops import attention, norm, rotation, tokens

from engine.arch import config_from_hf
from engine.reference import Reference

T = 20


def naive_forward(hf: dict, tensors: dict, ids: list[int], mix: str = "gated") -> torch.Tensor:
    """Logits [T, vocab] in float64. mix: "gated" (the spec), "global" or "local" (g = 1 or 0)."""
    w = {k: v.double() for k, v in tensors.items()}
    eps, theta, d = hf["rms_norm_eps"], hf["rope_theta"], hf["head_dim"]
    n_heads, n_kv, n_layers = hf["num_attention_heads"], hf["num_key_value_heads"], hf["num_hidden_layers"]
    loops, window = hf.get("plt_num_loops", 1), hf.get("plt_window_size", [0, 0])[0]
    a, b = (1.0 if hf.get(key) is None else hf[key] for key in ("plt_emb_scale", "plt_hidden_scale"))
    emb = [w["model.embed_tokens.weight"][x] for x in ids]
    n = len(ids)
    global_kv = {}
    h = None
    for loop in range(loops):
        u = emb if loop == 0 else [a * emb[t] + (b * h[t - 1] if t > 0 else 0) for t in range(n)]
        for j in range(n_layers):
            p = lambda name, j=j: w[f"model.layers.{j}.{name}"]  # noqa: E731
            z = [norm(u[t], p("input_layernorm.weight"), eps) for t in range(n)]
            q = [
                rotation(t, d, theta) @ (p("self_attn.q_proj.weight") @ z[t]).view(n_heads, d).T
                for t in range(n)
            ]  # [d, H] per position
            k = [
                rotation(t, d, theta) @ (p("self_attn.k_proj.weight") @ z[t]).view(n_kv, d).T
                for t in range(n)
            ]
            v = [(p("self_attn.v_proj.weight") @ z[t]).view(n_kv, d).T for t in range(n)]
            if loop == 0:
                global_kv[j] = (k, v)
            gk, gv = global_kv[j]
            new_u = []
            for t in range(n):
                heads = []
                for hd in range(n_heads):
                    kv = hd // (n_heads // n_kv)
                    glob = attention(
                        q[t][:, hd],
                        [gk[s][:, kv] for s in range(t + 1)],
                        [gv[s][:, kv] for s in range(t + 1)],
                    )
                    if loop == 0:
                        heads.append(glob)
                        continue
                    near = range(max(0, t - window), t + 1)  # W + 1 keys
                    local = attention(q[t][:, hd], [k[s][:, kv] for s in near], [v[s][:, kv] for s in near])
                    g = {"global": 1.0, "local": 0.0}.get(mix)
                    if g is None:
                        g = naive_gate(hf, p, u[t], q[t][:, hd], hd, eps)
                    heads.append(g * glob + (1 - g) * local)
                r = u[t] + p("self_attn.o_proj.weight") @ torch.cat(heads)
                m = norm(r, p("post_attention_layernorm.weight"), eps)
                mlp = p("mlp.down_proj.weight") @ (
                    torch.nn.functional.silu(p("mlp.gate_proj.weight") @ m) * (p("mlp.up_proj.weight") @ m)
                )
                new_u.append(r + mlp)
            u = new_u
        last = loop == loops - 1
        h = (
            [norm(x, w["model.norm.weight"], eps) for x in u]
            if last or hf.get("plt_normalize_per_loop", True)
            else u
        )
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return torch.stack([head @ x for x in h])


def naive_gate(hf, p, residual, query_head, head, eps):
    bias = p("self_attn.plt_gate.bias")[head]
    if hf.get("plt_gate_use_hidden_states", True):
        x = norm(residual, p("self_attn.plt_gate.gate_norm.weight"), eps)
        return torch.sigmoid(p("self_attn.plt_gate.weight")[head] @ x + bias)
    return torch.sigmoid(p("self_attn.plt_gate.weight")[head] @ query_head + bias)


# ---- the tests -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loops", "hidden", "normalize"), [(2, True, True), (2, False, False), (3, True, False), (3, False, True)]
)
def test_reference_equals_naive_transcription(hf_config, random_tensors, loops, hidden, normalize):
    hf = hf_config(plt_num_loops=loops, plt_gate_use_hidden_states=hidden, plt_normalize_per_loop=normalize)
    tensors = random_tensors(hf)
    ids = tokens(16)
    model = Reference(config_from_hf(hf), tensors, dtype=torch.float64)
    expected = naive_forward(hf, tensors, ids)
    torch.testing.assert_close(model.logits(ids), expected, atol=1e-10, rtol=0)
    torch.testing.assert_close(model.logits(ids, mode="decode"), expected, atol=1e-10, rtol=0)


def test_llama_config_equals_naive_llama(hf_config, random_tensors):
    hf = hf_config(llama=True, num_key_value_heads=1, tie_word_embeddings=True)
    tensors = random_tensors(hf)
    assert "lm_head.weight" not in tensors
    ids = tokens()
    model = Reference(config_from_hf(hf), tensors, dtype=torch.float64)
    torch.testing.assert_close(model.logits(ids), naive_forward(hf, tensors, ids), atol=1e-10, rtol=0)


@pytest.mark.parametrize(("bias", "mix"), [(1e4, "global"), (-1e4, "local")])
def test_saturated_gate_selects_one_branch(hf_config, random_tensors, bias, mix):
    """σ(+large) = 1: loop 1 attends only loop 0's K/V over all earlier positions (global).
    σ(-large) = 0: loop 1 attends only its own K/V over the last W+1 positions (local)."""
    hf = hf_config()
    tensors = random_tensors(hf)
    for j in range(hf["num_hidden_layers"]):
        tensors[f"model.layers.{j}.self_attn.plt_gate.bias"] = torch.full((4,), bias)
    ids = tokens()
    model = Reference(config_from_hf(hf), tensors, dtype=torch.float64)
    expected = naive_forward(hf, tensors, ids, mix=mix)
    torch.testing.assert_close(model.logits(ids), expected, atol=1e-10, rtol=0)
    other = naive_forward(hf, tensors, ids, mix="local" if mix == "global" else "global")
    assert (model.logits(ids) - other).abs().max() > 0.05


def test_loop_inputs_follow_the_clp_rule(hf_config, random_tensors):
    """§3.3: u^(l)_0 = a*e_0 exactly (zero carry); u^(l)_t = a*e_t + b*h^(l-1)_{t-1}."""
    hf = hf_config(plt_num_loops=3)
    tensors = random_tensors(hf)
    ids = tokens()
    record: dict = {}
    Reference(config_from_hf(hf), tensors).forward(ids, record=record)
    e = tensors["model.embed_tokens.weight"][ids]
    for loop in (1, 2):
        inputs, prev = record["inputs"][loop], record["outputs"][loop - 1]
        assert torch.equal(inputs[0], 0.707 * e[0])
        torch.testing.assert_close(inputs[1:], 0.707 * e[1:] + 0.5 * prev[:-1], atol=1e-6, rtol=0)
    assert torch.equal(record["inputs"][0], e)


def test_loop_one_repeats_loop_zero_when_hidden_scale_is_zero(hf_config, random_tensors):
    """With b = 0, a = 1 loop 1's input is e_t, loop 0's input. If the window also covers the
    whole sequence, loop 1's own K/V equal loop 0's layer by layer, so both branches (and any
    gate) give loop 0's attention: the model is the L = 1 Llama of the same weights. A short
    window breaks the equality."""
    hf = hf_config(plt_emb_scale=1.0, plt_hidden_scale=0.0, plt_window_size=[T, 0])
    tensors = random_tensors(hf)
    ids = tokens()
    record: dict = {}
    looped = Reference(config_from_hf(hf), tensors, dtype=torch.float64).forward(ids, record=record)
    assert torch.equal(record["inputs"][1], record["inputs"][0])
    llama_hf = hf_config(llama=True)
    llama_tensors = {k: v for k, v in tensors.items() if "plt_gate" not in k}
    llama = Reference(config_from_hf(llama_hf), llama_tensors, dtype=torch.float64).forward(ids)
    torch.testing.assert_close(looped, llama, atol=1e-10, rtol=0)
    short = hf_config(plt_emb_scale=1.0, plt_hidden_scale=0.0)
    windowed = Reference(config_from_hf(short), tensors, dtype=torch.float64).forward(ids)
    assert (windowed - llama).abs().max() > 0.05


def test_emb_and_hidden_scales_null_mean_one(hf_config, random_tensors):
    hf = hf_config(plt_emb_scale=None, plt_hidden_scale=None)
    tensors = random_tensors(hf)
    ids = tokens(10)
    ones = Reference(config_from_hf(hf_config(plt_emb_scale=1.0, plt_hidden_scale=1.0)), tensors).logits(ids)
    torch.testing.assert_close(Reference(config_from_hf(hf), tensors).logits(ids), ones, atol=0, rtol=0)
    torch.testing.assert_close(naive_forward(hf, tensors, ids).float(), ones, atol=1e-5, rtol=0)

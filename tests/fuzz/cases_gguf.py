"""GGUF loader mutants: every hyperparameter, the tensor table, the header and the data.

`gguf_cases(base, work)` returns the cases for one base file (a tiny `pltcoder` GGUF from
the `tiny_gguf` fixture). Each case writes its mutant just before it runs and asks
`plt-agent logits` for the logits of three tokens. The first case is the base file itself
(its logits are the reference that `match` cases are compared with).
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from pathlib import Path

from gguf_raw import (
    ARRAY,
    BOOL,
    F32,
    F64,
    I32,
    STRING,
    U8,
    U32,
    U64,
    Gguf,
    TensorInfo,
    enc_value,
    parse,
)
from harness import Case

A = "pltcoder"
NAN, INF = float("nan"), float("inf")
ESC = "\x1b[2J\x1b[31mRED"
MARKUP = "[/bold]x[bold red]"

INT_KEYS = [
    f"{A}.block_count",
    f"{A}.context_length",
    f"{A}.embedding_length",
    f"{A}.feed_forward_length",
    f"{A}.vocab_size",
    f"{A}.attention.head_count",
    f"{A}.attention.head_count_kv",
    f"{A}.attention.key_length",
    f"{A}.plt.loop_count",
    f"{A}.plt.window_size",
    "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.eos_token_id",
]
FLOAT_KEYS = [
    f"{A}.attention.layer_norm_rms_epsilon",
    f"{A}.rope.freq_base",
    f"{A}.plt.emb_scale",
    f"{A}.plt.hidden_scale",
    f"{A}.plt.gate_norm_epsilon",
]
# (type, value, label) for integer keys; None in place of a value means "derived from the original".
INT_VALUES = [
    (U32, 0, "0"),
    (U32, 1, "1"),
    (I32, -1, "-1"),
    (U32, 3, "3"),
    (U32, 2**31, "2^31"),
    (U32, 2**32 - 1, "2^32-1"),
    (U64, 2**63, "2^63"),
    (F32, 2.5, "float 2.5"),
    (F32, NAN, "float NaN"),
    (F32, INF, "float inf"),
    (STRING, "4", "string"),
    (BOOL, True, "bool"),
    (ARRAY, (U32, [4]), "array"),
    ("double", None, "x2"),
    ("half", None, "/2"),
]
FLOAT_VALUES = [
    (F32, 0.0, "0"),
    (F32, -1e-5, "negative"),
    (F32, NAN, "NaN"),
    (F32, INF, "inf"),
    (F32, -INF, "-inf"),
    (F32, 1e-45, "1e-45"),
    (F32, 3e38, "3e38"),
    (F64, 1e300, "f64 1e300"),
    (F64, 1e-300, "f64 1e-300"),
    (STRING, "1e-5", "string"),
    (U32, 0, "int 0"),
    (U32, 10000, "int 10000"),
    (BOOL, True, "bool"),
    ("negate", None, "negated"),
]
STRING_VALUES = [
    (STRING, "", "empty"),
    (STRING, ESC, "ESC sequence"),
    (STRING, MARKUP, "rich markup"),
    (STRING, "x" * 200_000, "200 KB"),
    (STRING, b"\xff\xfe\x80bad", "invalid UTF-8"),
    (STRING, "a\0b", "NUL"),
    (U32, 1, "int"),
]
# Issue 10's findings: always in the default subset.
CORE = {
    "template:loops for ever",
    "template:a 10 GB string",
    "template:a string doubled 40 times",
    "meta:block_count=0",
    "meta:layer_norm_rms_epsilon=NaN",
    "meta:layer_norm_rms_epsilon=negative",
    "meta:gate_norm_epsilon=NaN",
    "meta:gate_norm_epsilon=negative",
    "meta:head_count_kv=0",
    "meta:block_count=2^31",
    "align:string",
    "align:1",
    "align:3",
    "align:7",
    "align:-1",
    "align:float 1.5",
    "tensor:offset+1",
    "tensor:overlap",
    "meta:emb_scale=inf",
    "meta:freq_base=0",
    "meta:hidden_scale=NaN",
    "name:ESC in a tensor name",
    "name:200 KB tensor name",
    "file:[/bold] in the file name",
    "meta:architecture=ESC sequence",
    "meta:architecture=200 KB",
}


def _short(key: str) -> str:
    return key.rsplit(".", 1)[-1] if not key.startswith("tokenizer") else key.split(".", 2)[-1]


class Builder:
    """Makes the cases of one base file under `work`."""

    def __init__(self, base: Path, work: Path, tag: str):
        self.base_bytes = base.read_bytes()
        self.base = parse(self.base_bytes)
        self.work, self.tag = work, tag
        self.ref = work / f"{tag}-ref.npy"
        self.cases: list[Case] = []
        self.n = 0

    def add(
        self,
        group: str,
        label: str,
        expect: str,
        make: Callable[[], bytes | Gguf],
        *,
        name: str | None = None,
        mode: str = "full",
    ) -> None:
        self.n += 1
        path = self.work / (name or f"{self.tag}-{self.n:03d}.gguf")
        out = self.work / f"{self.tag}-{self.n:03d}.npy"
        cid = f"{group}:{label}"

        def prepare() -> None:
            made = make()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(made.to_bytes() if isinstance(made, Gguf) else made)
            out.unlink(missing_ok=True)

        cpu = ["--threads", "1", "--device", "cpu"]
        if mode == "chat":  # the chat template is rendered only when a chat prompt is made
            job = {"kind": "cli", "argv": ["generate", str(path), "-p", "hi", "--chat", "-n", "2", *cpu]}
        else:
            argv = ["logits", str(path), "--ids", "1,2,3", "-o", str(out), *cpu, "--mode", mode]
            job = {"kind": "cli", "argv": argv, "npy": str(out)}
        if expect == "match":
            job["ref"] = str(self.ref)
        case = Case(f"{self.tag}/{cid}", f"gguf-{group}", label, expect, job, core=cid in CORE)
        case.prepare, case.cleanup = prepare, [path, out]
        self.cases.append(case)

    def g(self) -> Gguf:
        return self.base.copy()


def _int_value(orig: int, vtype: object, value: object) -> tuple[int, object]:
    if vtype == "double":
        return U32, orig * 2
    if vtype == "half":
        return U32, orig // 2
    return vtype, value  # type: ignore[return-value]


def _meta_cases(b: Builder) -> None:
    for key in INT_KEYS:
        orig = b.base.find(key).value()
        for vtype, value, label in INT_VALUES:
            t, v = _int_value(orig, vtype, value)
            b.add("meta", f"{_short(key)}={label}", "either", lambda k=key, t=t, v=v: b.g().set(k, t, v))
        b.add("meta", f"{_short(key)} missing", "either", lambda k=key: b.g().drop(k))
    for key in FLOAT_KEYS:
        orig = b.base.find(key).value()
        for vtype, value, label in FLOAT_VALUES:
            t, v = (F32, -orig) if vtype == "negate" else (vtype, value)
            b.add("meta", f"{_short(key)}={label}", "either", lambda k=key, t=t, v=v: b.g().set(k, t, v))
        b.add("meta", f"{_short(key)} missing", "either", lambda k=key: b.g().drop(k))
    for key, values in (
        (
            f"{A}.plt.normalize_per_loop",
            [(BOOL, False, "false"), (U8, 7, "uint8 7"), (STRING, "true", "string")],
        ),
        ("tokenizer.ggml.add_bos_token", [(BOOL, True, "true"), (U32, 5, "int")]),
        (f"{A}.plt.gate_mode", [(STRING, "query", "query"), (STRING, "none", "none"), *STRING_VALUES]),
        ("general.architecture", [(STRING, "llama", "llama"), (STRING, "gpt2", "gpt2"), *STRING_VALUES]),
        (
            "tokenizer.huggingface.json",
            [*STRING_VALUES, (STRING, "[" * 100_000, "100k-deep JSON"), (STRING, "{}", "empty object")],
        ),
        (
            "tokenizer.chat_template",
            [*STRING_VALUES, (STRING, "{% for %}", "bad jinja"), (STRING, "{{ 1/0 }}", "raising jinja")],
        ),
        (
            f"{A}.eos_token_ids",
            [
                (ARRAY, (U32, []), "empty array"),
                (ARRAY, (U32, [2**32 - 1]), "id 2^32-1"),
                (ARRAY, (I32, [-1]), "id -1"),
                (ARRAY, (STRING, [b"x"]), "strings"),
                (ARRAY, (F32, [2.5]), "floats"),
                (ARRAY, (U32, list(range(5000))), "5000 ids"),
                (U32, 2, "scalar"),
                (STRING, "2", "string"),
            ],
        ),
    ):
        for vtype, value, label in values:
            b.add(
                "meta", f"{_short(key)}={label}", "either", lambda k=key, t=vtype, v=value: b.g().set(k, t, v)
            )
    b.add("meta", "architecture missing", "either", lambda: b.g().drop("general.architecture"))
    b.add("meta", "tokenizer json missing", "either", lambda: b.g().drop("tokenizer.huggingface.json"))
    # Equivalent files: must give the same logits.
    b.add("same", "general.name=ESC sequence", "match", lambda: b.g().set("general.name", STRING, ESC))
    b.add("same", "general.name=rich markup", "match", lambda: b.g().set("general.name", STRING, MARKUP))
    b.add("same", "unknown key added", "match", lambda: b.g().set("x.unknown", STRING, "y"))
    b.add("same", "keys reversed", "match", lambda: _reversed_keys(b.g()))
    # Duplicate keys: llama.cpp and gguf-py refuse them.
    for key, label in ((f"{A}.block_count", "same value"), (f"{A}.attention.head_count", "same value")):
        b.add("dup", f"duplicate {_short(key)} ({label})", "reject", lambda k=key: _duplicate(b.g(), k, None))
    b.add("dup", "duplicate block_count (1)", "reject", lambda: _duplicate(b.g(), f"{A}.block_count", 1))
    b.add("dup", "duplicate eps (NaN)", "reject", lambda: _duplicate(b.g(), FLOAT_KEYS[0], NAN))


def _reversed_keys(g: Gguf) -> Gguf:
    g.kvs.reverse()
    return g


def _duplicate(g: Gguf, key: str, value: object) -> Gguf:
    kv = g.find(key)
    raw = kv.raw if value is None else enc_value(kv.vtype, value)
    g.kvs.append(type(kv)(kv.key, kv.vtype, raw))
    return g


def _align_cases(b: Builder) -> None:
    header = len(b.base.header())

    def declared(vtype: int, value: object) -> Gguf:
        g = b.g()
        g.set("general.alignment", vtype, value)
        # the layout stays as written (32): only the declaration changes, and the header grows
        return g

    for vtype, value, label in [
        (U32, 1, "1"),
        (U32, 3, "3"),
        (U32, 7, "7"),
        (I32, -1, "-1"),
        (U32, 0, "0"),
        (F32, 1.5, "float 1.5"),
        (STRING, "32", "string"),
        (U32, 64, "64"),
        (U32, 16, "16"),
        (U32, 2**31, "2^31"),
        (U64, 32, "uint64 32"),
    ]:
        expect = "reject"
        if vtype == U32 and value in (16, 32):
            g = declared(vtype, value)
            h = len(g.header())
            if -h % value == -h % 32:  # the declaration happens to describe the layout exactly
                expect = "match"
        b.add("align", label, expect, lambda t=vtype, v=value: declared(t, v))
    for align in (1, 8, 64, 256):
        b.add("same", f"relayout at alignment {align}", "match", lambda a=align: b.g().relayout(a))
    b.add(
        "same",
        "tensors in reverse order",
        "match",
        lambda: b.g().relayout(32, list(range(len(b.base.tensors)))[::-1]),
    )
    del header


def _tensor_cases(b: Builder) -> None:
    names = [t.name.decode() for t in b.base.tensors]
    mid = names[len(names) // 2]

    def edit(fn: Callable[[Gguf], None]) -> Callable[[], Gguf]:
        def make() -> Gguf:
            g = b.g()
            fn(g)
            return g

        return make

    def shift(name: str, by: int) -> Callable[[Gguf], None]:
        return lambda g: setattr(g.tensor(name), "offset", g.tensor(name).offset + by)

    b.add("tensor", "offset+1", "reject", edit(shift(mid, 1)))
    b.add("tensor", "offset+4", "reject", edit(shift(mid, 4)))
    b.add("tensor", "overlap", "reject", edit(shift(mid, 32)))
    b.add("tensor", "offset-32 (overlap back)", "reject", edit(shift(mid, -32)))
    b.add(
        "tensor", "offset past EOF", "reject", edit(lambda g: setattr(g.tensor(mid), "offset", len(g.data)))
    )
    b.add("tensor", "offset 2^63", "reject", edit(lambda g: setattr(g.tensor(mid), "offset", 2**63)))
    b.add("tensor", "offset 2^64-32", "reject", edit(lambda g: setattr(g.tensor(mid), "offset", 2**64 - 32)))

    def swap(g: Gguf) -> None:
        a, c = g.tensor("blk.0.ffn_gate.weight"), g.tensor("blk.0.ffn_up.weight")
        a.offset, c.offset = c.offset, a.offset

    b.add("tensor", "two tensors' offsets swapped", "reject", edit(swap))

    def all_shift(g: Gguf) -> None:
        for t in g.tensors:
            t.offset += 32
        g.data = bytes(32) + g.data

    b.add("tensor", "a gap before the first tensor", "either", edit(all_shift))

    def ne(name: str, value: list[int]) -> Callable[[Gguf], None]:
        return lambda g: setattr(g.tensor(name), "ne", value)

    emb = "token_embd.weight"
    orig = b.base.tensor(emb).ne
    for label, value in [
        ("ne[0] x2", [orig[0] * 2, orig[1]]),
        ("ne[0]=0", [0, orig[1]]),
        ("ne[1]=0", [orig[0], 0]),
        ("ne = 2^63", [2**63, 2]),
        ("ne[1] = 2^40", [orig[0], 2**40]),
        ("ne overflows int64", [2**32, 2**32, 2**32, 1]),
        ("extra dim of 1", [*orig, 1]),
        ("0 dims", []),
        ("5 dims", [*orig, 1, 1, 1]),
        ("ne[0] odd", [orig[0] - 1, orig[1]]),
    ]:
        b.add(
            "tensor",
            f"{emb} {label}",
            "reject" if label != "extra dim of 1" else "either",
            edit(ne(emb, value)),
        )
    norm = "output_norm.weight"
    b.add("tensor", "type 99", "reject", edit(lambda g: setattr(g.tensor(norm), "ttype", 99)))
    b.add("tensor", "type 2^32-1", "reject", edit(lambda g: setattr(g.tensor(norm), "ttype", 2**32 - 1)))
    b.add("tensor", "norm as F16", "reject", edit(lambda g: setattr(g.tensor(norm), "ttype", 1)))
    b.add("tensor", "matrix as Q8_0", "reject", edit(lambda g: setattr(g.tensor(emb), "ttype", 8)))
    b.add("tensor", "I32 type", "reject", edit(lambda g: setattr(g.tensor(norm), "ttype", 26)))

    def drop(g: Gguf) -> None:
        g.tensors = [t for t in g.tensors if t.name != mid.encode()]

    b.add("tensor", "a tensor info dropped", "reject", edit(drop))

    def dup(g: Gguf) -> None:
        t = g.tensor(norm)
        g.tensors.append(TensorInfo(t.name, list(t.ne), t.ttype, len(g.data)))
        g.data += g.tensor_bytes(t) + bytes(-t.nbytes % 32)

    b.add("tensor", "duplicate tensor name", "reject", edit(dup))

    def extra(name: bytes, ttype: int = 0) -> Callable[[Gguf], None]:
        def fn(g: Gguf) -> None:
            g.tensors.append(TensorInfo(name, [64], ttype, len(g.data)))
            g.data += bytes(256)

        return fn

    b.add("tensor", "extra unknown tensor", "either", edit(extra(b"extra.weight")))
    b.add("name", "ESC in a tensor name", "reject", edit(extra(ESC.encode(), 99)))
    b.add("name", "rich markup in a tensor name", "reject", edit(extra(MARKUP.encode(), 99)))
    b.add("name", "200 KB tensor name", "reject", edit(extra(b"t" * 200_000, 99)))
    b.add("name", "invalid UTF-8 tensor name", "reject", edit(extra(b"\xff\xfe\x80", 99)))
    b.add("name", "newline in a tensor name", "reject", edit(extra(b"a\nb\r\nc", 99)))
    b.add("name", "bidi override in a tensor name", "reject", edit(extra("a\u202eb".encode(), 99)))
    b.add("name", "empty tensor name", "reject", edit(extra(b"", 99)))

    def rename(g: Gguf) -> None:
        g.tensor(norm).name = ESC.encode()

    b.add("name", "ESC name replaces a needed one", "reject", edit(rename))


def _header_cases(b: Builder, rng: random.Random, flips: int = 24) -> None:
    data = b.base_bytes
    head = len(b.base.header())

    def patch(at: int, raw: bytes) -> Callable[[], bytes]:
        return lambda: data[:at] + raw + data[at + len(raw) :]

    b.add("header", "bad magic", "reject", patch(0, b"GGUG"))
    for v in (1, 4, 2**32 - 1):
        b.add("header", f"version {v}", "reject", patch(4, struct.pack("<I", v)))
    n_t, n_kv = len(b.base.tensors), len(b.base.kvs)
    for label, nt, nk in [
        ("n_tensors+1", n_t + 1, n_kv),
        ("n_tensors-1", n_t - 1, n_kv),
        ("n_tensors 2^63", 2**63, n_kv),
        ("n_kv+1", n_t, n_kv + 1),
        ("n_kv-1", n_t, n_kv - 1),
        ("n_kv 2^63", n_t, 2**63),
        ("n_tensors 0", 0, n_kv),
    ]:
        b.add("header", label, "reject", patch(8, struct.pack("<QQ", nt, nk)))
    for cut in sorted({0, 3, 4, 8, 23, 24, 100, head - 1, head, head + 100, len(data) - 1, len(data) - 256}):
        b.add("truncated", f"cut at {cut}", "reject", lambda c=cut: data[:c])
    first_key = 24
    b.add("header", "key length 2^63", "reject", patch(first_key, struct.pack("<Q", 2**63)))
    b.add("header", "key length = file size", "reject", patch(first_key, struct.pack("<Q", len(data))))
    # the first record is general.architecture (a string): its type is at 24 + 8 + len(key)
    type_at = first_key + 8 + len(b.base.kvs[0].key)
    for t in (13, 255, 2**31):
        b.add("header", f"value type {t}", "reject", patch(type_at, struct.pack("<I", t)))
    b.add("header", "string length 2^63", "reject", patch(type_at + 4, struct.pack("<Q", 2**63)))

    def nested(depth: int) -> Gguf:
        raw = struct.pack("<IQ", ARRAY, 1) * depth + struct.pack("<IQ", U32, 1) + struct.pack("<I", 7)
        return b.g().set_raw("x.nested", ARRAY, raw)

    b.add("header", "arrays nested 100k deep", "reject", lambda: nested(100_000))
    b.add("header", "arrays nested 2 deep", "either", lambda: nested(1))
    b.add(
        "header",
        "array of 2^62 items",
        "reject",
        lambda: b.g().set_raw("x.big", ARRAY, struct.pack("<IQ", U32, 2**62)),
    )
    b.add(
        "header",
        "array of 2^40 strings",
        "reject",
        lambda: b.g().set_raw("x.big", ARRAY, struct.pack("<IQ", STRING, 2**40)),
    )
    for i in range(flips):
        n_flips = 1 + i % 4

        def flip(seed: int = rng.randrange(2**32), n: int = n_flips) -> bytes:
            r = random.Random(seed)
            buf = bytearray(data)
            for _ in range(n):
                buf[r.randrange(head)] = r.randrange(256)
            return bytes(buf)

        b.add("flip-header", f"random header bytes #{i} ({n_flips} bytes)", "either", flip)


def _data_cases(b: Builder, rng: random.Random, flips: int = 10) -> None:
    g0 = b.base
    start = len(b.base_bytes) - len(g0.data)

    def put(name: str, index: int, value: float) -> Callable[[], bytes]:
        t = g0.tensor(name)

        def make() -> bytes:
            buf = bytearray(b.base_bytes)
            struct.pack_into("<f", buf, start + t.offset + 4 * index, value)
            return bytes(buf)

        return make

    present = {t.name.decode() for t in g0.tensors}
    for label, name, index, value in [
        ("NaN in output_norm", "output_norm.weight", 3, NAN),
        ("inf in output_norm", "output_norm.weight", 0, INF),
        ("NaN in the embedding of token 2", "token_embd.weight", 2 * 64 + 5, NAN),
        ("1e38 in the embedding of token 1", "token_embd.weight", 64, 1e38),
        ("inf in blk.0.attn_q", "blk.0.attn_q.weight", 7, INF),
        ("NaN in a gate bias", "blk.1.plt_gate.bias", 0, NAN),
        ("3e38 in output.weight", "output.weight", 100, 3e38),
    ]:
        if name in present:
            b.add("data", label, "either", put(name, index, value))
    for i in range(flips):

        def flip(seed: int = rng.randrange(2**32)) -> bytes:
            r = random.Random(seed)
            buf = bytearray(b.base_bytes)
            for _ in range(8):
                buf[r.randrange(start, len(buf))] = r.randrange(256)
            return bytes(buf)

        b.add("flip-data", f"random data bytes #{i}", "either", flip)
    b.add("data", "5 bytes appended", "either", lambda: b.base_bytes + bytes(5))
    b.add("data", "1000 bytes appended", "either", lambda: b.base_bytes + bytes(1000))


def _template_cases(b: Builder) -> None:
    """Chat templates from the file, rendered by `generate --chat`."""
    key = "tokenizer.chat_template"
    for label, template in [
        ("division by zero", "{{ 1/0 }}"),
        ("syntax error", "{% for %}"),
        ("raise_exception", "{{ raise_exception('boom') }}"),
        ("sandbox escape", "{{ messages.__class__.__mro__[1].__subclasses__() }}"),
        ("recursive macro", "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"),
        ("undefined call", "{{ nothing() }}"),
        ("type error", "{{ messages + 1 }}"),
        ("ESC and markup in the prompt", "\x1b[2J[/bold]{{ messages[0].content }}"),
        ("empty", ""),
        ("loops for ever", "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"),
        ("a 10 GB string", "{{ 'x' * 10000000000 }}"),
        (
            "a string doubled 40 times",
            "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
            "{% endfor %}{{ ns.s }}",
        ),
    ]:
        b.add("template", label, "either", lambda t=template: b.g().set(key, STRING, t), mode="chat")
    b.add("template", "the base file's template", "ok", lambda: b.base_bytes, mode="chat")


def _file_cases(b: Builder) -> None:
    cut = b.base_bytes[:1000]
    b.add("file", "[/bold] in the file name", "reject", lambda: cut, name="[/bold]x[red].gguf")
    b.add("file", "ESC in the file name", "reject", lambda: cut, name="\x1b[2Jx.gguf")
    b.add("file", "newline in the file name", "reject", lambda: cut, name="a\nb.gguf")
    b.add("file", "non-UTF-8 file name", "reject", lambda: cut, name="\udcff\udcfe.gguf")
    b.add("file", "empty file", "reject", lambda: b"")
    b.add("same", "good file, [/bold] name", "match", lambda: b.base_bytes, name="[/bold]good.gguf")
    b.add("same", "good file, decode mode", "ok", lambda: b.base_bytes, mode="decode")
    b.add("same", "good file, chunks of 2", "ok", lambda: b.base_bytes, mode="chunks:2")


def gguf_cases(base: Path, work: Path, tag: str = "f32", seed: int = 10) -> list[Case]:
    """Every GGUF case for `base`; the first one writes the reference logits."""
    work.mkdir(parents=True, exist_ok=True)
    b = Builder(base, work, tag)
    b.add("same", "the base file", "ok", lambda: b.base_bytes)
    b.cases[0].job["npy"] = str(b.ref)
    b.cases[0].job["argv"][b.cases[0].job["argv"].index("-o") + 1] = str(b.ref)
    b.cases[0].core = True
    b.cases[0].cleanup = [Path(b.cases[0].job["argv"][1])]
    rng = random.Random(seed)
    _meta_cases(b)
    _align_cases(b)
    _tensor_cases(b)
    _header_cases(b, rng)
    _data_cases(b, rng)
    _template_cases(b)
    _file_cases(b)
    return b.cases


LLAMA_KEYS = (
    "context_length",
    "embedding_length",
    "feed_forward_length",
    "block_count",
    "vocab_size",
    "attention.head_count",
    "attention.head_count_kv",
    "attention.key_length",
    "attention.layer_norm_rms_epsilon",
    "rope.freq_base",
)
I32_TYPE = 5


def to_llama(g: Gguf) -> Gguf:
    """A `llama` file (as llama.cpp's converter writes one) from a one-loop `pltcoder` file:
    the llama.* keys and a GPT-2 style vocabulary (tokens, types, merges) for llama.cpp's
    tokenizer. The Q/K rows are not permuted: the logits are finite, not the original's."""
    import json

    tok = json.loads(g.find("tokenizer.huggingface.json").value())
    out = g.copy()
    out.kvs = []
    for kv in g.kvs:
        key = kv.key.decode()
        if key == "general.architecture":
            out.set(key, STRING, "llama")
        elif key.startswith(f"{A}.") and key[len(A) + 1 :] in LLAMA_KEYS:
            out.set_raw(f"llama.{key[len(A) + 1 :]}", kv.vtype, kv.raw)
        elif not key.startswith(f"{A}.") and key != "tokenizer.huggingface.json":
            out.kvs.append(kv)
    vocab = {i: t for t, i in tok["model"]["vocab"].items()}
    types = {i: 1 for i in vocab}
    for t in tok["added_tokens"]:
        vocab[t["id"]] = t["content"]
        types[t["id"]] = 3 if t["special"] else 4
    n = max(vocab) + 1
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    out.set("tokenizer.ggml.model", STRING, "gpt2")
    out.set("tokenizer.ggml.pre", STRING, "default")
    out.set("tokenizer.ggml.tokens", ARRAY, (STRING, [vocab.get(i, f"<unused{i}>") for i in range(n)]))
    out.set("tokenizer.ggml.token_type", ARRAY, (I32_TYPE, [types.get(i, 5) for i in range(n)]))
    out.set("tokenizer.ggml.merges", ARRAY, (STRING, merges))
    return out


def _llama_cases(b: Builder, rng: random.Random) -> None:
    """The `llama` loader path: its hyperparameters and llama.cpp's vocabulary keys."""
    for name in LLAMA_KEYS:
        key = f"llama.{name}"
        kv = b.base.find(key)
        values = FLOAT_VALUES if kv.vtype == F32 else INT_VALUES
        for vtype, value, label in values[::2]:
            if vtype in ("double", "half", "negate"):
                continue
            b.add("llama", f"{name}={label}", "either", lambda k=key, t=vtype, v=value: b.g().set(k, t, v))
        b.add("llama", f"{name} missing", "either", lambda k=key: b.g().drop(k))
    b.add(
        "llama",
        "no key_length, 63 wide",
        "either",
        lambda: b.g().drop("llama.attention.key_length").set("llama.embedding_length", U32, 63),
    )
    for label, key, vtype, value in [
        ("rope scaling yarn", "llama.rope.scaling.type", STRING, "yarn"),
        ("rope scaling factor 4", "llama.rope.scaling.factor", F32, 4.0),
        ("rope scaling factor string", "llama.rope.scaling.factor", STRING, "x"),
        ("rope scaling type int", "llama.rope.scaling.type", U32, 3),
        ("rope dimension_count 8", "llama.rope.dimension_count", U32, 8),
        ("rope dimension_count string", "llama.rope.dimension_count", STRING, "16"),
        ("vocab model bogus", "tokenizer.ggml.model", STRING, "bogus"),
        ("vocab model llama (no scores)", "tokenizer.ggml.model", STRING, "llama"),
        ("vocab model bert", "tokenizer.ggml.model", STRING, "bert"),
        ("vocab model ESC", "tokenizer.ggml.model", STRING, ESC),
        ("vocab model int", "tokenizer.ggml.model", U32, 1),
        ("pre-tokenizer bogus", "tokenizer.ggml.pre", STRING, "bogus"),
        ("tokens empty", "tokenizer.ggml.tokens", ARRAY, (STRING, [])),
        ("tokens ints", "tokenizer.ggml.tokens", ARRAY, (U32, list(range(384)))),
        ("tokens too few", "tokenizer.ggml.tokens", ARRAY, (STRING, [f"t{i}" for i in range(100)])),
        ("tokens 5000", "tokenizer.ggml.tokens", ARRAY, (STRING, [f"t{i}" for i in range(5000)])),
        (
            "tokens with ESC and bad UTF-8",
            "tokenizer.ggml.tokens",
            ARRAY,
            (STRING, [ESC, b"\xff\xfe", ""] + [f"t{i}" for i in range(381)]),
        ),
        ("token types wrong length", "tokenizer.ggml.token_type", ARRAY, (I32_TYPE, [1] * 10)),
        ("token types strings", "tokenizer.ggml.token_type", ARRAY, (STRING, [b"x"] * 384)),
        ("token types huge", "tokenizer.ggml.token_type", ARRAY, (I32_TYPE, [2**31 - 1] * 384)),
        ("merges garbage", "tokenizer.ggml.merges", ARRAY, (STRING, ["abc", "", " ", "a  b"])),
        ("merges ints", "tokenizer.ggml.merges", ARRAY, (U32, [1, 2, 3])),
        ("bos id 10^6", "tokenizer.ggml.bos_token_id", U32, 10**6),
        ("eos id 2^32-1", "tokenizer.ggml.eos_token_id", U32, 2**32 - 1),
        ("padding id huge", "tokenizer.ggml.padding_token_id", U32, 2**31),
        ("unknown id huge", "tokenizer.ggml.unknown_token_id", U32, 2**31),
        ("add_bos string", "tokenizer.ggml.add_bos_token", STRING, "yes"),
    ]:
        b.add(
            "llama-vocab" if key.startswith("tokenizer") else "llama",
            label,
            "either",
            lambda k=key, t=vtype, v=value: b.g().set(k, t, v),
        )
    b.add("llama-vocab", "tokens missing", "either", lambda: b.g().drop("tokenizer.ggml.tokens"))
    b.add("llama-vocab", "merges missing", "either", lambda: b.g().drop("tokenizer.ggml.merges"))
    b.add("llama", "keys reversed", "match", lambda: _reversed_keys(b.g()))
    b.add("llama", "relayout at alignment 64", "match", lambda: b.g().relayout(64))
    _header_cases(b, rng, flips=8)
    _data_cases(b, rng, flips=4)


def llama_cases(base: Path, work: Path, seed: int = 11) -> list[Case]:
    """Cases for a `llama` file made by `to_llama` from a one-loop tiny GGUF."""
    work.mkdir(parents=True, exist_ok=True)
    llama = work / "llama-base.gguf"
    llama.write_bytes(to_llama(parse(base.read_bytes())).to_bytes())
    b = Builder(llama, work, "llama")
    b.add("same", "the llama base file", "ok", lambda: b.base_bytes)
    b.cases[0].job["npy"] = str(b.ref)
    b.cases[0].job["argv"][b.cases[0].job["argv"].index("-o") + 1] = str(b.ref)
    b.cases[0].core = True
    b.cases[0].cleanup = [Path(b.cases[0].job["argv"][1])]
    _llama_cases(b, random.Random(seed))
    return b.cases


def as_model_loads(cases: list[Case]) -> list[Case]:
    """The same mutants loaded as `fix --model FILE.gguf` would (llama.cpp for llama files)."""
    out = []
    for c in cases:
        if c.job["argv"][0] != "logits" or "template" in c.group:
            continue
        expect = "either" if c.expect == "match" else c.expect
        job = {"kind": "model", "path": c.job["argv"][1]}
        group = c.group.replace("gguf-", "model-")
        out.append(
            Case(
                "model/" + c.id, group, c.what, expect, job, core=c.core, prepare=c.prepare, cleanup=c.cleanup
            )
        )
    return out

"""Converter mutants: safetensors shards, the shard index, config.json and the tokenizer files.

`convert_cases(checkpoint, work)` returns cases that each copy the tiny checkpoint, damage
one file and run `plt-agent convert` on the copy. A shard mutant's expectation comes from
the `safetensors` library itself: what it refuses, the converter must refuse too.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path

from harness import Case

ESC = "\x1b[2J\x1b[31mRED"
MARKUP = "[/bold]x[bold red]"
INDEX = "model.safetensors.index.json"
DEEP = "[" * 100_000 + "]" * 100_000
BIG_INT = "1" + "0" * 5000
CORE = {
    "shard:header length +1",
    "shard:header length -1",
    "shard:100k-deep JSON in the metadata",
    "shard:100k-deep JSON header",
    "shard:5000-digit offset",
    "shard:overlapping offsets",
    "shard:misaligned offset (+1)",
    "shard:duplicate tensor key",
    "index:100k-deep JSON",
    "index:5000-digit integer",
    "config:num_attention_heads=0",
    "config:num_hidden_layers=1e7",
    "config:num_hidden_layers=10000000",
    "config:5000-digit integer",
    "config:100k-deep JSON",
}


def _st_split(data: bytes) -> tuple[dict, bytes]:
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def _st_join(header: dict | str | bytes, body: bytes, n: int | None = None) -> bytes:
    raw = (
        header
        if isinstance(header, bytes)
        else (header if isinstance(header, str) else json.dumps(header)).encode("utf-8", "surrogateescape")
    )
    raw += b" " * (-len(raw) % 8)
    return (len(raw) if n is None else n).to_bytes(8, "little", signed=n is not None and n < 0) + raw + body


def _safetensors_rejects(data: bytes) -> bool:
    """Whether the `safetensors` library refuses the file (header and every tensor's bytes)."""
    from safetensors import deserialize

    try:
        deserialize(data)
    except Exception:  # noqa: BLE001 - any refusal counts
        return True
    return False


class Builder:
    def __init__(self, checkpoint: Path, work: Path):
        self.src, self.work = checkpoint, work
        self.index = json.loads((checkpoint / INDEX).read_text())
        self.shard = sorted(set(self.index["weight_map"].values()))[0]
        self.shard_bytes = (checkpoint / self.shard).read_bytes()
        self.cases: list[Case] = []

    def add(self, group: str, label: str, expect: str, change: Callable[[Path], None]) -> None:
        n = len(self.cases)
        target = self.work / f"ck{n:03d}"
        out = self.work / f"out{n:03d}.gguf"

        def prepare() -> None:
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(self.src, target)
            change(target)

        argv = ["convert", str(target), "-o", str(out), "--outtype", "f32"]
        cid = f"{group}:{label}"
        case = Case(f"convert/{cid}", f"convert-{group}", label, expect, {"kind": "cli", "argv": argv})
        case.core, case.prepare, case.cleanup = cid in CORE, prepare, [target, out]
        self.cases.append(case)

    # -- shards -------------------------------------------------------------------------

    def shard_case(
        self, label: str, make: Callable[[dict, bytes], bytes], *, expect: str | None = None
    ) -> None:
        header, body = _st_split(self.shard_bytes)
        data = make(header, body)
        verdict = expect or ("reject" if _safetensors_rejects(data) else "either")
        self.add("shard", label, verdict, lambda d: (d / self.shard).write_bytes(data))

    def file_case(self, group: str, name: str, label: str, content: bytes | str | None, expect: str) -> None:
        def change(d: Path) -> None:
            if content is None:
                (d / name).unlink()
            else:
                raw = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content
                (d / name).write_bytes(raw)

        self.add(group, label, expect, change)

    def json_case(
        self, group: str, name: str, label: str, edit: Callable[[dict], object], expect: str
    ) -> None:
        def change(d: Path) -> None:
            data = json.loads((d / name).read_text())
            result = edit(data)
            text = result if isinstance(result, str) else json.dumps(data)
            (d / name).write_text(text, encoding="utf-8", errors="surrogateescape")

        self.add(group, label, expect, change)


def _ordered(header: dict) -> list[str]:
    return sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])


def _shard_cases(b: Builder, rng: random.Random) -> None:
    def header_text(h: dict) -> str:
        return json.dumps(h)

    def length(delta: int) -> Callable[[dict, bytes], bytes]:
        def make(h: dict, body: bytes) -> bytes:
            raw = b.shard_bytes
            n = int.from_bytes(raw[:8], "little") + delta
            return n.to_bytes(8, "little") + raw[8:]

        return make

    for delta in (1, -1, 8, -8, 2, -2):
        b.shard_case(f"header length {delta:+d}", length(delta))
    for label, n in (("0", 0), ("2^63", 2**63), ("2^64-1", 2**64 - 1), ("file size", len(b.shard_bytes))):
        b.shard_case(
            f"header length {label}", lambda h, body, n=n: n.to_bytes(8, "little") + b.shard_bytes[8:]
        )

    def text(t: str) -> Callable[[dict, bytes], bytes]:
        return lambda h, body: _st_join(t, body)

    b.shard_case("100k-deep JSON header", text(DEEP))

    def meta(value_text: str) -> Callable[[dict, bytes], bytes]:
        def make(h: dict, body: bytes) -> bytes:
            rest = {k: v for k, v in h.items() if k != "__metadata__"}
            return _st_join('{"__metadata__": {"x": ' + value_text + "}, " + json.dumps(rest)[1:], body)

        return make

    b.shard_case("100k-deep JSON in the metadata", meta(DEEP))
    b.shard_case("5000-digit integer in the metadata", meta(BIG_INT))
    b.shard_case("metadata value not a string", meta("5"))

    def edit(fn: Callable[[dict], None]) -> Callable[[dict, bytes], bytes]:
        def make(h: dict, body: bytes) -> bytes:
            h = json.loads(json.dumps(h))
            fn(h)
            return _st_join(h, body)

        return make

    names = _ordered(json.loads(b.shard_bytes[8 : 8 + int.from_bytes(b.shard_bytes[:8], "little")]))
    first, mid, last = names[0], names[len(names) // 2], names[-1]

    def set_field(name: str, key: str, value: object) -> Callable[[dict], None]:
        return lambda h: h[name].__setitem__(key, value)

    b.shard_case(
        "5000-digit offset",
        lambda h, body: _st_join(json.dumps(h).replace(str(h[mid]["data_offsets"][1]), BIG_INT, 1), body),
    )
    b.shard_case(
        "5000-digit shape",
        lambda h, body: _st_join(
            json.dumps({**h, mid: {**h[mid], "shape": [0]}}).replace('"shape": [0]', f'"shape": [{BIG_INT}]'),
            body,
        ),
    )

    def shift(name: str, by: int) -> Callable[[dict], None]:
        def fn(h: dict) -> None:
            a, e = h[name]["data_offsets"]
            h[name]["data_offsets"] = [a + by, e + by]

        return fn

    b.shard_case("overlapping offsets", edit(shift(mid, -2)))
    b.shard_case("misaligned offset (+1)", edit(shift(mid, 1)))
    b.shard_case("last tensor past the end", edit(shift(last, 4)))

    def swap(h: dict) -> None:
        h[first]["data_offsets"], h[mid]["data_offsets"] = h[mid]["data_offsets"], h[first]["data_offsets"]

    b.shard_case("two tensors' offsets swapped (sizes differ)", edit(swap))

    def dup_text(h: dict, body: bytes) -> bytes:
        t = json.dumps(h)
        entry = json.dumps(h[mid])
        return _st_join(t[:-1] + f', "{mid}": {entry}' + "}", body)

    b.shard_case("duplicate tensor key", dup_text)

    def dup_other(h: dict, body: bytes) -> bytes:
        t = json.dumps(h)
        entry = json.dumps(h[first])
        return _st_join(t[:-1] + f', "{mid}": {entry}' + "}", body)

    b.shard_case("duplicate key pointing at other data", dup_other)
    b.shard_case("trailing bytes after the data", lambda h, body: _st_join(h, body + bytes(16)))
    b.shard_case("data one byte short", lambda h, body: _st_join(h, body[:-1]))
    b.shard_case(
        "a gap between tensors",
        lambda h, body: _st_join(_gap(h, mid, 2), _insert(body, h[mid]["data_offsets"][0], 2)),
    )
    b.shard_case("data stored in reverse order", lambda h, body: _reverse(h, body))
    for label, value in [
        ("dtype F64", "F64"),
        ("dtype I8", "I8"),
        ("dtype bogus", "bogus"),
        ("dtype lower-case bf16", "bf16"),
        ("dtype ESC", ESC),
        ("dtype 200 KB", "x" * 200_000),
    ]:
        b.shard_case(label, edit(set_field(mid, "dtype", value)))
    for label, value in [
        ("shape negative", [-1, 64]),
        ("shape float", [64.0, 64]),
        ("shape huge", [2**40, 2**40]),
        ("shape string", "64"),
        ("shape nested", [[64]]),
        ("shape wrong", [1, 2]),
    ]:
        b.shard_case(label, edit(set_field(mid, "shape", value)))
    for label, value in [
        ("offsets three items", [0, 8, 16]),
        ("offsets reversed", [100, 0]),
        ("offsets negative", [-8, 0]),
        ("offsets strings", ["0", "8"]),
        ("offsets 2^64", [2**64, 2**64 + 8]),
    ]:
        b.shard_case(label, edit(set_field(mid, "data_offsets", value)))
    b.shard_case("entry not an object", edit(lambda h: h.__setitem__(mid, [1, 2])))
    b.shard_case("entry lacks dtype", edit(lambda h: h[mid].pop("dtype")))
    b.shard_case("metadata a list", edit(lambda h: h.__setitem__("__metadata__", [1])))
    b.shard_case("metadata nested object", edit(lambda h: h.__setitem__("__metadata__", {"a": {"b": "c"}})))
    b.shard_case("header a JSON array", text("[1, 2]"))
    b.shard_case("header not UTF-8", lambda h, body: _st_join(b"\xff\xfe" + json.dumps(h).encode(), body))
    b.shard_case("header padded with NUL", lambda h, body: _pad_nul(h, body))
    b.shard_case(
        "header with NaN literal",
        lambda h, body: _st_join(json.dumps({**h, "__metadata__": {"x": "y"}})[:-1] + ', "n": NaN}', body),
    )

    def rename(new: str) -> Callable[[dict], None]:
        def fn(h: dict) -> None:
            h[new] = h.pop(mid)

        return fn

    for label, new in [
        ("tensor name with ESC", ESC),
        ("tensor name with rich markup", MARKUP),
        ("tensor name 200 KB", "w" * 200_000),
        ("tensor name with a newline", "a\nb"),
        ("tensor name non-UTF-8", "\udcff\udcfe"),
    ]:
        b.shard_case(label, edit(rename(new)), expect="reject")
    data = b.shard_bytes
    for cut in (0, 7, 8, 100, len(data) // 2, len(data) - 1):
        b.add("shard", f"cut at {cut}", "reject", lambda d, c=cut: (d / b.shard).write_bytes(data[:c]))
    n = int.from_bytes(data[:8], "little")
    for i in range(12):

        def flip(d: Path, seed: int = rng.randrange(2**32), i: int = i) -> None:
            r = random.Random(seed)
            buf = bytearray(data)
            lo, hi = (0, 8 + n) if i % 2 == 0 else (8 + n, len(data))
            for _ in range(1 + i % 3):
                buf[r.randrange(lo, hi)] = r.randrange(256)
            (d / b.shard).write_bytes(bytes(buf))

        b.add("flip", f"random {'header' if i % 2 == 0 else 'data'} bytes #{i}", "either", flip)


def _gap(h: dict, name: str, by: int) -> dict:
    h = json.loads(json.dumps(h))
    start = h[name]["data_offsets"][0]
    for k, v in h.items():
        if k != "__metadata__" and v["data_offsets"][0] >= start:
            v["data_offsets"] = [v["data_offsets"][0] + by, v["data_offsets"][1] + by]
    return h


def _insert(body: bytes, at: int, n: int) -> bytes:
    return body[:at] + bytes(n) + body[at:]


def _reverse(h: dict, body: bytes) -> bytes:
    names = _ordered(h)
    out, h2, pos = bytearray(), json.loads(json.dumps(h)), 0
    for name in reversed(names):
        a, e = h[name]["data_offsets"]
        h2[name]["data_offsets"] = [pos, pos + e - a]
        out += body[a:e]
        pos += e - a
    return _st_join(h2, bytes(out))


def _pad_nul(h: dict, body: bytes) -> bytes:
    raw = json.dumps(h).encode()
    raw += b"\0" * (8 - len(raw) % 8)
    return len(raw).to_bytes(8, "little") + raw + body


def _index_cases(b: Builder) -> None:
    b.file_case("index", INDEX, "100k-deep JSON", '{"metadata": ' + DEEP + ', "weight_map": {}}', "reject")
    b.file_case(
        "index",
        INDEX,
        "5000-digit integer",
        '{"metadata": {"total_size": '
        + BIG_INT
        + "}, "
        + json.dumps({"weight_map": b.index["weight_map"]})[1:],
        "either",
    )
    b.file_case("index", INDEX, "not JSON", "{", "reject")
    b.file_case("index", INDEX, "not UTF-8", b"\xff\xfe{}", "reject")
    b.file_case("index", INDEX, "a JSON array", "[]", "reject")
    b.file_case("index", INDEX, "empty file", "", "reject")
    b.file_case("index", INDEX, "removed (shards stay)", None, "reject")
    wm = b.index["weight_map"]
    some = sorted(wm)[3]
    for label, value in [
        ("shard ../x", "../x.safetensors"),
        ("shard absolute", "/etc/passwd"),
        ("shard with NUL", "a\0b.safetensors"),
        ("shard hidden", ".x.safetensors"),
        ("shard with ESC", ESC + ".safetensors"),
        ("shard with markup", MARKUP + ".safetensors"),
        ("shard 200 KB name", "s" * 200_000),
        ("shard a number", 5),
        ("shard null", None),
        (
            "shard the other file",
            sorted(set(wm.values()))[-1]
            if wm[some] == sorted(set(wm.values()))[0]
            else sorted(set(wm.values()))[0],
        ),
    ]:
        b.json_case("index", INDEX, label, lambda d, v=value: d["weight_map"].__setitem__(some, v), "reject")
    b.json_case("index", INDEX, "weight_map a list", lambda d: d.__setitem__("weight_map", [1]), "reject")
    b.json_case("index", INDEX, "weight_map empty", lambda d: d.__setitem__("weight_map", {}), "reject")
    b.json_case(
        "index",
        INDEX,
        "extra tensor listed",
        lambda d: d["weight_map"].__setitem__("model.extra", wm[some]),
        "reject",
    )
    b.json_case("index", INDEX, "a tensor not listed", lambda d: d["weight_map"].pop(some) and None, "reject")

    def dup(d: dict) -> str:
        text = json.dumps(d)
        other = sorted(set(wm.values()))[-1]
        return text.replace('"weight_map": {', f'"weight_map": {{"{some}": "{other}", ', 1)

    b.json_case("index", INDEX, "duplicate key in weight_map", dup, "reject")


CONFIG_VALUES: dict[str, list[tuple[str, object, str]]] = {
    # key: [(label, JSON text of the value, expectation)]
    "num_attention_heads": [
        ("0", "0", "reject"),
        ("-1", "-1", "reject"),
        ("3", "3", "reject"),
        ("string", '"4"', "reject"),
        ("4.5", "4.5", "reject"),
        ("true", "true", "reject"),
        ("null", "null", "reject"),
        ("1e400", "1e400", "reject"),
        ("2^63", str(2**63), "reject"),
    ],
    "num_hidden_layers": [
        ("0", "0", "reject"),
        ("-1", "-1", "reject"),
        ("1e7", "1e7", "reject"),
        ("10000000", "10000000", "reject"),
        ("2^31", str(2**31), "reject"),
        ("2^63", str(2**63), "reject"),
        ("string", '"2"', "reject"),
        ("2.5", "2.5", "reject"),
        ("3", "3", "reject"),
        ("1", "1", "reject"),
    ],
    "num_key_value_heads": [
        ("0", "0", "reject"),
        ("3", "3", "reject"),
        ("-2", "-2", "reject"),
        ("4", "4", "reject"),
    ],
    "hidden_size": [
        ("0", "0", "reject"),
        ("-64", "-64", "reject"),
        ("63", "63", "reject"),
        ("2^40", str(2**40), "reject"),
    ],
    "intermediate_size": [("0", "0", "reject"), ("-1", "-1", "reject"), ("2^40", str(2**40), "reject")],
    "vocab_size": [
        ("0", "0", "reject"),
        ("-1", "-1", "reject"),
        ("2^63", str(2**63), "reject"),
        ("10", "10", "reject"),
    ],
    "head_dim": [
        ("0", "0", "reject"),
        ("15", "15", "reject"),
        ("-16", "-16", "reject"),
        ("null", "null", "either"),
    ],
    "max_position_embeddings": [
        ("0", "0", "reject"),
        ("-1", "-1", "reject"),
        ("2^63", str(2**63), "either"),
        ("null", "null", "either"),
        ("1e400", "1e400", "reject"),
    ],
    "rms_norm_eps": [
        ("0", "0", "reject"),
        ("negative", "-1e-5", "reject"),
        ("NaN", "NaN", "reject"),
        ("Infinity", "Infinity", "reject"),
        ("string", '"1e-5"', "reject"),
        ("null", "null", "either"),
        ("1e-50", "1e-50", "either"),
    ],
    "rope_theta": [
        ("0", "0", "reject"),
        ("-1", "-1", "reject"),
        ("NaN", "NaN", "reject"),
        ("Infinity", "Infinity", "reject"),
        ("string", '"x"', "reject"),
        ("1e-300", "1e-300", "reject"),
        ("null", "null", "either"),
    ],
    "plt_num_loops": [
        ("0", "0", "reject"),
        ("-1", "-1", "reject"),
        ("1", "1", "either"),
        ("3", "3", "either"),
        ("2^31", str(2**31), "reject"),
        ("1e9", "1e9", "reject"),
        ("string", '"2"', "reject"),
        ("2.5", "2.5", "reject"),
    ],
    "plt_window_size": [
        ("[-1,0]", "[-1, 0]", "reject"),
        ("[4,1]", "[4, 1]", "reject"),
        ("string", '"x"', "reject"),
        ("2^40", str(2**40), "reject"),
        ("[2^63,0]", f"[{2**63}, 0]", "reject"),
        ("[]", "[]", "reject"),
        ("null", "null", "reject"),
        ("plain 4", "4", "either"),
        ("true", "true", "reject"),
    ],
    "plt_emb_scale": [
        ("NaN", "NaN", "reject"),
        ("Infinity", "Infinity", "reject"),
        ("-Infinity", "-Infinity", "reject"),
        ("string", '"x"', "reject"),
        ("1e400", "1e400", "reject"),
        ("0", "0", "either"),
        ("1e30", "1e30", "either"),
    ],
    "plt_hidden_scale": [
        ("NaN", "NaN", "reject"),
        ("Infinity", "Infinity", "reject"),
        ("string", '"x"', "reject"),
        ("1e30", "1e30", "either"),
        ("null", "null", "either"),
    ],
    "tie_word_embeddings": [("string", '"yes"', "either"), ("1", "1", "either")],
    "plt_gate_use_hidden_states": [("string", '"no"', "either"), ("2", "2", "either")],
    "eos_token_id": [
        ("-1", "-1", "reject"),
        ("1e9", "1000000000", "reject"),
        ("string", '"x"', "reject"),
        ("nested", "[[1]]", "reject"),
        ("object", "{}", "reject"),
        ("float", "[1.5]", "reject"),
        ("2^63", str(2**63), "reject"),
        ("true", "true", "either"),
    ],
    "bos_token_id": [
        ("-1", "-1", "reject"),
        ("1e9", "1000000000", "reject"),
        ("string", '"x"', "reject"),
        ("1.5", "1.5", "reject"),
    ],
    "architectures": [
        ("[]", "[]", "reject"),
        ("unknown", '["X"]', "reject"),
        ("a string", '"IQuestPLTCoderForCausalLM"', "reject"),
        ("[1]", "[1]", "reject"),
        ("null", "null", "reject"),
        ("ESC", json.dumps([ESC]), "reject"),
        ("markup", json.dumps([MARKUP]), "reject"),
        ("200 KB", json.dumps(["x" * 200_000]), "reject"),
    ],
    "rope_scaling": [
        ("linear x2", '{"type": "linear", "factor": 2}', "reject"),
        ("200 KB", json.dumps("x" * 200_000), "reject"),
        ("ESC", json.dumps(ESC), "reject"),
    ],
    "hidden_act": [
        ("gelu", '"gelu"', "reject"),
        ("ESC", json.dumps(ESC), "reject"),
        ("200 KB", json.dumps("x" * 200_000), "reject"),
    ],
    "torch_dtype": [("float64", '"float64"', "either"), ("ESC", json.dumps(ESC), "either")],
}


def _config_cases(b: Builder) -> None:
    for key, values in CONFIG_VALUES.items():
        for label, value_text, expect in values:

            def edit(d: dict, k: str = key, v: str = value_text) -> str:
                d[k] = "@@VALUE@@"
                return json.dumps(d).replace('"@@VALUE@@"', v)

            b.json_case("config", "config.json", f"{key}={label}", edit, expect)
    b.json_case(
        "config",
        "config.json",
        "5000-digit integer",
        lambda d: json.dumps(d)[:-1] + f', "x": {BIG_INT}}}',
        "either",
    )
    b.json_case(
        "config", "config.json", "100k-deep JSON", lambda d: json.dumps(d)[:-1] + f', "x": {DEEP}}}', "reject"
    )
    b.file_case("config", "config.json", "a JSON array", "[]", "reject")
    b.file_case("config", "config.json", "not JSON", "{", "reject")
    b.file_case("config", "config.json", "not UTF-8", b"\xff\xfe{}", "reject")
    b.file_case("config", "config.json", "UTF-8 BOM", "\ufeff{}", "reject")
    b.file_case("config", "config.json", "missing", None, "reject")
    b.json_case(
        "config", "config.json", "a required key missing", lambda d: d.pop("hidden_size") and None, "reject"
    )
    for name, group in (
        ("generation_config.json", "gen"),
        ("tokenizer_config.json", "tokcfg"),
        ("tokenizer.json", "tok"),
    ):
        b.file_case(group, name, "not JSON", "{", "reject" if group == "tok" else "either")
        b.file_case(group, name, "not UTF-8", b"\xff\xfe{}", "reject" if group == "tok" else "either")
        b.file_case(group, name, "100k-deep JSON", DEEP, "reject" if group == "tok" else "either")
        b.file_case(group, name, "a JSON array", "[1]", "reject" if group == "tok" else "either")
        b.json_case(
            group, name, "5000-digit integer", lambda d: json.dumps(d)[:-1] + f', "x": {BIG_INT}}}', "either"
        )
    for label, value in [
        ("string", '"x"'),
        ("nested", "[[1]]"),
        ("-1", "-1"),
        ("1e9", "1000000000"),
        ("object", "{}"),
    ]:

        def edit(d: dict, v: str = value) -> str:
            d["eos_token_id"] = "@@"
            return json.dumps(d).replace('"@@"', v)

        b.json_case("gen", "generation_config.json", f"eos_token_id={label}", edit, "either")
    for label, value in [
        ("int", 5),
        ("list without template", [{"name": "default"}]),
        ("template an int", [{"name": "default", "template": 5}]),
        ("list of strings", ["a"]),
        ("ESC", ESC),
    ]:
        b.json_case(
            "tokcfg",
            "tokenizer_config.json",
            f"chat_template={label}",
            lambda d, v=value: d.__setitem__("chat_template", v),
            "either",
        )
    b.json_case(
        "tokcfg",
        "tokenizer_config.json",
        "add_bos_token string",
        lambda d: d.__setitem__("add_bos_token", "yes"),
        "either",
    )
    b.json_case(
        "tokcfg",
        "tokenizer_config.json",
        "eos_token a list",
        lambda d: d.__setitem__("eos_token", [1]),
        "either",
    )
    b.file_case("tokcfg", "chat_template.jinja", "chat_template.jinja not UTF-8", b"\xff{{ x }}", "either")
    b.file_case("tok", "tokenizer.json", "missing", None, "reject")
    b.add("same", "the checkpoint unchanged", "ok", lambda d: None)


def convert_cases(checkpoint: Path, work: Path, seed: int = 10) -> list[Case]:
    work.mkdir(parents=True, exist_ok=True)
    b = Builder(checkpoint, work)
    rng = random.Random(seed)
    _config_cases(b)
    _shard_cases(b, rng)
    _index_cases(b)
    return b.cases

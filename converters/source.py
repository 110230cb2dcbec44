"""An HF checkpoint directory as the converter sees it: config, tokenizer, tensor name map.

`load_source(dir)` reads `config.json` (through `engine.arch.config_from_hf`),
`generation_config.json` (its eos ids are merged into the config's), `tokenizer.json`
(required: the GGUF embeds it whole) and the chat template (from `tokenizer_config.json`
or `chat_template.jinja`). `map_tensors(checkpoint, cfg)` pairs every GGUF tensor name the
config expects with its HF tensor and validates shapes and dtypes against the config.
Errors are ConvertError lines naming the file, key or tensor. Nothing here writes files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

from converters.errors import ConvertError
from converters.safetensors_io import Checkpoint
from engine.arch import GATE_TENSORS, HF_ALIASES, HF_TO_GGUF, ArchError, PLTConfig, config_from_hf

# config.json `torch_dtype` -> the safetensors dtype the weights must have (F32 always passes).
_TORCH_DTYPES = {"bfloat16": "BF16", "float16": "F16", "float32": "F32"}
# HF tensors that carry no weights and are dropped silently.
_IGNORED = re.compile(r"^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$")


@dataclass(frozen=True)
class HFSource:
    """What the converter needs from a checkpoint directory besides the tensors."""

    directory: Path
    config: PLTConfig
    hf_config: dict
    tokenizer_json: str
    chat_template: str | None
    add_bos: bool | None
    name: str


def load_source(directory: Path) -> HFSource:
    directory = Path(directory)
    if not directory.is_dir():
        raise ConvertError(f"{directory}: not a directory")
    hf = _read_json(directory / "config.json", required=True)
    try:
        cfg = config_from_hf(hf)
    except (ArchError, ValueError, TypeError) as exc:
        raise ConvertError(f"{directory / 'config.json'}: {exc}") from None
    gen = _read_json(directory / "generation_config.json", required=False)
    tok_path = directory / "tokenizer.json"
    if not tok_path.is_file():
        raise ConvertError(f"{tok_path}: not found; the converter needs a fast tokenizer (tokenizer.json)")
    tokenizer_text = tok_path.read_text(encoding="utf-8")
    tok_cfg = _read_json(directory / "tokenizer_config.json", required=False)
    cfg = _with_special_ids(cfg, gen, tok_cfg, tokenizer_text, directory)
    add_bos = tok_cfg.get("add_bos_token")
    return HFSource(
        directory=directory,
        config=cfg,
        hf_config=hf,
        tokenizer_json=tokenizer_text,
        chat_template=_chat_template(directory, tok_cfg),
        add_bos=bool(add_bos) if add_bos is not None else None,
        name=str(hf.get("_name_or_path") or directory.resolve().name),
    )


def _read_json(path: Path, *, required: bool) -> dict:
    if not path.is_file():
        if required:
            raise ConvertError(f"{path}: not found")
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConvertError(f"{path}: cannot read JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConvertError(f"{path}: expected a JSON object")
    return data


def _ids(value: object) -> list[int]:
    if value is None:
        return []
    return [int(v) for v in value] if isinstance(value, list) else [int(value)]  # type: ignore[call-overload]


def _with_special_ids(cfg: PLTConfig, gen: dict, tok_cfg: dict, tok_text: str, directory: Path) -> PLTConfig:
    """Merge generation_config's eos ids into the config's; fall back to the tokenizer's eos token."""
    eos = list(dict.fromkeys(list(cfg.eos_token_ids) + _ids(gen.get("eos_token_id"))))
    if not eos and isinstance(tok_cfg.get("eos_token"), str):
        vocab = _token_ids(tok_text)
        if tok_cfg["eos_token"] in vocab:
            eos = [vocab[tok_cfg["eos_token"]]]
    bos = cfg.bos_token_id if cfg.bos_token_id is not None else gen.get("bos_token_id")
    for token in eos + ([bos] if bos is not None else []):
        if not 0 <= token < cfg.vocab_size:
            raise ConvertError(
                f"{directory / 'config.json'}: token id {token} is outside the vocab 0..{cfg.vocab_size - 1}"
            )
    return replace(cfg, eos_token_ids=tuple(eos), bos_token_id=None if bos is None else int(bos))


def _token_ids(tok_text: str) -> dict[str, int]:
    data = json.loads(tok_text)
    ids = dict(data.get("model", {}).get("vocab", {}) or {})
    ids.update({t["content"]: t["id"] for t in data.get("added_tokens", [])})
    return ids


def _chat_template(directory: Path, tok_cfg: dict) -> str | None:
    jinja = directory / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    template = tok_cfg.get("chat_template")
    if isinstance(template, list):  # [{"name": "default", "template": ...}, ...]
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default") or next(iter(named.values()), None)
    return template if isinstance(template, str) else None


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(template).replace(re.escape("{i}"), r"(\d+)") + "$")


_TO_GGUF = [(_pattern(hf), gguf) for hf, gguf in HF_TO_GGUF.items()]
_ALIASES = [(_pattern(alias), canonical) for alias, canonical in HF_ALIASES.items()]


def gguf_name(hf_name: str) -> str | None:
    """The GGUF name of an HF tensor name (aliases accepted), or None if it is not a model tensor."""
    for pattern, canonical in _ALIASES:
        if m := pattern.match(hf_name):
            hf_name = canonical.format(i=m.group(1))
            break
    for pattern, target in _TO_GGUF:
        if m := pattern.match(hf_name):
            return target.format(i=m.group(1)) if m.groups() else target
    return None


@dataclass(frozen=True)
class TensorSource:
    """One GGUF tensor and where its values come from."""

    gguf_name: str
    hf_name: str
    shape: tuple[int, ...]
    dtype: str
    file: Path
    nbytes: int


def map_tensors(ckpt: Checkpoint, cfg: PLTConfig, hf_config: dict) -> tuple[list[TensorSource], list[str]]:
    """Pair each expected GGUF tensor (in `cfg.tensor_names()` order) with its HF tensor.

    Returns the pairs and notes about tensors that were skipped on purpose. Raises
    ConvertError for a missing, unexpected or duplicated tensor, a wrong shape or dtype.
    """
    expected = cfg.tensor_shapes()
    found: dict[str, str] = {}
    notes: list[str] = []
    for hf_name in ckpt.names():
        target = gguf_name(hf_name)
        skip = _skip_reason(hf_name, target, cfg, expected)
        if skip:
            notes.append(f"{hf_name}: skipped ({skip})")
            continue
        if target is None or target not in expected:
            raise ConvertError(f"{ckpt.file_of(hf_name).path}: unexpected tensor {hf_name} for this config")
        if target in found:
            raise ConvertError(
                f"{ckpt.directory}: tensors {found[target]} and {hf_name} both map to {target}"
            )
        found[target] = hf_name
    torch_dtype = str(hf_config.get("torch_dtype"))
    return [_checked(ckpt, g, found, expected[g], torch_dtype) for g in expected], notes


def _skip_reason(hf_name: str, target: str | None, cfg: PLTConfig, expected: dict) -> str | None:
    if _IGNORED.match(hf_name):
        return "rotary inverse frequencies are recomputed"
    if target == "output.weight" and cfg.tied_embeddings:
        return "tie_word_embeddings is true, the embedding matrix is the output"
    gate_templates = {t.split(".", 2)[2] for t in GATE_TENSORS["hidden"]}
    if target and target not in expected and cfg.loops == 1 and target.split(".", 2)[-1] in gate_templates:
        return "a model with one loop has no gate"
    return None


def _checked(
    ckpt: Checkpoint, target: str, found: dict[str, str], shape: tuple, torch_dtype: str
) -> TensorSource:
    if target not in found:
        hf = _hf_name_for(target)
        raise ConvertError(f"{ckpt.directory}: tensor {hf} ({target}) is missing from the checkpoint")
    hf_name = found[target]
    entry, path = ckpt.entry(hf_name), ckpt.file_of(hf_name).path
    if entry.shape != shape:
        raise ConvertError(
            f"{path}: tensor {hf_name} has shape {list(entry.shape)}, config.json implies {list(shape)}"
        )
    want = _TORCH_DTYPES.get(torch_dtype)
    if want and entry.dtype not in (want, "F32"):
        raise ConvertError(
            f"{path}: tensor {hf_name} is {entry.dtype} but config.json torch_dtype is {torch_dtype}"
        )
    return TensorSource(target, hf_name, entry.shape, entry.dtype, path, entry.nbytes)


def _hf_name_for(target: str) -> str:
    m = re.match(r"^blk\.(\d+)\.(.*)$", target)
    template = f"blk.{{i}}.{m.group(2)}" if m else target
    for hf, gguf in HF_TO_GGUF.items():
        if gguf == template:
            return hf.format(i=m.group(1)) if m else hf
    return target

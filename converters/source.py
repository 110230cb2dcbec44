"""An HF checkpoint directory as the converter sees it: config, tokenizer, tensor name map.

`load_source(dir)` reads `config.json` (through `engine.arch.config_from_hf`),
`generation_config.json` (its eos ids are merged into the config's), `tokenizer.json`
(required: the GGUF embeds it whole) and the chat template (from `tokenizer_config.json`
or `chat_template.jinja`). `map_tensors(checkpoint, cfg)` pairs every GGUF tensor name the
config expects with its HF tensor and validates shapes and dtypes against the config.
Errors are ConvertError lines naming the file, key or tensor. Nothing here writes files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from converters.errors import ConvertError
from converters.safetensors_io import Checkpoint, parse_json
from engine.arch import (
    GATE_TENSORS,
    HF_ALIASES,
    HF_TO_GGUF,
    LAYER_TENSORS,
    ArchError,
    PLTConfig,
    config_from_hf,
)
from engine.errors import brief, shown

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
    tokenizer_text = _read_text(tok_path)
    tokenizer = parse_json(tokenizer_text.encode("utf-8"), tok_path)
    if not isinstance(tokenizer, dict):
        raise ConvertError(f"{tok_path}: expected a JSON object")
    tok_cfg = _read_json(directory / "tokenizer_config.json", required=False)
    cfg = _with_special_ids(cfg, gen, tok_cfg, tokenizer, directory)
    add_bos = tok_cfg.get("add_bos_token")
    if add_bos is not None and not isinstance(add_bos, bool):
        raise ConvertError(f"{directory / 'tokenizer_config.json'}: add_bos_token must be true or false")
    return HFSource(
        directory=directory,
        config=cfg,
        hf_config=hf,
        tokenizer_json=tokenizer_text,
        chat_template=_chat_template(directory, tok_cfg),
        add_bos=add_bos,
        name=str(hf.get("_name_or_path") or directory.resolve().name),
    )


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConvertError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConvertError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None


def _read_json(path: Path, *, required: bool) -> dict:
    if not path.is_file():
        if required:
            raise ConvertError(f"{path}: not found")
        return {}
    data = parse_json(_read_text(path).encode("utf-8"), path)
    if not isinstance(data, dict):
        raise ConvertError(f"{path}: expected a JSON object")
    return data


def _ids(value: object, where: Path) -> list[int]:
    if value is None:
        return []
    ids = value if isinstance(value, list) else [value]
    if any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in ids):
        raise ConvertError(f"{where}: eos_token_id must be a token id or a list of them, got {shown(value)}")
    return ids


def _with_special_ids(
    cfg: PLTConfig, gen: dict, tok_cfg: dict, tokenizer: dict, directory: Path
) -> PLTConfig:
    """Merge generation_config's eos ids into the config's; fall back to the tokenizer's eos token."""
    eos = list(
        dict.fromkeys(
            list(cfg.eos_token_ids) + _ids(gen.get("eos_token_id"), directory / "generation_config.json")
        )
    )
    if not eos and isinstance(tok_cfg.get("eos_token"), str):
        vocab = _token_ids(tokenizer)
        if isinstance(vocab.get(tok_cfg["eos_token"]), int):
            eos = [vocab[tok_cfg["eos_token"]]]
    bos = cfg.bos_token_id if cfg.bos_token_id is not None else gen.get("bos_token_id")
    if bos is not None and (not isinstance(bos, int) or isinstance(bos, bool)):
        raise ConvertError(
            f"{directory / 'generation_config.json'}: bos_token_id must be a token id, got {shown(bos)}"
        )
    for token in eos + ([bos] if bos is not None else []):
        if not 0 <= token < cfg.vocab_size:
            raise ConvertError(
                f"{directory / 'config.json'}: token id {token} is outside the vocab 0..{cfg.vocab_size - 1}"
            )
    return replace(cfg, eos_token_ids=tuple(eos), bos_token_id=bos)


def _token_ids(tokenizer: dict) -> dict[str, object]:
    """Token text -> id from a tokenizer.json (its model vocab and added tokens), as far as readable."""
    model = tokenizer.get("model")
    vocab = model.get("vocab") if isinstance(model, dict) else None
    ids: dict[str, object] = dict(vocab) if isinstance(vocab, dict) else {}
    added = tokenizer.get("added_tokens")
    for t in added if isinstance(added, list) else []:
        if isinstance(t, dict) and isinstance(t.get("content"), str):
            ids[t["content"]] = t.get("id")
    return ids


def _chat_template(directory: Path, tok_cfg: dict) -> str | None:
    jinja = directory / "chat_template.jinja"
    if jinja.is_file():
        return _read_text(jinja)
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
    names = ckpt.names()
    if cfg.num_layers * len(LAYER_TENSORS) > len(names):
        raise ConvertError(
            f"{ckpt.directory}: config.json asks for {cfg.num_layers} layers but the checkpoint holds "
            f"only {len(names)} tensors ({len(LAYER_TENSORS)} per layer are needed)"
        )
    expected = cfg.tensor_shapes()
    found: dict[str, str] = {}
    notes: list[str] = []
    for hf_name in names:
        target = gguf_name(hf_name)
        skip = _skip_reason(hf_name, target, cfg, expected)
        if skip:
            notes.append(f"{hf_name}: skipped ({skip})")
            continue
        if target is None or target not in expected:
            raise ConvertError(
                f"{ckpt.file_of(hf_name).path}: unexpected tensor {brief(hf_name)} for this config"
            )
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

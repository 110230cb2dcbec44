"""HF checkpoint directory -> one `pltcoder` (LoopCoder-V2, Llama) or `iquestloopcoder`
(IQuest-Coder-V1-Loop) GGUF file, streamed tensor by tensor.

`convert(src, out, outtype)` plans first (config, tokenizer, every tensor's name, shape,
source dtype, output type and byte size), so all errors in the input surface before a
byte is written. It then writes the header, metadata and tensor infos with gguf's
GGUFWriter and streams each tensor's data in row chunks: read from the memory-mapped
shard, convert, write, release. Peak memory is a few chunks, not the checkpoint.

The output goes to a temporary file beside OUT and is renamed into place only when
complete; on any error or interrupt the temporary file is removed. Names and metadata
keys come from `engine.arch`. Rendering progress and tables is the caller's business: a
`Progress` object hears about the plan and about every chunk read.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from gguf import GGML_QUANT_VERSION, GGMLQuantizationType, GGUFValueType, GGUFWriter

from converters import quant
from converters.errors import ConvertError
from converters.safetensors_io import ITEMSIZE, Checkpoint
from converters.source import HFSource, TensorSource, load_source, map_tensors
from engine.arch import ARCH, Keys, config_to_metadata


@dataclass(frozen=True)
class TensorPlan:
    """How one tensor is converted."""

    source: TensorSource
    qtype: GGMLQuantizationType
    nbytes: int
    note: str | None = None

    @property
    def name(self) -> str:
        return self.source.gguf_name

    @property
    def bytes_in(self) -> int:
        return self.source.nbytes


@dataclass
class ConvertReport:
    """What `convert` did: the plan, the notes and the figures."""

    output: Path
    outtype: str
    plans: list[TensorPlan]
    notes: list[str] = field(default_factory=list)
    metadata: dict[str, object] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def bytes_in(self) -> int:
        return sum(p.bytes_in for p in self.plans)

    @property
    def bytes_out(self) -> int:
        return self.output.stat().st_size if self.output.exists() else 0


class Progress(Protocol):
    """Receives the plan before writing starts and the source bytes consumed per chunk."""

    def start(self, plans: list[TensorPlan]) -> None: ...

    def advance(self, plan: TensorPlan, nbytes: int) -> None: ...


def plan(source: HFSource, ckpt: Checkpoint, outtype: str) -> tuple[list[TensorPlan], list[str]]:
    """Decide every tensor's output type and size; ConvertError on any bad input."""
    if outtype not in quant.OUTTYPES:
        raise ConvertError(f"unknown outtype {outtype!r}; choose one of {', '.join(quant.OUTTYPES)}")
    sources, notes = map_tensors(ckpt, source.config, source.hf_config)
    plans = []
    for src in sources:
        qtype, note = quant.choose_type(src.gguf_name, src.shape, quant.OUTTYPES[outtype])
        plans.append(TensorPlan(src, qtype, quant.nbytes(src.shape, qtype), note))
    return plans, notes


def metadata(source: HFSource, outtype: str) -> dict[str, tuple[object, GGUFValueType]]:
    """Every GGUF key -> (value, type) the file gets, besides `general.architecture`."""
    cfg = source.config
    kv: dict[str, tuple[object, GGUFValueType]] = {
        Keys.GENERAL_NAME: (source.name, GGUFValueType.STRING),
        Keys.GENERAL_FILE_TYPE: (int(quant.FILE_TYPES[outtype]), GGUFValueType.UINT32),
        "general.quantization_version": (GGML_QUANT_VERSION, GGUFValueType.UINT32),
    }
    for key, value in config_to_metadata(cfg).items():
        if value != []:  # GGUF has no empty arrays; a config without eos ids just lacks the key
            kv[key] = (value, _value_type(key, value))
    kv[Keys.TOKENIZER_HF_JSON] = (source.tokenizer_json, GGUFValueType.STRING)
    if source.chat_template:
        kv[Keys.CHAT_TEMPLATE] = (source.chat_template, GGUFValueType.STRING)
    if cfg.bos_token_id is not None:
        kv[Keys.BOS_ID] = (cfg.bos_token_id, GGUFValueType.UINT32)
    if cfg.eos_token_ids:
        kv[Keys.EOS_ID] = (cfg.eos_token_ids[0], GGUFValueType.UINT32)
    if source.add_bos is not None:
        kv[Keys.ADD_BOS] = (source.add_bos, GGUFValueType.BOOL)
    return kv


def _value_type(key: str, value: object) -> GGUFValueType:
    if isinstance(value, bool):
        return GGUFValueType.BOOL
    if isinstance(value, int):
        return GGUFValueType.UINT32
    if isinstance(value, float):
        return GGUFValueType.FLOAT32
    if isinstance(value, str):
        return GGUFValueType.STRING
    if isinstance(value, list):
        return GGUFValueType.ARRAY
    raise ConvertError(f"metadata key {key} has a value of unsupported type {type(value).__name__}")


def convert(
    src_dir: Path, out: Path, outtype: str = "f16", *, progress: Progress | None = None
) -> ConvertReport:
    """Convert the checkpoint in `src_dir` to the GGUF file `out`; see the module docstring."""
    started = time.perf_counter()
    out = Path(out)
    source = load_source(Path(src_dir))
    with Checkpoint(source.directory) as ckpt:
        plans, notes = plan(source, ckpt, outtype)
        kv = metadata(source, outtype)
        tmp = _temp_path(out)
        try:
            _write(tmp, kv, plans, ckpt, progress, source.config.arch)
            os.replace(tmp, out)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ConvertError(f"{out}: write failed ({exc.strerror or exc})") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    notes += _fallback_notes(plans)
    if not source.config.eos_token_ids:
        notes.append("no eos token id in config.json, generation_config.json or tokenizer_config.json")
    values = {k: v for k, (v, _) in kv.items()}
    return ConvertReport(out, outtype, plans, notes, values, time.perf_counter() - started)


def _temp_path(out: Path) -> Path:
    parent = out.parent
    if out.is_dir():
        raise ConvertError(f"{out}: is a directory; give the output file's name")
    if not parent.is_dir():
        raise ConvertError(f"{out}: output directory {parent} does not exist")
    try:
        fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=parent)
    except OSError as exc:
        raise ConvertError(f"{out}: cannot write to directory {parent} ({exc.strerror or exc})") from None
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)  # mkstemp makes 0600; the result should look like any new file
    return Path(name)


def _write(
    path: Path,
    kv: dict,
    plans: list[TensorPlan],
    ckpt: Checkpoint,
    progress: Progress | None,
    arch: str = ARCH,
) -> None:
    writer = GGUFWriter(path, arch)
    try:
        for key, (value, vtype) in kv.items():
            sub = GGUFValueType.UINT32 if vtype is GGUFValueType.ARRAY else None
            writer.add_key_value(key, value, vtype, sub_type=sub)
        for p in plans:
            # Shapes are in elements (numpy order); `raw_dtype` gives the stored type.
            writer.add_tensor_info(p.name, p.source.shape, np.dtype(np.float32), p.nbytes, raw_dtype=p.qtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        assert writer.fout is not None
        if progress:
            progress.start(plans)
        for p in plans:
            _write_tensor(writer, writer.fout[0], p, ckpt, progress)
        writer.flush()
        os.fsync(writer.fout[0].fileno())
    finally:
        writer.close()


def _write_tensor(
    writer: GGUFWriter, fout, p: TensorPlan, ckpt: Checkpoint, progress: Progress | None
) -> None:
    writer.write_padding(fout, fout.tell())
    written = 0
    for rows in ckpt.iter_rows(p.source.hf_name):
        data = quant.encode(rows, p.qtype, p.source.hf_name)
        fout.write(data.tobytes())
        written += data.nbytes
        if progress:
            progress.advance(p, rows.size * ITEMSIZE[p.source.dtype])
    if written != p.nbytes:
        raise ConvertError(f"internal error: {p.name} produced {written} bytes, planned {p.nbytes}")
    writer.write_padding(fout, written)


def _fallback_notes(plans: list[TensorPlan]) -> list[str]:
    """One line per distinct type fallback, with how many tensors it hit."""
    counts: dict[str, list[str]] = {}
    for p in plans:
        if p.note:
            counts.setdefault(p.note, []).append(p.name)
    return [f"{len(names)} tensor(s), e.g. {names[0]}: {note}" for note, names in counts.items()]

"""Copying a GGUF through gguf-py with one thing changed, for tests of damaged model files."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def rewrite_gguf(
    src: Path,
    dst: Path,
    *,
    arch: str | None = None,
    drop: str | None = None,
    reshape: str | None = None,
    values: dict[str, object] | None = None,
) -> Path:
    """A copy of `src` with another architecture, a tensor dropped or cut in half (`reshape`),
    or metadata values replaced (`values`: key suffix -> new value)."""
    from gguf import GGUFReader, GGUFWriter

    reader = GGUFReader(src)
    writer = GGUFWriter(dst, arch or reader.fields["general.architecture"].contents())
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        new = next((v for suffix, v in (values or {}).items() if name.endswith(suffix)), None)
        sub = field.types[-1] if len(field.types) > 1 else None
        writer.add_key_value(name, field.contents() if new is None else new, field.types[0], sub_type=sub)
    for t in reader.tensors:
        if t.name == drop:
            continue
        data = np.array(t.data)
        if t.name == reshape:
            data = data.reshape(-1)[: data.size // 2].reshape(data.shape[0] // 2, -1)
        writer.add_tensor(t.name, data, raw_dtype=t.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dst

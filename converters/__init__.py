"""HF checkpoint (safetensors + config.json + tokenizer) -> GGUF, with quantization.

Public entry points (import the modules; nothing is loaded here):

* `converters.convert.convert(src_dir, out, outtype, progress=None) -> ConvertReport`
* `converters.check.check_gguf(src_dir, gguf_path) -> list[CheckRow]`
* `converters.tiny.make_tiny(out_dir, **TinyOptions fields) -> Path` (random test checkpoints)
* `converters.safetensors_io`: `Checkpoint`, `SafetensorsFile`, `write_safetensors`, BF16 helpers

Errors are `converters.errors.ConvertError`, one line naming the file, key or tensor.
"""

"""HF checkpoint (safetensors + config.json + tokenizer) -> GGUF, with quantization."""

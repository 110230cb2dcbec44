"""The PLT runtime on ggml: GGUF loading, graphs, caches, sessions, sampling, tokenizer."""

"""plt-agent: a local coding assistant running Parallel Loop Transformer models on ggml."""

__version__ = "0.1.0"

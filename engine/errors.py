"""The engine's one exception family. Messages name the file, key or tensor at fault."""


class EngineError(Exception):
    """Any problem the engine reports to its caller (bad file, bad input, ggml mismatch)."""

"""The PLT reference model in PyTorch: the oracle the ggml engine is tested against.

- `Reference`: LoopCoder-V2 exactly as docs/plt-model.md specifies (full forward, chunked
  prefill, fused decode), built from a PLTConfig and tensors or from an HF checkpoint directory;
- `Variant`: deliberately wrong readings of the spec, for differential tests;
- `PLTCache`: the explicit per-sequence state (global KV, local rings, carries);
- `load_checkpoint`, `reference_logits`: checkpoint reading and a one-call helper for parity tests.

Importing this package imports torch; nothing else in `engine` imports it.
"""

from engine.reference.cache import PLTCache
from engine.reference.checkpoint import load_checkpoint
from engine.reference.model import Reference, Variant, reference_logits

__all__ = ["PLTCache", "Reference", "Variant", "load_checkpoint", "reference_logits"]

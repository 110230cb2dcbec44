"""The context sweep's plot: decode and prefill tok/s against context length (matplotlib, the
'plot' extra), ours and llama.cpp's, from `engine.api.context_sweep`'s result."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _pyplot():  # noqa: ANN202 - matplotlib.pyplot
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        hint = "pip install matplotlib (plt-agent's 'plot' extra)"
        raise ImportError(f"the plot needs matplotlib: {hint}") from None
    return plt


def check_plot() -> None:
    """ImportError with the fix when matplotlib is missing (before a long sweep, not after)."""
    _pyplot()


def plot(result: dict[str, Any], out: Path) -> Path:
    """Decode and prefill tok/s against context length, ours and llama.cpp's, as a PNG (matplotlib)."""
    plt = _pyplot()
    rows = [r for r in result["rows"] if "error" not in r["ours"]]
    xs = [r["context"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, title in ((axes[0], "decode_tok_s", "decode"), (axes[1], "prefill_tok_s", "prefill")):
        ax.plot(xs, [r["ours"][key] for r in rows], "o-", label=f"plt-agent ({result['kv_type']} cache)")
        theirs = [r for r in rows if "llama_cpp" in r]
        if theirs:
            ax.plot(
                [r["context"] for r in theirs],
                [r["llama_cpp"][key] for r in theirs],
                "s--",
                label="llama.cpp",
            )
        ax.set_xscale("log", base=2)
        ax.set_xlabel("context (tokens)")
        ax.set_ylabel("tokens / s")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(Path(result["model"]).name)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out

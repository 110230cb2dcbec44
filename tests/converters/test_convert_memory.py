"""Streaming: converting a checkpoint must not hold it in memory."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from converters.tiny import make_tiny

# Runs the real CLI, then reports the process's own peak resident set (VmHWM, Linux). The
# high-water mark belongs to the exec'd image, so the parent's memory does not leak into it.
CHILD = """
import sys
from plt_agent.cli import app
try:
    app(sys.argv[1:])
except SystemExit as exc:
    if exc.code:
        raise
print(next(line for line in open("/proc/self/status") if line.startswith("VmHWM")))
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_peak_memory_stays_far_below_the_checkpoint_size(tmp_path):
    # 260 MB of BF16 weights: 8 layers of 1024 x (2 x 1024 + 2 x 256 + 3 x 4096) plus 2 x 4096 x 1024.
    src = make_tiny(tmp_path / "ck", hidden=1024, intermediate=4096, layers=8, heads=8, kv_heads=2,
                    head_dim=128, vocab=4096, shards=3)  # fmt: skip
    size = sum(p.stat().st_size for p in src.glob("*.safetensors"))
    assert size > 250e6
    out = tmp_path / "m.gguf"
    args = ["convert", str(src), "-o", str(out), "--outtype", "q8_0"]
    proc = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    peak = int(re.search(r"VmHWM:\s+(\d+) kB", proc.stdout).group(1)) * 1024
    # Loading every tensor would need the checkpoint's size (twice that as float32); streaming
    # needs the interpreter and its libraries (~100 MB) and a few row chunks.
    assert peak < 0.75 * size, f"peak RSS {peak / 1e6:.0f} MB for a {size / 1e6:.0f} MB checkpoint"
    assert out.stat().st_size > size / 2.2  # q8_0 is 34 bytes per 32 values

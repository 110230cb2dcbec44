"""What journaling a shell command costs: the `bash` tool (tree + git state recorded durably
before the command, differences after) against the same command run bare, on a repository of
a few thousand files (a git copy of this venv's numpy and sympy unless a path is given).

    python bench/snapshot_cost.py [REPO]     # run under `flock -x /tmp/plt-cpu.lock` to report

Prints the cold first capture, the median per-command overhead over 10 calls, and a later
run's first call (stat cache and blobs from the first run).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.registry import run_tool
from tools.shell import run_command
from tools.workspace import Workspace


def make_repo(parent: Path) -> Path:
    import numpy
    import sympy

    repo = parent / "repo"
    repo.mkdir()
    for module in (numpy, sympy):
        shutil.copytree(
            Path(module.__file__).parent, repo / module.__name__, ignore=shutil.ignore_patterns("__pycache__")
        )
    ident = ["-c", "user.name=b", "-c", "user.email=b@example.invalid"]
    for args in (["init", "-q"], ["add", "-A"], [*ident, "commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    return repo


def measure(repo: Path) -> None:
    shutil.rmtree(repo / ".git" / "plt-agent", ignore_errors=True)
    target = next(p for p in sorted(repo.rglob("*.py")) if p.stat().st_size > 0).relative_to(repo)
    ws = Workspace(repo)
    ws.snapshot()
    start = time.perf_counter()
    assert run_tool("bash", {"command": "true"}, ws).ok
    cold = time.perf_counter() - start
    bare, tool, edit = [], [], []
    for i in range(10):
        start = time.perf_counter()
        run_command("true", repo)
        bare.append(time.perf_counter() - start)
        start = time.perf_counter()
        run_tool("bash", {"command": "true"}, ws)
        tool.append(time.perf_counter() - start)
        start = time.perf_counter()
        run_tool("bash", {"command": f"echo '# {i}' >> {target}"}, ws)
        edit.append(time.perf_counter() - start)
    run_tool("undo", {}, ws)
    later = Workspace(repo)
    later.snapshot()
    start = time.perf_counter()
    run_tool("bash", {"command": "true"}, later)
    warm = time.perf_counter() - start
    med = statistics.median
    print(f"{len(ws.files())} files")
    print(f"first bash call (cold capture of every file): {cold * 1000:.0f} ms")
    print(f"bare command 'true': median {med(bare) * 1000:.1f} ms")
    overhead = (med(tool) - med(bare)) * 1000
    print(f"bash tool 'true': median {med(tool) * 1000:.1f} ms (overhead {overhead:.1f} ms)")
    print(f"bash tool changing one file: median {med(edit) * 1000:.1f} ms")
    print(f"a later run's first bash call: {warm * 1000:.0f} ms")


def main() -> None:
    if len(sys.argv) > 1:
        measure(Path(sys.argv[1]).resolve())
        return
    with tempfile.TemporaryDirectory(prefix="plt-snapshot-bench-") as tmp:
        measure(make_repo(Path(tmp)))


if __name__ == "__main__":
    main()

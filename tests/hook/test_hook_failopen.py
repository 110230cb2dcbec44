"""Real `git commit`s through the installed hook with models that cannot review: all go through.

Each case is a model the review cannot use (missing, aborting natively, at a path full of
markup, a server that never answers, a file of garbage). The commit must land, the hook must
say why in one line, print no traceback and no raw crash output, and not hold the commit
longer than its budget allows. `-s` shows the seconds each commit took.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from gguf_rewrite import rewrite_gguf
from hook_helpers import git

pytestmark = pytest.mark.slow  # each commit starts plt-agent in a fresh process

PLT_AGENT = Path(sys.executable).with_name("plt-agent")
ABORT_LAUNCHER = Path(__file__).with_name("abort_on_load.py")
BUDGET_S = 3  # PLT_AGENT_HOOK_TIMEOUT for every case


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never answers; yields its URL."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not done.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/v1"
    done.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


def _install(repo: Path, *command: str) -> None:
    extra = ["--command", " ".join(command)] if command else []
    done = subprocess.run(
        [str(PLT_AGENT), "hook", "install", *extra], cwd=repo, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def _commit_through(repo: Path, env: dict[str, str], spec: str) -> tuple[float, str]:
    (repo / "app.py").write_text("def add(a, b):\n    return a - b\n")
    git(repo, "add", "app.py")
    env = {**env, "PLT_AGENT_MODEL": spec, "PLT_AGENT_HOOK_TIMEOUT": str(BUDGET_S)}
    started = time.monotonic()
    done = subprocess.run(
        ["git", "commit", "-m", "change"], cwd=repo, capture_output=True, text=True, env=env, timeout=120
    )
    took = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert git(repo, "log", "-1", "--format=%s").strip() == "change"
    notes = [line for line in output.splitlines() if "not held up" in line]
    assert len(notes) == 1, output
    assert "Traceback" not in output
    assert all("not held up" in line for line in output.splitlines() if "GGML_ASSERT" in line), output
    print(f"\n{spec[:60]}: commit took {took:.2f} s; {notes[0]}")
    return took, notes[0]


@pytest.fixture
def installed(repo: Path) -> Path:
    if not PLT_AGENT.exists():
        pytest.skip(f"{PLT_AGENT} is not installed (pip install -e .)")
    _install(repo)
    return repo


def test_missing_model(installed, hermetic_env):
    took, note = _commit_through(installed, hermetic_env, "plt:/no/such/dir/model.gguf")

    assert "/no/such/dir/model.gguf" in note
    assert took < 30


def test_native_abort_in_the_model_loader(repo, hermetic_env):
    if not PLT_AGENT.exists():
        pytest.skip(f"{PLT_AGENT} is not installed (pip install -e .)")
    _install(repo, sys.executable, str(ABORT_LAUNCHER))

    took, note = _commit_through(repo, hermetic_env, "plt:/any/model.gguf")

    assert "SIGABRT" in note
    assert "GGML_ASSERT(hparams.n_layer > 0) failed" in note
    assert took < 30


def test_a_gguf_that_trips_a_ggml_assertion(installed, hermetic_env, tiny_gguf, tmp_path):
    bad = rewrite_gguf(
        tiny_gguf("f32", max_position=4096),
        tmp_path / "negative-eps.gguf",
        values={"layer_norm_rms_epsilon": -1.0},  # ggml's rms_norm asserts eps >= 0
    )

    took, note = _commit_through(installed, hermetic_env, f"plt:{bad}")

    assert "negative-eps.gguf" in note or "SIGABRT" in note  # refused by the loader, or aborted
    assert took < 30


def test_markup_in_the_model_path(installed, hermetic_env, tmp_path):
    folder = tmp_path / "models [/x] [bold] [/red]"  # "/" makes "[" and "x] [bold] [" folders
    folder.mkdir(parents=True)
    model = folder / "red] m.gguf"
    model.write_bytes(b"GGUF" + os.urandom(200))

    took, note = _commit_through(installed, hermetic_env, f"plt:{model}")

    assert "[/x]" in note or "review process" in note
    assert took < 30


def test_a_server_that_never_answers(installed, hermetic_env, silent_server):
    took, note = _commit_through(installed, hermetic_env, f"openai:{silent_server}#reviewer")

    assert f"ran out of its {BUDGET_S} s budget" in note
    assert took < BUDGET_S + 30  # the budget, the 2 s grace, and starting plt-agent on a busy machine


def test_a_garbage_model_file(installed, hermetic_env, tmp_path):
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(os.urandom(4096))

    took, note = _commit_through(installed, hermetic_env, str(garbage))

    assert took < 30


def test_the_abort_launcher_really_aborts(hermetic_env, tmp_path):
    """The launcher used above does kill its process with SIGABRT when a model is loaded."""
    code = (
        f"import runpy, sys; sys.argv = ['x']; m = runpy.run_path({str(ABORT_LAUNCHER)!r}); m['_abort']('s')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, env=hermetic_env)

    assert done.returncode == -6

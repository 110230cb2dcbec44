"""The exit-code contract and the user-facing wording, through the real `plt-agent` program.

Every case runs the console script in a subprocess (its own interpreter, a hermetic home and
store), as a user or a script would: 0 done, 1 the task was not done, 2 bad usage or
configuration (models that cannot be loaded or reached included), with one `error:` line.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PLT_AGENT = Path(sys.executable).with_name("plt-agent")
ROOT = Path(__file__).resolve().parents[1]
TEST_CALC = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
GIT_ID = ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]

pytestmark = pytest.mark.skipif(not PLT_AGENT.exists(), reason=f"{PLT_AGENT} is not installed")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PLT_AGENT_", "GIT_")) and k != "SKIP"}
    return {
        **keep,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "PLT_AGENT_HOME": str(home / "store"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "PYTHONPATH": str(ROOT),  # this checkout, whatever the console script was installed from
        "COLUMNS": "200",
    }


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (root / "test_calc.py").write_text(TEST_CALC)
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "start"]):
        subprocess.run(["git", *GIT_ID, *args], cwd=root, check=True, capture_output=True)
    return root


def plt(env: dict[str, str], *args: str, cwd: Path | None = None, stdin: str = "") -> Any:
    return subprocess.run(
        [str(PLT_AGENT), *args], env=env, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120
    )


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["generate", "/nonexistent/m.gguf", "-p", "hi"], "no such model file"),
        (["generate", "plt:/nonexistent/m.gguf", "-p", "hi"], "no such model file"),
        (["generate", "loopcoder-v2", "-p", "hi"], "not downloaded"),
        (["generate", "nope:thing", "-p", "hi"], "unknown model spec"),
        (["generate", "/nonexistent/m.gguf", "-p", ""], "empty prompt"),
        (["tool", "run", "view", "--args", "{"], "not valid JSON"),
        (["chat", "/nonexistent"], "not a directory"),
        (["fix", "/nonexistent"], "not a directory"),
    ],
)
def test_misconfiguration_exits_2_with_one_error_line(env, tmp_path, args, says):
    proc = plt(env, *args, cwd=tmp_path)

    assert proc.returncode == 2, proc.stderr
    assert says in error_line(proc)


@pytest.mark.parametrize("command", ["fix", "chat"])
def test_an_unreachable_server_exits_2(env, repo, command):
    spec = f"openai:http://127.0.0.1:{closed_port()}/v1#m"

    proc = plt(env, command, ".", "--model", spec, cwd=repo, stdin="hello\n")

    assert proc.returncode == 2, proc.stderr
    assert "cannot reach" in error_line(proc)


def test_an_empty_task_is_a_usage_error_before_anything_runs(env, repo):
    proc = plt(env, "fix", ".", "-m", "  ", "--model", "scripted:/nonexistent.jsonl", cwd=repo)

    assert proc.returncode == 2
    assert "-m/--message is empty" in error_line(proc)


def test_a_failed_fix_exits_1_not_2(env, repo, tmp_path):
    script = tmp_path / "r.jsonl"
    script.write_text('{"content": "I do not know."}\n' * 5)

    proc = plt(env, "fix", ".", "--model", f"scripted:{script}", "--max-steps", "2", cwd=repo)

    assert proc.returncode == 1, proc.stderr


def test_help_states_the_contract_and_plain_flag_names(env):
    proc = plt(env, "fix", "--help")

    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    assert "130 stopped by Ctrl-C" in text or "130" in text
    assert "2 bad usage" in text
    assert "--yes" in text
    assert "<bool>" not in text
    assert "{" not in proc.stdout.split("Usage:")[1].splitlines()[0]  # no `{model}` placeholders
    usage = plt(env, "generate", "--help").stdout.split("Usage:")[1].splitlines()[0]
    assert "MODEL" in usage


def test_models_path_of_an_unknown_name_suggests_no_pull(env):
    proc = plt(env, "models", "path", "nope")

    assert proc.returncode == 2
    line = error_line(proc)
    assert "unknown model 'nope'" in line
    assert "pull" not in line


def test_models_list_marks_the_default(env, tmp_path):
    plain = plt(env, "models", "list", cwd=tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.plt-agent]\nmodel = "loopcoder-v2"\n')
    configured = plt(env, "models", "list", cwd=tmp_path)

    def marked(out: str) -> list[str]:
        return [line.split()[1] for line in out.splitlines() if " * " in line and line.startswith("│")]

    assert plain.returncode == 0
    assert marked(plain.stdout) == ["smollm2-135m"]  # the built-in default
    assert marked(configured.stdout) == ["loopcoder-v2"]  # the repository's configuration
    assert "* the default model" in plain.stdout


def test_diff_and_undo_word_an_unchanged_tree_the_same(env, repo, tmp_path):
    script = tmp_path / "r.jsonl"
    script.write_text('{"content": "unused"}\n')

    proc = plt(env, "chat", ".", "--model", f"scripted:{script}", cwd=repo, stdin="/diff\n/undo\n/exit\n")

    assert proc.returncode == 0, proc.stderr
    assert "\nno changes since the chat started\n" in proc.stdout
    assert "nothing to undo: no changes since the chat started" in proc.stdout

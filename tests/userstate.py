"""A repository holding every kind of uncommitted user work, and its exact state, for the
"nothing lost" tests (tests/tools/test_run_safety.py, tests/agent/test_fix_safety.py).

`make_user_repo(root)` commits a small project (calc.py with a failing test, lib.py, a
binary file, an executable script, .gitignore), stashes a change, then leaves: an
uncommitted edit (calc.py), a staged-plus-unstaged file (lib.py), a staged new file
(staged.txt), an untracked file (notes.txt), an ignored file (debug.log) and an unstaged
deletion (gone.txt). `user_state(root)` is everything a run must leave as it found it:
every file's bytes and mode outside .git (ignored files included), HEAD, `git ls-files -s`,
the raw index bytes, every ref, the stash list and the raw stash reflog.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

GIT_ID = ["-c", "user.name=user", "-c", "user.email=user@example.invalid", "-c", "commit.gpgsign=false"]
CALC_FIXED = "def add(a, b):\n    return a + b\n"


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    proc = subprocess.run(["git", *GIT_ID, *args], cwd=repo, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def make_user_repo(root: Path) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    files = {
        "calc.py": "def add(a, b):\n    return a - b\n",
        "test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
        "lib.py": "X = 1\n",
        "gone.txt": "to be deleted by the user\n",
        "stashme.txt": "base\n",
        ".gitignore": "*.log\n__pycache__/\n",
    }
    for rel, text in files.items():
        (root / rel).write_text(text)
    (root / "data.bin").write_bytes(bytes(range(256)) * 4)
    script = root / "run.sh"
    script.write_text("#!/bin/sh\necho run\n")
    script.chmod(0o755)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    (root / "stashme.txt").write_text("a stashed change\n")
    git(root, "stash", "-q")
    (root / "calc.py").write_text("# the user's uncommitted note\ndef add(a, b):\n    return a - b\n")
    (root / "lib.py").write_text("X = 2\n")
    git(root, "add", "lib.py")
    (root / "lib.py").write_text("X = 3  # staged 2, then edited again\n")
    (root / "staged.txt").write_text("a new staged file\n")
    git(root, "add", "staged.txt")
    (root / "notes.txt").write_text("untracked notes\n")
    (root / "debug.log").write_text("ignored, but still the user's\n")
    (root / "gone.txt").unlink()
    return root


def user_state(root: Path) -> dict[str, object]:
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] == ".git" or "__pycache__" in rel.parts or ".pytest_cache" in rel.parts:
            continue
        if path.is_file():
            files[rel.as_posix()] = (path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
    git_dir = root / ".git"
    stash_log = git_dir / "logs" / "refs" / "stash"
    return {
        "files": files,
        "dirs": sorted(
            p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_dir() and ".git" not in p.parts
        ),
        "HEAD": (git_dir / "HEAD").read_text(),
        "head_commit": git(root, "rev-parse", "HEAD"),
        "ls_files": git(root, "ls-files", "-s"),
        "index_bytes": (git_dir / "index").read_bytes(),
        "refs": git(root, "for-each-ref"),
        "stash_list": git(root, "stash", "list"),
        "stash_log": stash_log.read_bytes() if stash_log.exists() else None,
    }


def differences(before: dict[str, object], after: dict[str, object]) -> list[str]:
    """What differs, named (file paths for files), for a readable assertion message."""
    out = []
    for key in before:
        if key == "files":
            a, b = before[key], after[key]
            assert isinstance(a, dict)
            assert isinstance(b, dict)
            out += [f"file {rel}" for rel in sorted(set(a) | set(b)) if a.get(rel) != b.get(rel)]
        elif before[key] != after[key]:
            out.append(key)
    return out


def plt_agent(*args: str, cwd: Path, env: dict[str, str], **popen: object) -> subprocess.Popen:
    """Start `plt-agent ARGS` as a real process (this checkout's code, the test's environment)."""
    code = "import sys; from plt_agent.cli import main; sys.argv[0] = 'plt-agent'; main()"
    options: dict = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, **popen}
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=cwd, env=env, **options)


def child_env(home: Path) -> dict[str, str]:
    """The environment for plt-agent child processes: this checkout first on the path, a private home."""
    checkout = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (checkout, os.environ.get("PYTHONPATH", "")) if p)
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("PLT_AGENT_")},
        "PYTHONPATH": path,
        "PLT_AGENT_HOME": str(home / "store"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }

"""Which command runs a repository's tests, in the project's own environment, and why.

`choose_test_command(root, configured)` returns a `TestCommand` (command, reason, warning),
trying in order:

1. the configured command (`--test-cmd`, `[tool.plt-agent] test_cmd`, PLT_AGENT_TEST_CMD);
2. for a Python project (pytest.ini, conftest.py, `[tool.pytest`, test_*.py files):
   a. the project's own virtualenv, `.venv` then `venv`, when pytest is installed there;
   b. its environment manager, when its configuration is there and the tool is installed:
      uv (`uv.lock`, `[tool.uv]`), poetry (`poetry.lock`, `[tool.poetry]`), hatch
      (`hatch.toml`, `[tool.hatch`), tox (`tox.ini`, `[tool.tox]`, `[tox` in setup.cfg);
   c. else plt-agent's own Python, with a warning: a project with dependencies of its own
      will not import there;
3. npm (`scripts.test` in package.json), go, cargo, make (a `test:` target).

The reason says which rule chose the command (the user sees it before the first model
call); the warning is set only for the fallback. This module reads files and PATH; it runs
nothing.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

VENV_DIRS = (".venv", "venv")


@dataclass(frozen=True)
class TestCommand:
    command: str
    reason: str  # why this command: which file or setting chose it
    warning: str = ""  # set when the tests run outside the project's environment


def choose_test_command(root: Path, configured: str | None = None, source: str = "") -> TestCommand | None:
    """The test command for the repository at `root` (see the module docstring); None if none."""
    if configured:
        return TestCommand(configured, f"configured ({source or 'test_cmd'})")
    if looks_like_pytest_project(root):
        return _python_command(root)
    return _other_command(root)


def looks_like_pytest_project(root: Path) -> bool:
    if any((root / name).exists() for name in ("pytest.ini", "conftest.py")):
        return True
    if "[tool.pytest" in _read(root / "pyproject.toml"):
        return True
    for pattern in ("test_*.py", "*_test.py"):
        for depth in ("", "*/", "*/*/"):
            if next(root.glob(depth + pattern), None):
                return True
    return False


def _python_command(root: Path) -> TestCommand:
    bare_venv = ""
    for name in VENV_DIRS:
        python = _venv_python(root / name)
        if python is None:
            continue
        if _has_pytest(root / name):
            return TestCommand(f"{shlex.quote(str(python))} -m pytest", f"the project's virtualenv {name}/")
        bare_venv = bare_venv or name
    managed = _managed_command(root)
    if managed is not None:
        return managed
    missing = _managers_without_tool(root)
    why = (
        f"pytest is not installed in {bare_venv}/"
        if bare_venv
        else (f"{missing} is configured but not installed" if missing else "no project environment found")
    )
    return TestCommand(
        f"{shlex.quote(sys.executable)} -m pytest",
        "fallback: plt-agent's own Python",
        f"{why}: the tests run with plt-agent's own Python, where the project's dependencies may be "
        "missing; set [tool.plt-agent] test_cmd or pass --test-cmd to use the project's environment",
    )


def _venv_python(venv: Path) -> Path | None:
    for rel in ("bin/python", "Scripts/python.exe"):
        if (venv / rel).exists():
            return venv / rel
    return None


def _has_pytest(venv: Path) -> bool:
    if any((venv / rel).exists() for rel in ("bin/pytest", "Scripts/pytest.exe")):
        return True
    return any(venv.glob("lib/python*/site-packages/pytest")) or (venv / "Lib/site-packages/pytest").exists()


# (tool, files whose presence says the project uses it, pyproject/setup.cfg markers, command)
_MANAGERS = (
    ("uv", ("uv.lock",), ("[tool.uv",), "uv run python -m pytest"),
    ("poetry", ("poetry.lock",), ("[tool.poetry",), "poetry run python -m pytest"),
    ("hatch", ("hatch.toml",), ("[tool.hatch",), "hatch test"),
    ("tox", ("tox.ini",), ("[tool.tox", "[tox"), "tox -e py"),
)


def _configured_managers(root: Path) -> list[tuple[str, str, str]]:
    """(tool, the file that says so, command) for each manager the project is set up for."""
    config = {name: _read(root / name) for name in ("pyproject.toml", "setup.cfg")}
    found = []
    for tool, files, markers, command in _MANAGERS:
        hit = next((f for f in files if (root / f).exists()), None)
        if hit is None:
            hit = next((f"{m}] in {n}" for n, text in config.items() for m in markers if m in text), None)
        if hit:
            found.append((tool, hit, command))
    return found


def _managed_command(root: Path) -> TestCommand | None:
    for tool, why, command in _configured_managers(root):
        if shutil.which(tool):
            return TestCommand(command, f"{why} (the project uses {tool})")
    return None


def _managers_without_tool(root: Path) -> str:
    return ", ".join(tool for tool, _, _ in _configured_managers(root) if not shutil.which(tool))


def _other_command(root: Path) -> TestCommand | None:
    package = root / "package.json"
    if package.exists():
        try:
            if json.loads(package.read_text()).get("scripts", {}).get("test"):
                return TestCommand("npm test --silent", "package.json has a test script")
        except (OSError, ValueError):
            pass
    for marker, command in (("go.mod", "go test ./..."), ("Cargo.toml", "cargo test")):
        if (root / marker).exists():
            return TestCommand(command, f"{marker} (a {command.split()[0]} project)")
    if re.search(r"^test\s*:", _read(root / "Makefile"), re.M):
        return TestCommand("make test", "the Makefile has a test target")
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace") if path.is_file() else ""
    except OSError:
        return ""

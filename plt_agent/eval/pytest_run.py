"""Run pytest in a task checkout and read the outcome of every test by node id.

`run_pytest(repo, node_ids)` runs the test files those ids live in (never the ids themselves:
one missing id makes pytest abort the whole run) with `-p no:cacheprovider`, a per-test
timeout when pytest-timeout is installed and a whole-run timeout that kills everything
the run started (tools.shell.run_command). Outcomes come from a small plugin that logs each
phase as JSON; an id pytest never reported (missing file, collection error, crash) counts as failed.

This module knows nothing about tasks, patches or grading.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

PASSED, FAILED, ERROR, SKIPPED, XFAIL = "passed", "failed", "error", "skipped", "xfail"
MISSING, PENDING = "missing", "pending"  # never reported / setup ran but no call phase
SUCCESS = frozenset({PASSED, XFAIL})  # swebench counts an expected failure as a pass


@dataclass
class TestRun:
    """Outcome per node id, plus pytest's exit code and the tail of its output."""

    outcomes: dict[str, str]
    returncode: int
    output: str = ""
    timed_out: bool = False
    requested: list[str] = field(default_factory=list)

    def status(self, node_id: str) -> str:
        return self.outcomes.get(node_id, MISSING)

    def passed(self, node_id: str) -> bool:
        return self.status(node_id) in SUCCESS


def test_file(node_id: str) -> str:
    """The file part of a node id: `tests/test_a.py::TestX::test_y[1]` -> `tests/test_a.py`."""
    return node_id.split("::", 1)[0]


def run_pytest(
    repo: Path,
    node_ids: list[str],
    *,
    per_test_timeout: int = 30,
    total_timeout: int = 300,
    python: str | None = None,
) -> TestRun:
    """Run the files holding `node_ids` inside `repo`; missing files are reported as missing."""
    repo = Path(repo)
    files = sorted({test_file(n) for n in node_ids if (repo / test_file(n)).exists()})
    if not files:
        return TestRun({}, returncode=5, requested=list(node_ids))
    with tempfile.TemporaryDirectory(prefix="plt-eval-pytest-") as tmp:
        plugin_dir = Path(tmp)
        shutil.copy(Path(__file__).with_name("pytest_plugin.py"), plugin_dir / "_plt_eval_results.py")
        results = plugin_dir / "results.jsonl"
        cmd = _command(python or sys.executable, files, per_test_timeout)
        env = _environment(plugin_dir, results, repo)
        returncode, output, timed_out = _run(cmd, repo, env, total_timeout)
        outcomes = _read_outcomes(results)
    return TestRun(outcomes, returncode, output, timed_out, list(node_ids))


def _command(python: str, files: list[str], per_test_timeout: int) -> list[str]:
    cmd = [python, "-m", "pytest", "-p", "no:cacheprovider", "-p", "_plt_eval_results", "-q"]
    cmd += ["--rootdir", ".", "--continue-on-collection-errors", "-o", "console_output_style=classic"]
    if per_test_timeout and importlib.util.find_spec("pytest_timeout") is not None:
        if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
            cmd += ["-p", "pytest_timeout"]
        cmd += [f"--timeout={per_test_timeout}"]
    return cmd + ["--", *files]


def _environment(plugin_dir: Path, results: Path, repo: Path) -> dict[str, str]:
    """The plugin importable; the checkout's code ahead of any installed copy (src layout too)."""
    env = dict(os.environ)
    paths = [str(plugin_dir), str(repo.resolve())]
    if (repo / "src").is_dir():
        paths.append(str((repo / "src").resolve()))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (*paths, env.get("PYTHONPATH", "")) if p)
    env["PLT_EVAL_RESULTS"] = str(results)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTEST_ADDOPTS", None)
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int) -> tuple[int, str, bool]:
    """Exit code (-9 when killed), the output's last 20,000 characters, whether it timed out.

    Through tools.shell.run_command: whatever the tests start (daemons included) is killed."""
    from tools.shell import run_command

    result = run_command(cmd, cwd, timeout=timeout, limit=40_000, env=env)
    code = -9 if result.exit_code is None else result.exit_code
    return code, result.output[-20000:], result.timed_out


def _read_outcomes(results: Path) -> dict[str, str]:
    """Fold the per-phase records into one status per node id."""
    outcomes: dict[str, str] = {}
    if not results.exists():
        return outcomes
    for line in results.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        outcomes[rec["nodeid"]] = _fold(outcomes.get(rec["nodeid"]), rec)
    return outcomes


def _fold(previous: str | None, rec: dict) -> str:
    """Combine phases: a failed setup/teardown is an error, the call decides otherwise."""
    if previous in (FAILED, ERROR):
        return previous
    when, outcome, xfail = rec["when"], rec["outcome"], rec["xfail"]
    if outcome == "failed":
        return FAILED if when == "call" else ERROR
    if when == "call":
        if outcome == "skipped":
            return XFAIL if xfail else SKIPPED
        return PASSED
    if when == "setup":
        if outcome == "skipped":
            return XFAIL if xfail else SKIPPED
        return PENDING  # setup passed; only the call phase can make it a pass
    return previous or PENDING

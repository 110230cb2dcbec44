"""`fix --test-cmd`: the user's command decides whether the bug is fixed, not the detected one."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from agent_helpers import git, write_script, xml_call
from userstate import child_env, plt_agent

# A test suite the detected runner (pytest) would find and that never passes: if fix ignored
# --test-cmd it could not report success.
ALWAYS_FAILS = "def test_unrelated():\n    assert False, 'pytest was run instead of --test-cmd'\n"
CHECK = """import sys
from pathlib import Path
with open(sys.argv[1], "a") as log:
    log.write("ran\\n")
sys.exit(0 if "return a + b" in Path("calc.py").read_text() else 1)
"""


def _repo(root: Path) -> Path:
    root.mkdir()
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (root / "test_other.py").write_text(ALWAYS_FAILS)
    (root / "check.py").write_text(CHECK)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    return root


def _fix(repo: Path, tmp: Path, replies: list[str], test_cmd: str) -> tuple[int, str]:
    script = write_script(tmp / "replies.jsonl", replies)
    args = ["fix", ".", "--model", f"scripted:{script}", "--test-cmd", test_cmd, "--max-steps", "3", "--yes"]
    proc = plt_agent(*args, cwd=repo, env=child_env(tmp / "home"))
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out + err


def _check_cmd(log: Path) -> str:
    return f"{shlex.quote(sys.executable)} check.py {shlex.quote(str(log))}"


def test_fix_uses_the_given_test_command_before_and_after_the_edit(tmp_path):
    repo, log = _repo(tmp_path / "repo"), tmp_path / "check.log"
    edit = xml_call("edit", path="calc.py", old="    return a - b", new="    return a + b")
    code, output = _fix(repo, tmp_path, [edit, xml_call("submit"), "never used"], _check_cmd(log))
    assert code == 0, output
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    runs = log.read_text().count("ran")
    assert runs >= 2, f"the test command ran {runs} time(s): once before and once after the edit expected"


def test_a_test_command_that_keeps_failing_means_not_fixed_and_the_tree_put_back(tmp_path):
    repo, log = _repo(tmp_path / "repo"), tmp_path / "check.log"
    wrong = xml_call("edit", path="calc.py", old="    return a - b", new="    return a * b")
    code, output = _fix(repo, tmp_path, [wrong, xml_call("submit"), "never used"], _check_cmd(log))
    assert code == 1, output
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a - b\n"
    assert "ran" in log.read_text()

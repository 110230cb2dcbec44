"""Whole `plt-agent fix` runs with the scripted backend on temporary git repositories."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from agent_helpers import BUGGY_LINE, FIXED_LINE, git, index_bytes, tree_bytes, write_script, xml_call

CORE = "mathlib/core.py"


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _tests_pass(repo: Path) -> bool:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=repo, capture_output=True
    )
    return proc.returncode == 0


def _fixing_replies() -> list[str]:
    return [
        "Let me look at the code.\n" + xml_call("view", path=CORE),
        xml_call("edit", path=CORE, old=BUGGY_LINE, new=FIXED_LINE),
    ]


def test_success_fixes_prints_the_diff_and_leaves_the_index_alone(demo_repo, tmp_path, cli):
    script = write_script(tmp_path / "replies.jsonl", _fixing_replies())
    head, index = git(demo_repo, "rev-parse", "HEAD"), index_bytes(demo_repo)
    traj = tmp_path / "run.jsonl"
    result = cli("fix", str(demo_repo), "--model", f"scripted:{script}", "--trajectory", str(traj))
    assert result.exit_code == 0, result.output
    assert f"-{BUGGY_LINE}" in result.stdout
    assert f"+{FIXED_LINE}" in result.stdout
    assert FIXED_LINE in (demo_repo / CORE).read_text()
    assert _tests_pass(demo_repo)
    assert git(demo_repo, "rev-parse", "HEAD") == head  # no commit without --commit
    assert index_bytes(demo_repo) == index  # the index was not touched
    assert git(demo_repo, "status", "--porcelain") == f" M {CORE}\n"  # changed in the tree, not staged
    events = _events(traj)
    assert [e["type"] for e in events][0] == "start"
    assert events[-1]["type"] == "end"
    assert events[-1]["status"] == "fixed"
    assert [e["name"] for e in events if e["type"] == "action"] == ["view", "edit"]
    replies = [e for e in events if e["type"] == "reply"]
    assert len(replies) == 2
    assert all(e["usage"]["prompt_tokens"] > 0 for e in replies)


def test_budget_exhausted_restores_the_tree_exactly_including_user_changes(demo_repo, tmp_path, cli):
    # the user has uncommitted work: an edit in the very file the agent will change,
    # an edit elsewhere, a staged change and an untracked file
    core = demo_repo / CORE
    core.write_text("# user's note, not committed\n" + core.read_text())
    (demo_repo / "README.md").write_text("edited by the user\n")
    (demo_repo / "notes.txt").write_text("untracked\n")
    (demo_repo / "mathlib" / "extra.py").write_text("X = 1\n")
    git(demo_repo, "add", "mathlib/extra.py")
    before, index = tree_bytes(demo_repo), index_bytes(demo_repo)
    wrong = xml_call("edit", path=CORE, old=BUGGY_LINE, new="    return a * b")
    script = write_script(tmp_path / "r.jsonl", [wrong, xml_call("view", path="README.md"), "never used"])
    result = cli("fix", str(demo_repo), "--model", f"scripted:{script}", "--max-steps", "2")
    assert result.exit_code == 1, result.output
    assert "max_steps" in result.stderr
    assert tree_bytes(demo_repo) == before  # every byte back, the user's edits included
    assert index_bytes(demo_repo) == index


def test_garbage_replies_stop_after_three_format_errors(demo_repo, tmp_path, cli):
    before = tree_bytes(demo_repo)
    garbage = [
        "I am not sure what to do.",
        "```\nsome text\n```",
        "{broken json",
        "<function=view>never reached",
    ]
    script = write_script(tmp_path / "g.jsonl", garbage)
    traj = tmp_path / "g-run.jsonl"
    result = cli("fix", str(demo_repo), "--model", f"scripted:{script}", "--trajectory", str(traj))
    assert result.exit_code == 1
    assert "format_errors" in result.stderr
    events = _events(traj)
    assert len([e for e in events if e["type"] == "reply"]) == 3  # the fourth reply was never asked for
    errors = [
        e["message"]["content"] for e in events if e["type"] == "message" and e["message"]["role"] == "user"
    ]
    assert sum("Format error" in text for text in errors) == 3
    assert "has no action" in errors[1]
    assert "<function=" in errors[1]
    assert tree_bytes(demo_repo) == before


def test_tool_calls_that_leave_the_repository_are_refused(demo_repo, tmp_path, cli):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me\n")
    (demo_repo / "escape").symlink_to(tmp_path)
    git(demo_repo, "add", "escape")
    git(demo_repo, "commit", "-q", "-m", "add a symlink that points outside")
    before = tree_bytes(demo_repo)
    attempts = [
        xml_call("write", path="../outside.txt", content="overwritten\n"),
        xml_call("write", path=str(outside), content="overwritten\n"),
        xml_call("write", path="escape/outside.txt", content="overwritten\n"),
        xml_call("edit", path="escape/outside.txt", old="keep me", new="changed"),
        xml_call("write", path="../new-file.txt", content="x\n"),
    ]
    traj = tmp_path / "o.jsonl"
    result = cli(
        "fix",
        str(demo_repo),
        "--model",
        f"scripted:{write_script(tmp_path / 'o-r.jsonl', attempts)}",
        "--trajectory",
        str(traj),
    )
    assert result.exit_code == 1  # the script runs out without fixing anything
    assert outside.read_text() == "keep me\n"
    assert not (tmp_path / "new-file.txt").exists()
    assert tree_bytes(demo_repo) == before
    actions = [e for e in _events(traj) if e["type"] == "action"]
    assert len(actions) == len(attempts)
    assert not any(a["ok"] for a in actions)


def test_native_tool_calls_fix_too(demo_repo, tmp_path, cli):
    calls = [
        {
            "content": "",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "view", "arguments": json.dumps({"path": CORE})},
                }
            ],
        },
        {
            "content": "",
            "tool_calls": [
                {"name": "edit", "arguments": {"path": CORE, "old": BUGGY_LINE, "new": FIXED_LINE}}
            ],
        },
    ]
    traj = tmp_path / "n.jsonl"
    result = cli(
        "fix",
        str(demo_repo),
        "--model",
        f"scripted:{write_script(tmp_path / 'n-r.jsonl', calls)}",
        "--trajectory",
        str(traj),
    )
    assert result.exit_code == 0, result.output
    events = _events(traj)
    assert events[0]["mode"] == "tools"
    tool_messages = [
        e["message"] for e in events if e["type"] == "message" and e["message"]["role"] == "tool"
    ]
    assert tool_messages[0]["tool_call_id"] == "c1"


def test_whole_file_mode_applies_the_smallest_change(demo_repo, tmp_path, cli):
    # the answer drops every docstring and adds a comment: only the changed function changes
    answer = (
        "```python\n# fixed\ndef add(a, b):\n    return a + b\n\n"
        "def mean(values):\n    return sum(values) / len(values)\n```"
    )
    script = write_script(tmp_path / "w.jsonl", ["I am not sure.", answer])
    original = (demo_repo / CORE).read_text()
    result = cli("fix", str(demo_repo), "--model", f"scripted:{script}", "--mode", "whole-file")
    assert result.exit_code == 0, result.output
    assert (demo_repo / CORE).read_text() == original.replace(BUGGY_LINE, FIXED_LINE)


def test_replay_of_a_trajectory_repeats_the_run(demo_repo, tmp_path, cli):
    first = tmp_path / "first.jsonl"
    script = write_script(tmp_path / "r.jsonl", _fixing_replies())
    assert (
        cli("fix", str(demo_repo), "--model", f"scripted:{script}", "--trajectory", str(first)).exit_code == 0
    )
    fixed = (demo_repo / CORE).read_text()
    git(demo_repo, "checkout", "--", CORE)
    second = tmp_path / "second.jsonl"
    result = cli("fix", str(demo_repo), "--replay", str(first), "--trajectory", str(second))
    assert result.exit_code == 0, result.output
    assert (demo_repo / CORE).read_text() == fixed

    def conversation(path: Path) -> list[str]:  # test timings ("in 0.03s") differ between runs
        return [
            re.sub(r"in \d+\.\d+s", "in Ts", json.dumps(e["message"]))
            for e in _events(path)
            if e["type"] == "message"
        ]

    assert conversation(second) == conversation(first)


def test_commit_commits_only_the_agents_files(demo_repo, tmp_path, cli):
    git(demo_repo, "config", "user.name", "Test User")
    git(demo_repo, "config", "user.email", "user@example.invalid")
    (demo_repo / "README.md").write_text("user's staged edit\n")
    git(demo_repo, "add", "README.md")
    script = write_script(tmp_path / "c.jsonl", _fixing_replies())
    result = cli("fix", str(demo_repo), "--model", f"scripted:{script}", "--commit")
    assert result.exit_code == 0, result.output
    assert git(demo_repo, "show", "--name-only", "--format=", "HEAD").split() == [CORE]
    assert git(demo_repo, "log", "-1", "--format=%an").strip() == "Test User"
    assert git(demo_repo, "diff", "--cached", "--name-only").split() == ["README.md"]  # still staged


def test_refuses_a_directory_outside_git_unless_no_git(hermetic, tmp_path, cli):
    from plt_agent.agent.demo import demo_source

    plain = tmp_path / "plain"
    import shutil

    shutil.copytree(demo_source(), plain)
    script = write_script(tmp_path / "p.jsonl", _fixing_replies())
    refused = cli("fix", str(plain), "--model", f"scripted:{script}")
    assert refused.exit_code == 2
    assert "not inside a git repository" in refused.stderr
    assert FIXED_LINE not in (plain / CORE).read_text()
    done = cli("fix", str(plain), "--model", f"scripted:{script}", "--no-git")
    assert done.exit_code == 0, done.output
    assert FIXED_LINE in (plain / CORE).read_text()


def test_passing_tests_mean_nothing_to_fix(demo_repo, tmp_path, cli):
    core = demo_repo / CORE
    core.write_text(core.read_text().replace(BUGGY_LINE, FIXED_LINE))
    result = cli("fix", str(demo_repo), "--model", "scripted:/nonexistent.jsonl")
    assert result.exit_code == 0
    assert "nothing to fix" in result.stderr


def test_unknown_model_spec_is_a_usage_error(demo_repo, cli):
    result = cli("fix", str(demo_repo), "--model", "gpt-17")
    assert result.exit_code == 2
    assert "llama:PATH.gguf" in result.stderr
    assert "openai:URL#MODEL" in result.stderr


def test_the_repository_config_applies_and_flags_override_it(demo_repo, tmp_path, cli):
    with (demo_repo / "pyproject.toml").open("a") as fh:
        fh.write('\n[tool.plt-agent]\nmax_steps = 1\nmode = "text"\n')
    script = write_script(tmp_path / "r.jsonl", _fixing_replies())
    limited = cli("fix", str(demo_repo), "--model", f"scripted:{script}")
    assert limited.exit_code == 1
    assert "used all 1 step)" in limited.stderr
    allowed = cli("fix", str(demo_repo), "--model", f"scripted:{script}", "--max-steps", "2")
    assert allowed.exit_code == 0, allowed.output


def test_a_model_that_fails_to_load_leaves_no_progress_line_running(demo_repo, cli):
    import threading

    from plt_agent.liveline import THREAD_NAME

    result = cli("fix", str(demo_repo), "--model", str(demo_repo / "missing.gguf"))

    assert result.exit_code == 2
    assert "no such model file" in result.stderr
    assert [t for t in threading.enumerate() if t.name == THREAD_NAME and t.is_alive()] == []

"""`hook run` in-process: skips, exit codes, fail-open, output, and never touching the repo."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest
from hook_helpers import CallLog, FakeModel, git
from rich.console import Console

from plt_agent.hook.run import HookOptions, run_hook


def _console(terminal: bool = False) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=terminal, width=200, soft_wrap=True, highlight=False), buf


def _run(repo: Path, fake: FakeModel | None = None, environ: dict | None = None, **opts):
    console, buf = _console()
    loads = CallLog()  # the model is loaded in the review's child process

    def load(spec):
        loads.append(spec)
        if fake is None:
            raise RuntimeError(f"cannot load model {spec!r}")
        return fake

    result = run_hook(repo, HookOptions(**opts), load, console, environ=environ or {})
    return result, buf.getvalue(), loads.read()


def _repo_state(repo: Path) -> dict[str, bytes | str]:
    files = {
        str(p.relative_to(repo)): p.read_bytes()
        for p in repo.rglob("*")
        if p.is_file() and ".git" not in p.parts
    }
    return {
        **files,
        "index": (repo / ".git" / "index").read_bytes(),
        "cached": git(repo, "diff", "--cached"),
        "status": git(repo, "status", "--porcelain"),
    }


@pytest.fixture
def staged(repo: Path) -> Path:
    (repo / "app.py").write_text("def add(a, b):\n    return a - b\n")
    git(repo, "add", "app.py")
    (repo / "app.py").write_text("def add(a, b):\n    return a - b  # unstaged edit\n")
    (repo / "untracked.txt").write_text("not staged\n")
    return repo


@pytest.mark.parametrize(
    "marker", ["MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "rebase-merge/", "rebase-apply/"]
)
def test_skipped_while_an_operation_is_in_progress(staged, marker):
    target = staged / ".git" / marker.rstrip("/")
    target.mkdir() if marker.endswith("/") else target.write_text("0" * 40 + "\n")

    result, out, loads = _run(staged, FakeModel(), strict=True)

    assert result.exit_code == 0
    assert result.skipped
    assert loads == []
    assert "skipped" in out


@pytest.mark.parametrize("environ", [{"PLT_AGENT_SKIP": "1"}, {"SKIP": "flake8,plt-agent-review"}])
def test_skipped_by_environment(staged, environ):
    result, out, loads = _run(staged, FakeModel(), environ=environ)

    assert result.skipped
    assert loads == []
    assert "review skipped" in out


def test_nothing_staged_is_a_quiet_pass(repo):
    result, out, loads = _run(repo, FakeModel())

    assert (result.exit_code, out, loads) == (0, "", [])


def test_review_prints_model_findings_and_leaves_the_repo_untouched(staged):
    before = _repo_state(staged)
    model = FakeModel(
        says="warning app.py:2: subtracts instead of adding\n"
        "```diff\n--- a/app.py\n+++ b/app.py\n@@ -2 +2 @@\n-    return a - b\n+    return a + b\n```"
    )

    result, out, _ = _run(staged, model, model="fake-spec", patch_file="suggested.patch")

    assert _repo_state(staged) == before
    assert result.exit_code == 0
    assert "app.py:2: subtracts instead of adding" in out
    assert "return a - b" in model.calls[0][-1]["content"]  # the staged version
    assert "unstaged edit" not in model.calls[0][-1]["content"]
    patch = staged / ".git" / "plt-agent" / "suggested.patch"
    assert result.patch_path == patch
    assert "+    return a + b" in patch.read_text()
    check = subprocess.run(
        ["git", "apply", "--check", "--cached", str(patch)], cwd=staged, capture_output=True
    )
    assert check.returncode == 0, check.stderr


def test_strict_blocks_on_a_deterministic_problem_even_without_a_model(staged):
    (staged / "bad.py").write_text("def f(:\n")
    git(staged, "add", "bad.py")
    before = _repo_state(staged)

    lenient, out_lenient, _ = _run(staged, None)
    strict, out_strict, _ = _run(staged, None, strict=True)

    assert _repo_state(staged) == before
    assert lenient.exit_code == 0
    assert "bad.py:1" in out_lenient
    assert strict.exit_code == 1
    assert "commit blocked" in out_strict


def test_strict_blocks_on_a_model_blocker_but_not_on_a_warning(staged):
    blocker, _, _ = _run(staged, FakeModel(says="blocker app.py:2: wrong operator"), strict=True)
    warning, _, _ = _run(staged, FakeModel(says="warning app.py:2: wrong operator"), strict=True)

    assert (blocker.exit_code, warning.exit_code) == (1, 0)


def test_fails_open_when_the_model_cannot_load(staged):
    result, out, loads = _run(staged, None, model="llama:/missing.gguf", strict=True)

    assert result.exit_code == 0
    assert loads == ["llama:/missing.gguf"]
    assert "cannot load model" in out
    assert "not held up" in out


def test_time_budget_passes_with_a_note(staged):
    slow = FakeModel(says="info app.py:1: fine\n" * 40, chunks=40, delay=0.05)

    result, out, _ = _run(staged, slow, time_budget_s=0.3)

    assert result.exit_code == 0
    assert result.review.status == "timeout"
    assert "ran out of its 0.3 s budget" in out


def test_at_most_five_findings_of_one_sentence_unless_verbose(staged):
    many = "".join(
        f"info app.py:{i}: note {i} about the sum. Because of a long story nobody reads.\n"
        for i in range(1, 31)
    )

    result, out, _ = _run(staged, FakeModel(says=many))
    _, verbose, _ = _run(staged, FakeModel(says=many), verbose=True)

    assert len(result.findings) == 30
    assert out.count("note ") == 5
    assert "long story" not in out
    assert "25 more (--verbose shows them all)" in out
    assert len(out.splitlines()) == 7  # the verdict, five findings, "... more"
    assert verbose.count("long story") >= 30  # every finding in full, then the model's answer
    assert "the model's answer" in verbose


def test_the_verdict_says_what_happens_to_the_commit(staged):
    _, clean, _ = _run(staged, FakeModel(says="LGTM"))
    _, lenient, _ = _run(staged, FakeModel(says="blocker app.py:2: wrong operator"))
    _, strict, _ = _run(staged, FakeModel(says="blocker app.py:2: wrong operator"), strict=True)

    assert clean.splitlines()[0].startswith("plt-agent: no problems found")
    assert "the commit goes through" in clean.splitlines()[0]
    assert len(clean.splitlines()) == 1
    assert "1 blocker" in lenient.splitlines()[0]
    assert "not blocking: the commit goes through" in lenient.splitlines()[0]
    assert "commit blocked" in strict.splitlines()[0]
    assert "goes through" not in strict


def test_rambling_prose_is_cut_and_not_printed(staged):
    rambling = "The change looks like it subtracts numbers, which might be fine in some cases. " * 40
    model = FakeModel(says=rambling, chunks=80)

    result, out, _ = _run(staged, model)
    _, verbose, _ = _run(staged, FakeModel(says=rambling, chunks=80), verbose=True)

    assert result.review.cut  # stopped early, not read to the end
    assert len(result.review.text) < len(rambling) // 2
    assert len(out.splitlines()) == 1
    assert "not in the asked form" in out
    assert "subtracts numbers" not in out
    assert "subtracts numbers" in verbose


def test_diff_sent_to_the_model_is_capped(staged):
    (staged / "big.txt").write_text("".join(f"row {i}\n" for i in range(5000)))
    git(staged, "add", "big.txt")
    model = FakeModel()

    _run(staged, model, max_diff_chars=2000)

    prompt = model.calls[0][-1]["content"]
    assert len(prompt) < 2000 + 500
    assert "app.py" in prompt


def test_markup_and_control_characters_in_an_error_are_printed_as_text(staged):
    def load(spec):
        raise FileNotFoundError("ggml.c:1234: no model at /models/[/x]/[bold]m\x1b[2J\x1b]0;pwned\x07.gguf")

    console, buf = _console(terminal=True)
    result = run_hook(staged, HookOptions(model="plt:/models/[/x]/m.gguf"), load, console, environ={})
    out = buf.getvalue()

    assert result.exit_code == 0
    plain_text = re.sub(r"\x1b\[(\?25[hl]|[0-9;]*m|1A|2K)", "", out)  # the console's own colours, cursor
    assert "\x1b" not in plain_text  # nothing else drives the terminal
    assert "\x07" not in plain_text
    shown = "ggml.c:1234: no model at /models/[/x]/[bold]m\\x1b[2J\\x1b]0;pwned\\x07.gguf"
    assert shown in plain_text  # printed as text: markup and escapes visible, no emoji for :1234:
    assert "not held up" in plain_text

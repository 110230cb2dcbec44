"""The model review: forgiving parsing, diff capping, the time budget, failing open."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from hook_helpers import CallLog, FakeModel

from plt_agent.hook.review import ANSWER_TOKENS, GRACE_S, cap_diff, fit_diff, parse_review, review_diff

ROOT = Path(__file__).parents[2]


def _file_diff(name: str, lines: int) -> str:
    body = "".join(f"+line {i} of {name}\n" for i in range(lines))
    return f"diff --git a/{name} b/{name}\n--- a/{name}\n+++ b/{name}\n@@ -0,0 +1,{lines} @@\n{body}"


def test_parse_review_accepts_the_usual_shapes_and_maps_severities():
    text = "\n".join(
        [
            "Here is my review:",
            "- blocker app.py:3: division by zero when n == 0",
            "* [warning] `src/util.py:10`: unused variable",
            "1. info README.md: typo in heading",
            "ERROR lib/x.py:7: off by one",
            "critical: secrets.txt: an API key",
            "Overall the change looks fine.",
        ]
    )

    findings, patch = parse_review(text)

    got = [(f.severity, f.path, f.line, f.message) for f in findings]
    assert got == [
        ("blocker", "app.py", 3, "division by zero when n == 0"),
        ("warning", "src/util.py", 10, "unused variable"),
        ("info", "README.md", None, "typo in heading"),
        ("warning", "lib/x.py", 7, "off by one"),
        ("blocker", "secrets.txt", None, "an API key"),
    ]
    assert all(f.source == "model" for f in findings)
    assert patch == ""


def test_parse_review_takes_the_first_diff_block_as_the_patch():
    patch_text = "--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
    text = f"warning app.py:1: x should be 2\n```diff\n{patch_text}```\n```diff\nother\n```"

    findings, patch = parse_review(text)

    assert patch == patch_text
    assert len(findings) == 1


def test_lgtm_gives_no_findings():
    assert parse_review("LGTM") == ([], "")


def test_cap_diff_keeps_whole_files_and_names_the_rest():
    parts = [_file_diff(f"f{i}.txt", 20) for i in range(5)]
    diff = "".join(parts)
    limit = len(parts[0]) + len(parts[1]) + 10

    capped, left_out = cap_diff(diff, limit)

    assert capped.startswith(parts[0] + parts[1])
    assert len(capped) <= limit + len("\n[... rest of this file's diff cut ...]\n")
    assert left_out == ["f3.txt", "f4.txt"] or left_out == ["f2.txt", "f3.txt", "f4.txt"]
    assert cap_diff(diff, len(diff)) == (diff, [])


def test_fit_diff_shrinks_the_diff_until_the_prompt_fits_the_window():
    diff = "".join(_file_diff(f"f{i}.txt", 200) for i in range(10))
    model = FakeModel(context_window=2048)

    messages = fit_diff(model, diff, max_chars=len(diff))

    assert model.count_tokens(messages) <= 2048 - ANSWER_TOKENS
    assert "more changed files not shown" in messages[-1]["content"]


def test_review_returns_findings_from_a_working_model():
    model = FakeModel(says="warning app.py:2: returns the wrong sign", chunks=4)
    streamed = []

    review = review_diff(
        lambda: model, _file_diff("app.py", 3), budget_s=5, max_chars=10_000, on_text=streamed.append
    )

    assert review.status == "ok"
    assert [(f.path, f.line) for f in review.findings] == [("app.py", 2)]
    assert "".join(streamed) == model.says
    assert "+line 0 of app.py" in model.calls[0][-1]["content"]


def test_review_times_out_and_keeps_the_partial_answer():
    model = FakeModel(says="info a.py:1: x\n" * 200, chunks=200, delay=0.2)  # 40 s in all
    start = time.monotonic()

    review = review_diff(lambda: model, _file_diff("a.py", 1), budget_s=1.0, max_chars=10_000)

    took = time.monotonic() - start
    assert review.status == "timeout"
    assert took >= 1.0  # the budget is given in full
    assert took < 20.0  # but not the 40 s the whole answer would take (wide: a busy machine)
    assert 0 < len(review.findings) < 200


def test_review_gives_up_on_a_model_that_ignores_the_stop_request():
    model = FakeModel(says="x" * 100, chunks=100, delay=0.3, ignore_stop=True)  # 30 s
    start = time.monotonic()

    review = review_diff(lambda: model, _file_diff("a.py", 1), budget_s=0.3, max_chars=10_000)

    assert review.status == "timeout"
    assert time.monotonic() - start < 10  # budget + GRACE_S (2 s), far from the model's 30 s


def test_review_fails_open_when_the_model_cannot_load():
    def broken():
        raise FileNotFoundError("no such model file: /nope.gguf")

    review = review_diff(broken, _file_diff("a.py", 1), budget_s=5, max_chars=10_000)

    assert review.status == "failed"
    assert "/nope.gguf" in review.error
    assert review.findings == []


def test_a_native_abort_while_loading_is_a_failed_review_not_a_dead_hook():
    def aborting():
        os.write(2, b"ggml.c:123: GGML_ASSERT(n_layer > 0) failed\n")
        os.abort()

    review = review_diff(aborting, _file_diff("a.py", 1), budget_s=30, max_chars=10_000)

    assert review.status == "failed"
    assert "SIGABRT" in review.error
    assert "GGML_ASSERT(n_layer > 0) failed" in review.error  # the child's telling line
    assert review.seconds < 15  # it did not wait for the budget


def test_a_fatal_signal_in_the_model_is_a_failed_review():
    class Crashing(FakeModel):
        def complete(self, messages, **kwargs):
            os.kill(os.getpid(), signal.SIGSEGV)

    crashing = Crashing()  # made here: its call log is then cleaned up by this process
    review = review_diff(lambda: crashing, _file_diff("a.py", 1), budget_s=30, max_chars=10_000)

    assert review.status == "failed"
    assert "SIGSEGV" in review.error


def test_an_exit_without_an_answer_is_a_failed_review():
    review = review_diff(lambda: os._exit(3), _file_diff("a.py", 1), budget_s=30, max_chars=10_000)

    assert review.status == "failed"
    assert "exited with code 3" in review.error


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in (b"Z", b"X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_a_hung_loader_is_killed_with_everything_it_started():
    started = CallLog()
    tag = f"3000.{uuid.uuid4().int % 10**9:09d}"

    def hanging():
        helper = subprocess.Popen(["setsid", "sleep", tag])
        started.append(helper.pid)
        time.sleep(3000)

    begin = time.monotonic()
    review = review_diff(hanging, _file_diff("a.py", 1), budget_s=0.5, max_chars=10_000)
    took = time.monotonic() - begin

    assert review.status == "timeout"
    assert took < 0.5 + GRACE_S + 5
    pids = started.read()
    assert len(pids) == 1
    assert not _alive(pids[0])


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_the_review_process_dies_with_the_hook_even_of_sigkill(tmp_path):
    pid_file = tmp_path / "child.pid"
    code = (
        "import os, time\n"
        "from plt_agent.hook.review import review_diff\n"
        "def hanging():\n"
        f"    open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "    time.sleep(3000)\n"
        "review_diff(hanging, 'diff', budget_s=600, max_chars=1000)\n"
    )
    hook = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the review process never started"
            time.sleep(0.05)
        child = int(pid_file.read_text())
        assert _alive(child)
    finally:
        hook.kill()
        hook.wait()

    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)

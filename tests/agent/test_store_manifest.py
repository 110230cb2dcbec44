"""A damaged model-store manifest gives one line naming it, never a traceback, and never a path
outside the store."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CASES = {
    "not json": "{",
    "deep": "[" * 100_000 + "]" * 100_000,
    "a list": "[1, 2]",
    "no file key": json.dumps({"backend": "llama"}),
    "file outside": json.dumps({"file": "../../outside.gguf", "backend": "llama"}),
    "absolute file": json.dumps({"file": "/etc/passwd", "backend": "llama"}),
    "odd backend": json.dumps({"file": "m.gguf", "backend": "shell"}),
    "binary": b"\xff\xfe\x00junk",
}


def _cli(*args: str, home) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLT_AGENT_")}
    env["PLT_AGENT_HOME"] = str(home)
    code = "import sys; from plt_agent.cli import main; sys.argv[0] = 'plt-agent'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_damaged_manifest_is_one_line_naming_it(tmp_path, case):
    entry = tmp_path / "models" / "mine"
    entry.mkdir(parents=True)
    (entry / "m.gguf").write_bytes(b"GGUF")
    (tmp_path / "outside.gguf").write_bytes(b"GGUF")
    content = CASES[case]
    manifest = entry / "model.json"
    manifest.write_bytes(content if isinstance(content, bytes) else content.encode())

    shown = _cli("models", "path", "mine", home=tmp_path)
    assert shown.returncode != 0
    assert "Traceback" not in shown.stderr
    assert str(manifest) in shown.stderr + shown.stdout
    assert "outside.gguf" not in shown.stdout

    listed = _cli("models", "list", home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "Traceback" not in listed.stderr


def test_a_sound_manifest_still_resolves(tmp_path):
    entry = tmp_path / "models" / "mine"
    entry.mkdir(parents=True)
    (entry / "m.gguf").write_bytes(b"GGUF")
    (entry / "model.json").write_text(json.dumps({"file": "m.gguf", "backend": "llama"}))
    shown = _cli("models", "path", "mine", home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == str(entry / "m.gguf")

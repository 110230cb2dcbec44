import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from plt_agent import __version__
from plt_agent.cli import app

runner = CliRunner()


def test_version_flag_prints_package_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"plt-agent {__version__}"


def test_console_script_help_lists_every_entry_point():
    exe = Path(sys.executable).parent / "plt-agent"
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "Usage: plt-agent" in proc.stdout
    for command in (
        "fix",
        "chat",
        "hook",
        "convert",
        "generate",
        "logits",
        "bench",
        "tool",
        "eval",
        "models",
    ):
        assert f" {command} " in proc.stdout, command

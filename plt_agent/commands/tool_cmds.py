"""`plt-agent tool list` and `plt-agent tool run`: the agent's tools from the command line.

For debugging, scripting and tests. `tool run` prints the observation the model would see
(or the whole observation as JSON with --json) and exits 0 when the tool succeeded, 1 when
it reported an error. Undo data persists between calls (in the repository's .git dir), so
`tool run edit ...` then `tool run diff` / `tool run undo` work as separate commands. A tool
that may change files takes the repository's run lock for the call (exit 2 while another
plt-agent run works there) and first puts back what a killed earlier call left in flight.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from plt_agent.commands.common import group

# Besides the tools that change files, the test runner runs the project's own command, which may.
_RUNS_COMMANDS = ("run_tests",)

tool_app = group("tool", "List the agent's tools or run one on a repository (for debugging and scripting).")


@tool_app.command("list")
def list_tools(
    as_json: bool = typer.Option(False, "--json", help="Print the tool specs as one JSON list."),
) -> None:
    """Print each tool's name, description and argument schema."""
    from tools.registry import default_tools

    specs = [
        {"name": t.name, "description": t.description, "parameters": t.parameters} for t in default_tools()
    ]
    if as_json:
        typer.echo(json.dumps(specs, indent=2))
        return
    for spec in specs:
        typer.echo(f"{spec['name']}\n  {spec['description']}")
        typer.echo("  arguments: " + json.dumps(spec["parameters"].get("properties", {})))
        required = spec["parameters"].get("required", [])
        typer.echo(f"  required: {', '.join(required) if required else '(none)'}\n")


@tool_app.command("run")
def run(
    name: str = typer.Argument(..., help="Tool name (see `plt-agent tool list`)."),
    repo: Path = typer.Option(Path("."), "--repo", help="Repository root the tool acts on."),
    args: str = typer.Option(
        "{}", "--args", help='Arguments as a JSON object, e.g. \'{"path": "src/app.py"}\'.'
    ),
    test_cmd: str = typer.Option(None, "--test-cmd", help="Test command for run_tests (default: detected)."),
    no_git: bool = typer.Option(False, "--no-git", help="Do not use git (list files by walking the tree)."),
    new_snapshot: bool = typer.Option(
        False, "--new-snapshot", help="Start a new snapshot first: forget earlier changes for diff/undo."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the whole observation (text, ok, data) as JSON."
    ),
) -> None:
    """Run one tool and print its observation; exit 0 on success, 1 when the tool reported an error."""
    from tools.base import ToolError
    from tools.registry import get_tool, run_tool
    from tools.runs import begin_run
    from tools.workspace import Workspace

    get_tool(name)  # unknown names fail here, as one error line
    try:
        parsed = json.loads(args)
    except ValueError as exc:
        raise ToolError(f"--args is not valid JSON: {exc}") from None
    workspace = Workspace(repo, use_git=not no_git, test_command=test_cmd)
    if not (get_tool(name).mutates or name in _RUNS_COMMANDS) and not new_snapshot:
        observation = run_tool(name, parsed, workspace)
    else:
        with begin_run(workspace, "tool", fresh=new_snapshot, rollback="inflight") as run:
            for rec in run.recovered:
                for line in rec.lines():
                    typer.echo(line, err=True)
            observation = run_tool(name, parsed, workspace)
    if as_json:
        out = {"ok": observation.ok, "text": observation.text, "data": observation.data}
        typer.echo(json.dumps(out, indent=2, default=str))
    else:
        typer.echo(observation.text)
    raise typer.Exit(0 if observation.ok else 1)


def register(app: typer.Typer) -> None:
    """Add the `tool` command group to the root app."""
    app.add_typer(tool_app, name="tool")

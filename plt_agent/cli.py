"""The `plt-agent` command line: wires the command groups together and turns errors into one line.

Every domain package raises its own exception family (EngineError, ConvertError, ToolError,
PltAgentError). The root group catches them at the boundary, prints one styled line and
exits with the error's `exit_code` (2, bad usage or configuration, unless it says 1: a task
that ran and was not done); `--debug` (or PLT_AGENT_DEBUG=1) shows the traceback instead.
The message is printed literally: its control characters escaped, rich markup in it not
interpreted, its length bounded (see `plt_agent.display`).

The exit-code contract of every command (EXIT_CODES, also in `--help` and the README):
0 success, 1 task not done, 2 bad usage or configuration, 130 Ctrl-C, 128+N a stop signal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import typer
import typer.core
from rich.console import Console

from plt_agent import __version__

err_console = Console(stderr=True)

EXIT_OK, EXIT_NOT_DONE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_CODES = (
    "Exit codes (every command): 0 success; 1 the task ran and was not done (not fixed, a tool "
    "reported a failure, --strict blocked a commit); 2 bad usage or configuration (bad flags, an "
    "empty prompt, invalid --args JSON, a model that cannot be loaded or reached, a store model "
    "not downloaded, a busy repository); 130 stopped by Ctrl-C; 128+N stopped by signal N "
    "(143 SIGTERM, 129 SIGHUP)."
)


def _known_errors() -> tuple[type[BaseException], ...]:
    from converters.errors import ConvertError
    from engine.errors import EngineError
    from plt_agent.errors import PltAgentError
    from tools.base import ToolError

    return (ConvertError, EngineError, PltAgentError, ToolError)


class _RootGroup(typer.core.TyperGroup):
    """Catches the project's exceptions around every (sub)command invocation, and makes every
    command's help read as users expect (`tidy_help`)."""

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        tidy_help(self)

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except _known_errors() as exc:
            if ctx.obj and ctx.obj.get("debug") or os.environ.get("PLT_AGENT_DEBUG") == "1":
                raise
            from plt_agent.display import literal

            err_console.print(f"[bold red]error:[/] {literal(exc)}", highlight=False, soft_wrap=True)
            raise typer.Exit(getattr(exc, "exit_code", EXIT_USAGE)) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]")
            raise typer.Exit(EXIT_INTERRUPTED) from None


def tidy_help(command: typer.core.TyperCommand | typer.core.TyperGroup) -> None:
    """Classic help for `command` and every command under it: `--yes` (not `--yes <bool>`),
    `--model TEXT`, `MODEL` / `[PATH]` for arguments (not `{model}`), and the exit codes
    at the end of each command's help."""
    for param in command.params:
        if isinstance(param, typer.core.TyperArgument):
            name = (param.metavar or param.name or "ARG").upper()
            param.metavar = name
            shown = name if param.required else f"[{name}]"
            shown += "..." if param.nargs != 1 else ""
            param._usage_display_name = lambda shown=shown: shown  # type: ignore[attr-defined]
            param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]  # the name says it
        elif isinstance(param, typer.core.TyperOption) and param.metavar is None:
            param.metavar = "" if param.is_flag else _classic_type_name(param)
    help_option = command.get_help_option

    def get_help_option(ctx):  # type: ignore[no-untyped-def]
        option = help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = get_help_option  # type: ignore[method-assign]
    if command.epilog is None and command.name != "plt-agent":
        command.epilog = EXIT_CODES
    for sub in getattr(command, "commands", {}).values():
        tidy_help(sub)


_CLASSIC = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "Path": "PATH", "bool": "BOOLEAN"}


def _classic_type_name(param: typer.core.TyperOption) -> str:
    """click's classic metavar (TEXT, INTEGER, FLOAT, PATH) for an option's value."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None and getattr(descriptor, "is_path", False):
        return "PATH"
    bare = param.bare_type() if hasattr(param, "bare_type") else "str"
    bare = bare.removeprefix("list[").removesuffix("]")
    return _CLASSIC.get(bare, bare.upper())


app = typer.Typer(
    cls=_RootGroup,
    name="plt-agent",
    help="A local coding assistant running Parallel Loop Transformer models (LoopCoder-V2) on ggml.",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"plt-agent {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
) -> None:
    ctx.obj = {"debug": debug}
    _engine_settings(os.environ)


def _engine_settings(environ: Mapping[str, str]) -> None:
    """Settings the engine takes from its caller, not from the environment (it reads none)."""
    libdir = environ.get("PLT_AGENT_GGML_LIBDIR")
    if libdir:
        from engine import api

        api.use_ggml_library(libdir)
    if environ.get("PLT_AGENT_GGML_LOG") == "debug":
        from engine import api

        api.show_ggml_debug_log(True)


def _register() -> None:
    """Attach every command group. Each module adds its commands to `app` via `register(app)`."""
    from plt_agent.commands import REGISTRY

    for register in REGISTRY:
        register(app)


_register()


def main() -> None:
    try:
        app()
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(1)


if __name__ == "__main__":
    main()

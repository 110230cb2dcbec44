"""The `plt-agent` command line: wires the command groups together and turns errors into one line.

Every domain package raises its own exception family (EngineError, ConvertError, ToolError,
PltAgentError). The root group catches them at the boundary, prints one styled line and
exits non-zero; `--debug` (or PLT_AGENT_DEBUG=1) shows the traceback instead. The message
is printed literally: its control characters escaped, rich markup in it not interpreted,
its length bounded (see `plt_agent.display`).
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


def _known_errors() -> tuple[type[BaseException], ...]:
    from converters.errors import ConvertError
    from engine.errors import EngineError
    from plt_agent.errors import PltAgentError
    from tools.base import ToolError

    return (ConvertError, EngineError, PltAgentError, ToolError)


class _RootGroup(typer.core.TyperGroup):
    """Catches the project's exceptions around every (sub)command invocation."""

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except _known_errors() as exc:
            if ctx.obj and ctx.obj.get("debug") or os.environ.get("PLT_AGENT_DEBUG") == "1":
                raise
            from plt_agent.display import literal

            err_console.print(f"[bold red]error:[/] {literal(exc)}", highlight=False, soft_wrap=True)
            raise typer.Exit(getattr(exc, "exit_code", 1)) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=_RootGroup,
    name="plt-agent",
    help="A local coding assistant running Parallel Loop Transformer models (LoopCoder-V2) on ggml.",
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

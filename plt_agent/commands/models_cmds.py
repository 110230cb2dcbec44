"""`plt-agent models list|pull|rm|path`: the local model store (`plt_agent.store`).

Thin wrappers; the store is imported inside the commands so `plt-agent --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from plt_agent.commands.common import group
from plt_agent.display import literal

err = Console(stderr=True)
out = Console()

models_app = group("models", "The local model store: list, pull, remove and locate models.")


def register(app: typer.Typer) -> None:
    """Add the `models` group to the root app."""
    app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list() -> None:
    """List the models the store knows and which are downloaded; `*` marks the default."""
    from rich.table import Table

    from plt_agent.config import load_config
    from plt_agent.models import DEFAULT_MODEL
    from plt_agent.store import CATALOG, ModelStore
    from tools.git import find_root

    store = ModelStore()
    stored = {m.name: m for m in store.list()}
    here = Path.cwd()
    default = load_config(find_root(here) or here).model or DEFAULT_MODEL  # as fix and chat read it
    table = Table(
        "name", "backend", "status", "size", "description", title=f"models in {literal(store.models_dir)}"
    )
    for name in sorted(set(CATALOG) | set(stored)):
        entry, have = CATALOG.get(name), stored.get(name)
        status = "[green]downloaded[/]" if have else "not downloaded"
        if name == default:
            name += " *"
        size = f"{have.size_bytes / 1e6:,.0f} MB" if have else (entry.size if entry else "")
        backend = have.backend if have else (entry.backend if entry else "")
        table.add_row(
            literal(name),
            literal(backend),
            status,
            literal(size),
            literal(entry.description if entry else have.source),
        )
    out.print(table)
    where = "" if default in CATALOG or default in stored else f" ({literal(default)}, not in the store)"
    out.print(f"* the default model{where}: set `model` in config, PLT_AGENT_MODEL or --model to change it")


@models_app.command("pull")
def models_pull(
    name: str = typer.Argument(..., help="Model name: smollm2-135m or loopcoder-v2."),
    quant: str = typer.Option(
        None, "--quant", help="loopcoder-v2: GGUF type (q4_k default, q8_0, f16, ...)."
    ),
    from_dir: Path = typer.Option(
        None, "--from", help="loopcoder-v2: convert this local checkpoint directory."
    ),
) -> None:
    """Download (and convert, if needed) a model into the store."""
    from plt_agent.store import ModelStore

    stored = ModelStore().pull(
        name, quant=quant, from_dir=from_dir, announce=lambda line: err.print(literal(line))
    )
    typer.echo(str(stored.path))


@models_app.command("rm")
def models_rm(name: str = typer.Argument(..., help="Model name to remove from the store.")) -> None:
    """Remove a downloaded model from the store."""
    from plt_agent.store import ModelStore

    removed = ModelStore().rm(name)
    err.print(f"removed {literal(removed)}")


@models_app.command("path")
def models_path(name: str = typer.Argument(..., help="Model name.")) -> None:
    """Print the path of a downloaded model's GGUF file."""
    from plt_agent.store import ModelStore

    typer.echo(str(ModelStore().path(name)))

"""List the installed model plugins."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from recon_cli.cli.common import console, handle_errors

NAME = "models"


@handle_errors
def command(
    names_only: Annotated[bool, typer.Option("--names", help="Print only the names, one per line.")] = False,
) -> None:
    from recon_cli.registry import available_models, load_plugin

    names = available_models()
    if names_only:
        for name in names:
            typer.echo(name)
        return
    table = Table(title="models")
    for col in ("name", "description", "data", "trainable", "default weights"):
        table.add_column(col, overflow="fold")
    for name in names:
        plugin = load_plugin(name)
        table.add_row(
            name,
            plugin.description,
            plugin.supports(),
            "yes" if plugin.trainable else "no",
            "yes" if plugin.default_weights else "-",
        )
    console.print(table)

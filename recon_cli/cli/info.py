"""Describe raw-data files: format, trajectory, matrix, coils, frames, slices, acceleration, noise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from recon_cli.cli.common import console, err_console, expand_inputs, handle_errors

NAME = "info"


@handle_errors
def command(
    files: Annotated[list[str], typer.Argument(help="Raw-data files (paths or globs).", show_default=False)],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per file instead of a table.")
    ] = False,
) -> None:
    from recon_cli.errors import ReconError
    from recon_cli.summary import describe_file

    rows, failures = [], 0
    for path in expand_inputs(files):
        try:
            rows.append(describe_file(path))
        except ReconError as exc:
            failures += 1
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            if as_json:
                rows.append(
                    {"file": str(path), "error": exc.problem if hasattr(exc, "problem") else str(exc)}
                )
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
    elif rows:
        console.print(_table([r for r in rows if "error" not in r]))
    if failures:
        raise typer.Exit(3)


def _table(rows: list[dict]) -> Table:
    table = Table(title="raw data", show_lines=False)
    columns = [
        "file",
        "format",
        "trajectory",
        "matrix",
        "coils",
        "frames",
        "slices",
        "acceleration",
        "noise_scans",
        "reference",
    ]
    for col in columns:
        table.add_column(col.replace("_", " "), overflow="fold")
    for row in rows:
        cells = {**row, "file": Path(row["file"]).name}
        table.add_row(*(_cell(cells.get(c)) for c in columns))
    return table


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, list | tuple):
        return " x ".join(map(str, value))
    return "-" if value is None else str(value)

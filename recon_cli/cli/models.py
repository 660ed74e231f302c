"""List the installed model plugins, one line each; `recon models NAME` prints a model's card."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from recon_cli.cli.common import console, handle_errors

NAME = "models"


@handle_errors
def command(
    name: Annotated[
        str | None, typer.Argument(help="A model name: print its card.", show_default=False)
    ] = None,
    names_only: Annotated[bool, typer.Option("--names", help="Print only the names, one per line.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document instead.")] = False,
) -> None:
    from recon_cli.model_info import model_card, model_summary
    from recon_cli.registry import available_models, load_plugin

    if name is not None:
        card = model_card(load_plugin(name))
        if as_json:
            typer.echo(json.dumps(card, indent=2))
        else:
            _print_card(card)
        return
    names = available_models()
    if names_only:
        typer.echo("\n".join(names))
        return
    rows = [model_summary(load_plugin(n)) for n in names]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("name", "kind", "data", "weights", "iterations"):
        table.add_column(col, no_wrap=True)
    for row in rows:
        weights = "shipped" if row["shipped_weights"] else "-"
        data = row["data"].replace(" / ", "/")  # one line per model at 80 columns
        table.add_row(row["name"], row["kind"], data, weights, row["iterations"])
    console.print(table)
    console.print(Text("`recon models NAME` shows a model's card.", style="dim"))


def _print_card(card: dict[str, Any]) -> None:
    """Description, config keys with defaults, weights provenance and measured quality, wrapped at spaces."""
    console.print(Text(f"{card['name']}: {card['description']}", style="bold"))
    console.print(f"{card['kind']}; data: {card['data']}", highlight=False)
    _section("config (--set KEY=VALUE)")
    console.print(
        _grid([(f"{c['key']} = {c['default']!r}", f"({c['type']}) {c['help']}") for c in card["config"]])
    )
    _section("weights")
    weights = card["weights"]
    if weights is None:
        kind = "train with `recon train`, pass --weights" if card["kind"] == "learned" else "none needed"
        rows = [("shipped", f"none ({kind})")]
    else:
        rows = [("shipped", f"{weights['resource']}, {weights.get('bytes', '?')} bytes")]
        rows.append(("sha256", str(weights.get("sha256", weights.get("problem")))))
        if weights.get("settings"):  # what the weights bring in place of the defaults above
            settings = ", ".join(f"{k}={v!r}" for k, v in weights["settings"].items())
            rows.append(("trained with", f"{settings} (used unless --set says otherwise)"))
    if card["model_card"]:
        rows.append(("model card", card["model_card"]))
    console.print(_grid(rows))
    _section("measured quality (docs/benchmarks.md)")
    if card["quality_source"] is None:
        console.print("  docs/benchmarks.md is not installed with this copy of recon", highlight=False)
    elif not card["quality"]:
        console.print("  no table row names this model", highlight=False)
    section = None
    for entry in card["quality"]:
        if entry["section"] != section:
            section = entry["section"]
            console.print(Padding(Text(section, style="italic"), (0, 0, 0, 2)))
        console.print(_grid([("", "; ".join(f"{k} {v}" for k, v in entry["cells"].items()))]))


def _section(title: str) -> None:
    console.print()
    console.print(Text(title, style="bold"))


def _grid(rows: list[tuple[str, str]]) -> Table:
    """Two columns: a label that never wraps and a value that wraps at spaces (hanging indent)."""
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True, style="cyan")
    table.add_column()
    for label, value in rows:
        table.add_row(Text(f"  {label}"), Text(value))
    return table

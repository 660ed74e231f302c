"""``recon reconstruct --dry-run``: every input's memory plan, as rich tables or one JSON document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from recon_cli.cli.common import console, err_console
from recon_cli.reconstruct_request import ReconstructRequest


def show_plans(paths: list[Path], request: ReconstructRequest, *, as_json: bool) -> int:
    """Print the plans (stdout) and each failure as one line on stderr; return the exit code (0, or the
    first failure's)."""
    from recon_cli.memory.plan import dry_run

    documents = dry_run(paths, request)
    for doc in documents:
        if not doc["ok"]:
            err_console.print(f"[bold red]error:[/] {escape(doc['error'])}", highlight=False, soft_wrap=True)
    if as_json:
        typer.echo(json.dumps({"dry_run": True, "files": documents}, indent=2))
    else:
        for doc in documents:
            if "estimate_mib" in doc:
                console.print(_table(doc))
    failed = [d for d in documents if not d["ok"]]
    return int(failed[0]["exit_code"]) if failed else 0


def _table(doc: dict[str, Any]) -> Table:
    est = doc["estimate_mib"]
    per_slice = doc["per_slice"]
    kspace = (
        f"{' x '.join(map(str, per_slice['kspace_matrix']))} Cartesian"
        if "kspace_matrix" in per_slice
        else f"{per_slice['samples_per_frame']} samples per frame"
    )
    chunks = doc["chunking"]
    frames = f"{chunks['frames_at_once']} frames at a time"
    if chunks["frames_at_once"] < per_slice["frames"]:
        frames += (f" (windows of {chunks['frames_per_window']} with {chunks['temporal_reach']} frames of "
                   "overlap on each side)")  # fmt: skip
    table = Table(
        title=f"{Path(doc['input']).name}: plan for {doc['model']} on {doc['device']}", show_header=False
    )
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    rows = [
        ("per slice", f"{per_slice['coils']} coils x {per_slice['frames']} frames, {kspace}, image "
         f"{' x '.join(map(str, per_slice['image_matrix']))}; {doc['slices']} slice(s)"),
        ("operator", f"{doc['operator']}, backend {doc['nufft_backend']}"),
        ("chunking", f"{chunks['slices_at_once']} slice, {chunks['coils_at_once']} of "
         f"{per_slice['coils']} coils, {frames}; "
         f"{chunks['slices_read_at_once']} of {doc['slices']} slice(s) read at once"),
        *((f"  {name}", f"{mib:.0f} MiB") for name, mib in est["parts"].items() if mib),
        ("estimated peak", f"{est['peak']:.0f} MiB (largest stage: {est['peak_stage']})"),
        ("budget", f"{doc['budget_mib']:.0f} MiB ({doc['budget_source']}): "
         f"{'fits' if doc['fits'] else 'does not fit'}"),
    ]  # fmt: skip
    for name, value in rows:
        table.add_row(name, value)
    return table

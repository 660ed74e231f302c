"""Describe raw-data files: format, trajectory, matrix, coils, frames, slices, acceleration, noise."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from recon_cli.cli.common import console, err_console, expand_inputs, handle_errors

NAME = "info"


@handle_errors
def command(
    files: Annotated[
        list[str] | None, typer.Argument(help="Raw-data files (paths or globs).", show_default=False)
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document (a list, one object per file).")
    ] = False,
    system: Annotated[
        bool, typer.Option("--system", help="Describe this installation: torch build, CUDA, NUFFT.")
    ] = False,
) -> None:
    from recon_cli.errors import ReconError, UsageError
    from recon_cli.io.summary import describe_file

    if system:
        _print_system(as_json)
        if not files:
            return
    if not files:
        raise UsageError("info: give raw-data files (paths or globs), or --system")
    rows, failures = [], 0
    for path in expand_inputs(files):
        try:
            rows.append(describe_file(path))
        except ReconError as exc:
            failures += 1
            err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
            rows.append({"file": str(path), "error": getattr(exc, "problem", str(exc))})
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        for index, row in enumerate(r for r in rows if "error" not in r):
            if index:
                console.print()
            console.print(Text(row["file"], style="bold cyan", overflow="fold"))
            console.print(_block(_lines(row)))
    if failures:
        raise typer.Exit(3)


def _block(lines: list[tuple[str, str]]) -> Table:
    """(label, value) rows as a two-column block; values wrap at spaces within the console width."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True, min_width=14)
    table.add_column()
    for label, value in lines:
        table.add_row(f"  {label}", Text(value))
    return table


def _lines(row: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) pairs of one ``describe_file`` row, in reading order."""
    dims = " x ".join(map(str, row["matrix"]))
    fov = " x ".join(f"{v:g}" for v in row["fov_mm"])
    frames = str(row["frames"])
    if row.get("frame_time_ms"):
        frames += f", {row['frame_time_ms']:g} ms per frame"
    lines = [
        ("format", f"{row['format']}, {row['trajectory']}"),
        ("matrix", f"{dims} (encoded {' x '.join(map(str, row['encoded_matrix']))}), FOV {fov} mm"),
        ("coils", str(row["coils"])),
        ("frames", frames),
        ("slices", str(row["slices"])),
    ]
    if row.get("readout_length"):
        per_frame = row["samples_per_frame"] // row["readout_length"]
        lines.append(("readouts", f"{per_frame} per frame, {row['readout_length']} samples each"))
    accel = row.get("acceleration")
    lines.append(("acceleration", "-" if accel is None else f"{accel:.2f}"))
    noise = row.get("noise_scans", 0)
    readouts = f"{noise} readout{'s' if noise != 1 else ''}, {row.get('noise_samples', 0)} samples"
    lines.append(("noise scans", readouts if noise else "none"))
    lines.append(("calibration", "separate ACS lines" if row.get("acs") else "none"))
    lines.append(("reference", "yes" if row.get("reference") else "no"))
    lines += [("guess", guess) for guess in row.get("guesses", [])]
    return lines


def _print_system(as_json: bool) -> None:
    """``--system``: versions, torch build, CUDA devices and NUFFT backends (imports torch)."""
    from recon_cli.runtime import system_report

    report = system_report()
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    devices = [f"cuda:{d['index']} {d['name']}, {d['memory_gib']} GiB" for d in report["cuda_devices"]]
    lines = [
        ("recon", report["recon"]),
        ("python", f"{report['python']} on {report['platform']}"),
        ("torch", f"{report['torch']}, {report['torch_build']} build"),
        ("cuda devices", "; ".join(devices) or "none visible"),
    ]
    for device, names in report["nufft_backends"].items():
        text = ", ".join([f"{names[0]} (default)", *names[1:]]) if names else "none installed"
        lines.append((f"nufft {device}", text))
    console.print(_block(lines))

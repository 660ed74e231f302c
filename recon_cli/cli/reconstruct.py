"""Reconstruct raw-data files with a model picked by name; write images, previews and a run record."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from recon_cli.cli.common import (
    console,
    err_console,
    expand_inputs,
    handle_errors,
    parse_formats,
    parse_settings,
)

NAME = "reconstruct"
FORMATS = ("nifti", "dicom", "h5", "png")


@handle_errors
def command(
    inputs: Annotated[list[str], typer.Argument(help="Raw-data files (paths or globs).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("recon_out"),
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model name (see `recon models`).")
    ] = "zero-filled",
    fmt: Annotated[
        str, typer.Option("--format", help="Comma-separated outputs: nifti,dicom,h5,png.")
    ] = "nifti,dicom,png",
    config: Annotated[Path | None, typer.Option("--config", help="YAML file of model config values.")] = None,
    settings: Annotated[
        list[str] | None, typer.Option("--set", help="Model config value key=value (repeatable).")
    ] = None,
    weights: Annotated[
        Path | None, typer.Option("--weights", help="Trained weights: a run folder or a .pt file.")
    ] = None,
    coils: Annotated[
        Path | None, typer.Option("--coils", help="Coil maps from `recon estimate-coils`.")
    ] = None,
    coil_method: Annotated[
        str, typer.Option("--coil-method", help="Coil maps when needed: espirit, walsh, inati, sos.")
    ] = "espirit",
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda:N.")] = "auto",
    prewhiten: Annotated[
        bool, typer.Option("--prewhiten/--no-prewhiten", help="Prewhiten coils with the file's noise scans.")
    ] = False,
    traj_units: Annotated[
        str, typer.Option("--traj-units", help="ISMRMRD trajectory units: auto|normalised|samples|radians.")
    ] = "auto",
    anonymize: Annotated[
        bool, typer.Option("--anonymize", help="Leave patient identity out of DICOM outputs.")
    ] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing outputs.")] = False,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Stop at the first file that fails.")
    ] = False,
) -> None:
    from recon_cli.reconstruct import ReconstructRequest, reconstruct_files

    request = ReconstructRequest(
        out_dir=out,
        model=model,
        config=parse_settings(config, settings),
        weights=weights,
        coils=coils,
        coil_method=coil_method,
        device=device,
        formats=parse_formats(fmt, FORMATS),
        overwrite=overwrite,
        anonymize=anonymize,
        prewhiten=prewhiten,
        traj_units=traj_units,
    )
    paths = expand_inputs(inputs)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("reconstructing", total=len(paths))

        def on_start(path: Path) -> None:
            progress.update(task, description=f"reconstructing {path.name}")

        def on_done(result) -> None:  # noqa: ANN001
            progress.advance(task)
            if not result.ok:
                err_console.print(f"[bold red]error:[/] {result.error}", highlight=False, soft_wrap=True)

        results = reconstruct_files(paths, request, fail_fast=fail_fast, on_start=on_start, on_done=on_done)
    _summary(results, len(paths))
    failed = [r for r in results if not r.ok]
    if failed:
        raise typer.Exit(failed[0].exit_code or 3)


def _summary(results: list, total: int) -> None:
    table = Table(title=f"reconstructed {sum(r.ok for r in results)} of {total}")
    for col in ("input", "status", "seconds", "outputs"):
        table.add_column(col, overflow="fold")
    for r in results:
        table.add_row(
            str(r.source),
            "ok" if r.ok else "failed",
            f"{r.seconds:.2f}",
            str(len(r.outputs)) if r.ok else "-",
        )
    console.print(table)

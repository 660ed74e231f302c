"""Reconstruct raw-data files with a model picked by name; write images, previews and a run record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from recon_cli.cli.common import (
    DeviceOption,
    console,
    err_console,
    expand_inputs,
    handle_errors,
    parse_formats,
    parse_settings,
)
from recon_cli.io.writers import OUTPUT_FORMATS
from recon_cli.reconstruct_request import ReconstructRequest

if TYPE_CHECKING:
    from recon_cli.reconstruct import ScanResult

NAME = "reconstruct"
_D = ReconstructRequest()  # the defaults: one copy, in the library


@handle_errors
def command(
    inputs: Annotated[list[str], typer.Argument(help="Raw-data files (paths or globs).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = _D.out_dir,
    model: Annotated[str, typer.Option("--model", "-m", help="Model name (see `recon models`).")] = _D.model,
    fmt: Annotated[
        str, typer.Option("--format", help="Comma-separated outputs: nifti,dicom,h5,png.")
    ] = ",".join(_D.formats),
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
    ] = _D.coil_method,
    device: DeviceOption = _D.device,
    prewhiten: Annotated[
        bool, typer.Option("--prewhiten/--no-prewhiten", help="Prewhiten coils with the file's noise scans.")
    ] = _D.prewhiten,
    traj_units: Annotated[
        str, typer.Option("--traj-units", help="ISMRMRD trajectory units: auto|normalised|samples|radians.")
    ] = _D.traj_units,
    anonymize: Annotated[
        bool, typer.Option("--anonymize", help="Leave patient identity out of DICOM outputs.")
    ] = _D.anonymize,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an input's existing output folder (never an input).")
    ] = _D.overwrite,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Stop at the first file that fails.")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Refuse a file when the reader has to guess (geometry, units, ...)."),
    ] = _D.strict,
    allow_untrained: Annotated[
        bool,
        typer.Option(
            "--allow-untrained", help="Run a learned model that has no trained weights (tests only)."
        ),
    ] = _D.allow_untrained,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON (one document) on stdout.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Read headers only and print each input's plan: shapes, operator, chunking and the "
            "estimated peak memory by part; write nothing.",
        ),
    ] = False,
    max_memory: Annotated[
        str | None,
        typer.Option(
            "--max-memory",
            help="Memory budget, e.g. 2GiB or 800MB (default: what the device has left, less a margin); "
            "coils are chunked to stay under it, and an input that cannot fit is refused (exit 5).",
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            help="Reconstruct only share I of N of the inputs (I/N, 0 <= I < N); SLURM arrays and torchrun "
            "ranks shard by themselves.",
        ),
    ] = None,
) -> None:
    from recon_cli.batch import reconstruct_batch, resolve_shard
    from recon_cli.memory.plan import parse_memory

    request = ReconstructRequest(
        out_dir=out,
        model=model,
        config=parse_settings(config, settings),
        weights=weights,
        coils=coils,
        coil_method=coil_method,
        device=device,
        formats=parse_formats(fmt, OUTPUT_FORMATS),
        overwrite=overwrite,
        anonymize=anonymize,
        prewhiten=prewhiten,
        traj_units=traj_units,
        strict=strict,
        allow_untrained=allow_untrained,
        max_memory=None if max_memory is None else parse_memory(max_memory),
    )
    paths = expand_inputs(inputs)
    share = resolve_shard(shard)
    if dry_run:
        from recon_cli.cli.plan_view import show_plans

        raise typer.Exit(show_plans(share.select(paths), request, as_json=as_json))
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("reconstructing", total=len(share.select(paths)))
        inner = progress.add_task("", total=None, visible=False)

        def on_start(path: Path) -> None:
            progress.update(task, description=f"reconstructing {path.name}")
            progress.reset(inner, total=None, visible=False)

        def on_progress(slice_index: int, slices: int, done: int, iterations: int) -> None:
            if iterations == 0:  # a slice starts
                progress.reset(inner, total=None, description=f"  slice {slice_index + 1}/{slices}")
                return
            progress.update(
                inner,
                total=iterations,
                completed=done,
                visible=True,
                description=f"  slice {slice_index + 1}/{slices} iteration",
            )

        def on_done(result: ScanResult) -> None:
            progress.advance(task)
            for guess in result.guesses:
                _say("[yellow]warning:[/]", f"{result.source}: {guess} (guessed)")
            for note in result.notes:
                _say("note:", f"{result.source}: {note}")
            if not result.ok:
                _say("[bold red]error:[/]", result.error or "")

        outcome = reconstruct_batch(
            paths,
            request,
            shard=share,
            fail_fast=fail_fast,
            on_start=on_start,
            on_done=on_done,
            on_progress=on_progress,
        )
    if outcome.reporting and outcome.all_results is not None:
        if as_json:
            typer.echo(json.dumps(summary_document(outcome.all_results, outcome.total, out), indent=2))
        else:
            _summary(outcome.all_results, outcome.total, out)
    everyone = outcome.all_results if outcome.all_results is not None else outcome.results
    failed = [r for r in everyone if not r.ok]
    if failed:
        raise typer.Exit(failed[0].exit_code or 3)


def _say(label: str, text: str) -> None:
    err_console.print(f"{label} {escape(text)}", highlight=False, soft_wrap=True)


def summary_document(results: list[ScanResult], total: int, out: Path) -> dict[str, Any]:
    """The batch summary as one JSON-ready document (``--json``)."""
    return {
        "total": total,
        "ok": sum(r.ok for r in results),
        "failed": sum(not r.ok for r in results),
        "files": [
            {
                "input": str(r.source),
                "ok": r.ok,
                "exit_code": r.exit_code,
                "error": r.error,
                "seconds": round(r.seconds, 3),
                "folder": str(r.outputs[-1].parent) if r.ok and r.outputs else None,
                "outputs": [str(p) for p in r.outputs],
                "guesses": r.guesses,
                "notes": r.notes,
            }
            for r in results
        ],
    }


def _summary(results: list[ScanResult], total: int, out: Path) -> None:
    table = Table(title=f"reconstructed {sum(r.ok for r in results)} of {total} into {out}/")
    for col in ("input", "status", "seconds", "outputs"):
        table.add_column(col, overflow="fold")
    for r in results:
        table.add_row(
            r.source.name,
            "ok" if r.ok else f"failed ({r.exit_code})",
            f"{r.seconds:.2f}",
            f"{len(r.outputs)} files" if r.ok else "-",
        )
    console.print(table)

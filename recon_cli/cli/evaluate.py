"""Score reconstructions against a reference: SSIM, PSNR, NMSE, NRMSE, HFEN as JSON, CSV, HTML and a table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from recon_cli.cli.common import (
    console,
    err_console,
    expand_inputs,
    field_defaults,
    handle_errors,
    parse_size,
)
from recon_cli.evaluate_request import EvaluateRequest

if TYPE_CHECKING:
    from recon_cli.evaluate_request import EvaluationReport, FileEvaluation

NAME = "evaluate"
_D = field_defaults(EvaluateRequest)  # the defaults: one copy, in the library


@handle_errors
def command(
    recons: Annotated[
        list[str],
        typer.Argument(help="Image files from recon (.h5, .nii, .nii.gz; globs).", show_default=False),
    ],
    reference: Annotated[
        Path,
        typer.Option(
            "--reference",
            "-r",
            help="Reference: image .h5/.nii(.gz), .h5 with a 'reference' dataset, or raw data carrying one.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Report folder (metrics.json, metrics.csv, index.html).")
    ] = _D["out_dir"],
    normalize: Annotated[
        str, typer.Option("--normalize", help="Scale recon onto the reference: none|max|lstsq.")
    ] = _D["normalize"],
    crop: Annotated[
        str | None, typer.Option("--crop", help="Centre crop H,W of both before comparing.")
    ] = None,
    html: Annotated[
        bool, typer.Option("--html/--no-html", help="Also write index.html with figures (needs matplotlib).")
    ] = _D["html"],
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            help="Cine x-t profile line: motion (most moving pixel: the heart in cardiac cine) or center.",
        ),
    ] = _D["profile"],
    error_scale: Annotated[
        float, typer.Option("--error-scale", help="Error maps span 0 to this fraction of the data range.")
    ] = _D["error_scale"],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing report.")] = _D[
        "overwrite"
    ],
) -> None:
    from recon_cli.evaluate import evaluate_files

    request = EvaluateRequest(
        reference=reference,
        out_dir=out,
        normalize=normalize.lower(),
        crop=parse_size(crop, "--crop") if crop else None,
        overwrite=overwrite,
        html=html,
        profile=profile.lower(),
        error_scale=error_scale,
    )

    def on_done(result: FileEvaluation) -> None:
        if not result.ok:
            err_console.print(f"[bold red]error:[/] {result.error}", highlight=False, soft_wrap=True)

    report = evaluate_files(expand_inputs(recons), request, on_done=on_done)
    for guess in report.reference_guesses:
        err_console.print(
            f"[yellow]warning:[/] {request.reference}: {guess} (guessed)", highlight=False, soft_wrap=True
        )
    if any(r.ok for r in report.results):
        console.print(_table(report))
        console.print(f"report: {', '.join(map(str, report.outputs))}", highlight=False, soft_wrap=True)
    if any(not r.ok for r in report.results):
        raise typer.Exit(3)


def _table(report: EvaluationReport) -> Table:
    from recon_cli.metrics import METRIC_NAMES
    from recon_cli.reports.tables import METRIC_LABELS, format_metric

    ok = [r for r in report.results if r.ok]
    table = Table(
        title=f"metrics vs {report.request.reference.name} ({len(ok)} of {len(report.results)} files, "
        f"normalize={report.request.normalize})"
    )
    for col in ("file", *(METRIC_LABELS[name] for name in METRIC_NAMES), "scale"):
        table.add_column(col, overflow="fold", justify="left" if col == "file" else "right")
    for r in ok:
        metrics = (format_metric(name, r.volume[name]) for name in METRIC_NAMES)
        table.add_row(str(r.source), *metrics, f"{r.scale:.4g}")
    return table

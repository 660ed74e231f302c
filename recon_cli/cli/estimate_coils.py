"""Estimate coil sensitivity maps from a scan's calibration data; write them (HDF5) and a PNG montage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recon_cli.cli.common import console, handle_errors

NAME = "estimate-coils"


@handle_errors
def command(
    scan: Annotated[Path, typer.Argument(help="Raw-data file.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output HDF5 file for the maps.")] = Path(
        "maps.h5"
    ),
    method: Annotated[str, typer.Option("--method", help="espirit or sos.")] = "espirit",
    calib_width: Annotated[int, typer.Option("--calib-width", min=4, help="Calibration region width.")] = 24,
    kernel_width: Annotated[int, typer.Option("--kernel-width", min=2, help="ESPIRiT kernel width.")] = 6,
    threshold: Annotated[
        float, typer.Option("--threshold", min=0.0, help="ESPIRiT singular-value threshold.")
    ] = 0.02,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing outputs.")] = False,
) -> None:
    from recon_cli.coils import estimate_coils_file

    written = estimate_coils_file(
        scan,
        out,
        method=method,
        calib_width=calib_width,
        kernel_width=kernel_width,
        threshold=threshold,
        overwrite=overwrite,
    )
    for path in written:
        console.print(f"wrote {path}", highlight=False)

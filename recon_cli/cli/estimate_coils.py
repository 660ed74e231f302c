"""Estimate coil sensitivity maps from a scan's calibration data; write them (HDF5) and a PNG montage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recon_cli.cli.common import DeviceOption, OverwriteOutputsOption, console, handle_errors
from recon_cli.coils.options import COIL_METHODS, DEFAULTS, CoilOptions

NAME = "estimate-coils"


@handle_errors
def command(
    scan: Annotated[Path, typer.Argument(help="Raw-data file.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output HDF5 file for the maps.")] = Path(
        "maps.h5"
    ),
    method: Annotated[str, typer.Option("--method", help="|".join(COIL_METHODS) + ".")] = DEFAULTS.method,
    calib_width: Annotated[
        int, typer.Option("--calib-width", min=4, help="Largest calibration block side.")
    ] = DEFAULTS.calib_width,
    kernel_width: Annotated[
        int, typer.Option("--kernel-width", min=2, help="ESPIRiT kernel width.")
    ] = DEFAULTS.kernel_width,
    threshold: Annotated[
        float,
        typer.Option(
            "--threshold", min=0.0, help="ESPIRiT singular-value threshold (bart ecalib -t: its square)."
        ),
    ] = DEFAULTS.threshold,
    crop: Annotated[
        float, typer.Option("--crop", min=0.0, max=1.0, help="ESPIRiT eigenvalue crop (bart ecalib -c).")
    ] = DEFAULTS.crop,
    smoothing: Annotated[
        int, typer.Option("--smoothing", min=1, help="Walsh/Inati block size (odd, pixels of a 64 grid).")
    ] = DEFAULTS.smoothing,
    compress: Annotated[
        int, typer.Option("--compress", min=0, help="SVD coil compression to N virtual coils (0: off).")
    ] = DEFAULTS.compress,
    device: DeviceOption = "auto",
    overwrite: OverwriteOutputsOption = False,
) -> None:
    from recon_cli.estimate_coils import estimate_coils_file

    options = CoilOptions(method, calib_width, kernel_width, threshold, crop, smoothing, compress)
    written = estimate_coils_file(scan, out, options=options, device=device, overwrite=overwrite)
    for path in written:
        console.print(f"wrote {path}", highlight=False)

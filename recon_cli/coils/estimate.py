"""Coil maps of a whole scan, and the ``recon estimate-coils`` job (maps file + PNG montage)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from recon_cli.coils.adaptive import calibration_images, inati_maps, sos_maps, walsh_maps
from recon_cli.coils.calibration import calibration_block, calibration_kspace
from recon_cli.coils.compression import compress_scan
from recon_cli.coils.espirit import espirit_maps
from recon_cli.coils.maps_file import write_maps
from recon_cli.coils.options import COIL_METHODS, DEFAULTS, CoilOptions
from recon_cli.errors import UsageError
from recon_cli.io.atomic import check_writable, refuse_inputs
from recon_cli.io.scan import Scan

ADAPTIVE_GRID = 64  # Walsh/Inati grid per axis (at least twice the calibration block, at most the image)


def estimate_maps(
    scan: Scan,
    *,
    method: str = DEFAULTS.method,
    calib_width: int = DEFAULTS.calib_width,
    kernel_width: int = DEFAULTS.kernel_width,
    threshold: float = DEFAULTS.threshold,
    crop: float = DEFAULTS.crop,
    smoothing: int = DEFAULTS.smoothing,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Coil maps of every slice from the scan's calibration data (see ``calibration.py``).

    Args:
        scan: the raw data (its coils: compress it first with ``compress_scan`` for virtual coils).
        method: "espirit", "walsh", "inati" or "sos".
        calib_width, kernel_width, threshold, crop, smoothing: see ``CoilOptions``.
        device: where to compute (default CPU); slices are processed together.

    Returns:
        (slices, coils, ny, nx) complex64 on the CPU, on the scan's image grid.
    """
    _check(method, smoothing)
    calib = torch.stack([calibration_kspace(scan, s, width=calib_width) for s in range(scan.n_slices)])
    calib = calib.to(device or "cpu")
    shape = scan.image_shape
    if method == "espirit":
        maps = espirit_maps(
            calib, calib_width=calib_width, kernel_width=kernel_width, threshold=threshold, crop=crop
        )
        return maps.cpu()
    block = calibration_block(calib, calib_width)
    if method == "sos":
        return sos_maps(calibration_images(block, shape)).cpu()
    grid = tuple(min(n, max(ADAPTIVE_GRID, 2 * b)) for n, b in zip(shape, block.shape[-2:], strict=True))
    images = calibration_images(block, (grid[0], grid[1]))
    adaptive = walsh_maps if method == "walsh" else inati_maps
    return adaptive(images, shape, smoothing=smoothing).cpu()


def _check(method: str, smoothing: int) -> None:
    if method not in COIL_METHODS:
        raise UsageError(f"unknown coil method '{method}'; choose from {', '.join(COIL_METHODS)}")
    if smoothing < 1 or smoothing % 2 == 0:
        raise UsageError(f"the smoothing block must be odd and positive, got {smoothing}")


def estimate_coils_file(
    scan_path: Path,
    out: Path,
    *,
    options: CoilOptions = DEFAULTS,
    device: str = "auto",
    overwrite: bool = False,
) -> list[Path]:
    """``recon estimate-coils``: read a scan, estimate maps, write ``out`` and a PNG montage beside it.

    With ``options.compress`` > 0 the scan is first compressed to that many virtual coils per slice;
    the file then holds the virtual maps and the compression matrices (see ``maps_file.py``).

    Returns:
        [maps file, PNG montage of the first slice's coil magnitudes].
    """
    from recon_cli.io import read_scan
    from recon_cli.io.previews import write_png_preview
    from recon_cli.runtime import resolve_device

    _check(options.method, options.smoothing)
    out = Path(out)
    png = out.with_suffix(".png")
    refuse_inputs([out, png], [scan_path])
    for target in (out, png):
        check_writable(target, overwrite)
    dev = resolve_device(device)
    scan = read_scan(scan_path)
    matrices = None
    if options.compress:
        scan, matrices = compress_scan(scan, options.compress)
    fields = dataclasses.asdict(options)
    settings = {k: v for k, v in fields.items() if k != "compress"}
    maps = estimate_maps(scan, device=dev, **settings)
    write_maps(out, maps, method=options.method, parameters=fields, compression=matrices, overwrite=overwrite)
    # montage of the first slice's coil magnitudes: coils play the role of slices
    write_png_preview(png, maps[:1].abs().permute(1, 0, 2, 3), overwrite=overwrite)
    return [out, png]

"""Coil maps of a whole scan from its calibration data, by any of ``COIL_METHODS``.

The ``recon estimate-coils`` job that reads a scan and writes the maps with a montage is
``recon_cli.estimate_coils``; nothing here reads or writes files.
"""

from __future__ import annotations

import torch

from recon_cli.coils.adaptive import calibration_images, inati_maps, sos_maps, walsh_maps
from recon_cli.coils.calibration import calibration_block, calibration_kspace
from recon_cli.coils.espirit import espirit_maps
from recon_cli.coils.options import COIL_METHODS, DEFAULTS
from recon_cli.errors import UsageError
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
    check_method(method, smoothing)
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


def check_method(method: str, smoothing: int) -> None:
    """``UsageError`` for an unknown method or a smoothing block that is not odd and positive."""
    if method not in COIL_METHODS:
        raise UsageError(f"unknown coil method '{method}'; choose from {', '.join(COIL_METHODS)}")
    if smoothing < 1 or smoothing % 2 == 0:
        raise UsageError(f"the smoothing block must be odd and positive, got {smoothing}")

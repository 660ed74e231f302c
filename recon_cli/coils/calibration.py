"""Calibration data: a fully sampled k-space centre per slice, whatever the acquisition.

Sources, in order of preference:

* separately acquired calibration (``scan.acs``, e.g. ISMRMRD ACS lines);
* Cartesian data pooled over frames: each k-space location averaged over the frames that sampled it,
  so interleaved or time-varying undersampling fills the centre;
* non-Cartesian data: all readouts of all frames gridded together (ramp density compensation) onto a
  small grid that covers the calibration region only (low-resolution gridding: few samples, a small
  FFT, and dense sampling at the centre of k-space even when each frame is far below Nyquist).
"""

from __future__ import annotations

import math

import torch

from recon_cli.coils.common import crop_centre, pad_centre
from recon_cli.errors import UsageError
from recon_cli.io.scan import Scan
from recon_cli.ops.functional import fft2c
from recon_cli.ops.nufft import NonCartesianSense, ramp_dcf


def calibration_kspace(scan: Scan, slice_index: int, *, width: int = 24) -> torch.Tensor:
    """Fully sampled calibration k-space of one slice on the scan's image grid.

    Args:
        scan: the raw data.
        slice_index: which slice.
        width: calibration size; non-Cartesian data is gridded onto a ``2 * width`` grid (at most the
            image size) whose k-space is returned zero-padded. Cartesian sources ignore it.

    Returns:
        (coils, ny, nx) complex64; unsampled locations are zero.
    """
    if scan.acs is not None and bool(scan.acs[slice_index].abs().sum() > 0):
        return scan.acs[slice_index, 0].to(torch.complex64)
    if scan.is_cartesian:
        return _pooled_cartesian(scan, slice_index)
    return _pooled_non_cartesian(scan, slice_index, width)


def _pooled_cartesian(scan: Scan, slice_index: int) -> torch.Tensor:
    k = scan.kspace[slice_index]  # (frames, coils, ny, nx)
    if scan.mask is None:
        return k.mean(dim=0)
    mask = scan.mask[min(slice_index, scan.mask.shape[0] - 1)].to(k.real.dtype)  # (frames|1, 1, ny|1, nx|1)
    counts = torch.broadcast_to(mask, (k.shape[0], 1, *k.shape[-2:])).sum(dim=0)
    return (k * mask).sum(dim=0) / counts.clamp_min(1)


def _pooled_non_cartesian(scan: Scan, slice_index: int, width: int) -> torch.Tensor:
    """Grid every readout of every frame with |k| inside a ``2 * width`` box onto that small grid."""
    assert scan.traj is not None
    ny, nx = scan.image_shape
    grid = (min(ny, 2 * width), min(nx, 2 * width))
    traj = scan.traj[min(slice_index, scan.traj.shape[0] - 1)]  # (frames, 2, samples) rad/voxel
    traj = traj.permute(1, 0, 2).reshape(2, -1)
    data = scan.kspace[slice_index].permute(1, 0, 2).reshape(scan.n_coils, -1)
    # same k-space sample spacing on the small grid: radians per small-grid voxel
    scale = torch.tensor([ny / grid[0], nx / grid[1]], dtype=traj.dtype, device=traj.device)[:, None]
    small = traj * scale
    inside = (small.abs() < math.pi).all(dim=0)
    if int(inside.sum()) < scan.n_coils:
        raise UsageError("too few samples near the k-space centre to calibrate coil maps")
    small = small[:, inside][None]
    # pooled golden-angle (or any evenly spread) readouts: the analytic radial ramp is the density
    op = NonCartesianSense(scan.n_coils, grid, small, dcf=ramp_dcf(small, grid))
    images = op.gridding(data[:, inside][None].to(torch.complex64))[0]
    return pad_centre(fft2c(images), (ny, nx))


def calibration_block(calib: torch.Tensor, width: int) -> torch.Tensor:
    """The largest centred, fully sampled block of at most ``width`` x ``width`` k-space samples.

    Shrinks from ``width`` along whichever axis has the larger share of incompletely sampled lines
    until every location in the block was sampled (nonzero in some coil, in every batch entry).

    Args:
        calib: (..., coils, ny, nx) complex k-space, zero where not sampled.
        width: the largest block side wanted.

    Returns:
        (..., coils, by, bx) complex view of ``calib``.

    Raises:
        UsageError: if no sample at the centre was acquired.
    """
    by, bx = min(width, calib.shape[-2]), min(width, calib.shape[-1])
    centre = crop_centre(calib, (by, bx))
    sampled = torch.view_as_real(centre).ne(0).any(dim=-1).any(dim=-3)  # (..., by, bx)
    sampled = sampled.reshape(-1, by, bx).all(dim=0)
    while by > 0 and bx > 0:
        box = crop_centre(sampled, (by, bx))
        if bool(box.all()):
            return crop_centre(calib, (by, bx))
        bad_rows = float((~box.all(dim=1)).sum()) / by
        bad_cols = float((~box.all(dim=0)).sum()) / bx
        if bad_rows <= bad_cols:
            by -= 1
        else:
            bx -= 1
    raise UsageError("the calibration data has no fully sampled k-space centre")

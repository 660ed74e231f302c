"""Coil sensitivity estimation: ESPIRiT (sigpy), sum-of-squares normalised maps, and map files.

Calibration data per slice is a fully sampled k-space centre, (coils, ny, nx) complex: separately
acquired ACS lines when the file has them, else the sampled data pooled over frames (each k-space
location averaged over the frames that sampled it), else for non-Cartesian data the gridding of all
spokes of all frames together.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from recon_cli.errors import InputDataError, UsageError
from recon_cli.io.atomic import atomic_path, check_writable
from recon_cli.io.scan import Scan
from recon_cli.ops.functional import fft2c, ifft2c, rss
from recon_cli.ops.nufft import NonCartesianSense

COIL_METHODS = ("espirit", "sos")


def calibration_kspace(scan: Scan, slice_index: int) -> torch.Tensor:
    """Fully sampled calibration k-space of one slice. Returns (coils, ny, nx) complex64."""
    if scan.acs is not None and bool(scan.acs[slice_index].abs().sum() > 0):
        return scan.acs[slice_index, 0]
    if scan.is_cartesian:
        k = scan.kspace[slice_index]  # (frames, coils, ny, nx)
        if scan.mask is None:
            return k.mean(dim=0)
        mask = scan.mask[min(slice_index, scan.mask.shape[0] - 1)].to(
            k.real.dtype
        )  # (frames|1, 1, ny|1, nx|1)
        counts = torch.broadcast_to(mask, (k.shape[0], 1, *k.shape[-2:])).sum(dim=0)
        return (k * mask).sum(dim=0) / counts.clamp_min(1)
    assert scan.traj is not None
    traj = scan.traj[min(slice_index, scan.traj.shape[0] - 1)]  # (frames, 2, samples)
    pooled_traj = traj.permute(1, 0, 2).reshape(1, 2, -1)
    pooled_k = scan.kspace[slice_index].permute(1, 0, 2).reshape(1, scan.n_coils, -1)
    op = NonCartesianSense(scan.n_coils, scan.image_shape, pooled_traj)
    return fft2c(op.gridding(pooled_k)[0])


def espirit_maps(
    calib: torch.Tensor,
    *,
    calib_width: int = 24,
    kernel_width: int = 6,
    threshold: float = 0.02,
    crop: float = 0.95,
) -> torch.Tensor:
    """ESPIRiT maps (first eigenvector) with sigpy. calib: (coils, ny, nx) -> (coils, ny, nx) complex64."""
    import sigpy.mri

    app = sigpy.mri.app.EspiritCalib(
        calib.cpu().numpy().astype(np.complex64),
        calib_width=calib_width,
        kernel_width=kernel_width,
        thresh=threshold,
        crop=crop,
        show_pbar=False,
    )
    return torch.from_numpy(np.asarray(app.run()).astype(np.complex64))


def sos_maps(calib: torch.Tensor) -> torch.Tensor:
    """Coil images divided by their root-sum-of-squares. calib: (coils, ny, nx) -> (coils, ny, nx)."""
    images = ifft2c(calib)
    norm = rss(images, dim=0)
    return torch.where(norm > norm.max() * 1e-3, images / norm.clamp_min(1e-12), 0).to(torch.complex64)


def estimate_maps(
    scan: Scan,
    *,
    method: str = "espirit",
    calib_width: int = 24,
    threshold: float = 0.02,
    kernel_width: int = 6,
) -> torch.Tensor:
    """Coil maps of every slice. Returns (slices, coils, ny, nx) complex64 on the scan's grid."""
    if method not in COIL_METHODS:
        raise UsageError(f"unknown coil method '{method}'; choose from {', '.join(COIL_METHODS)}")
    maps = []
    for s in range(scan.n_slices):
        calib = calibration_kspace(scan, s)
        if method == "espirit":
            maps.append(
                espirit_maps(calib, calib_width=calib_width, kernel_width=kernel_width, threshold=threshold)
            )
        else:
            maps.append(sos_maps(_centre_only(calib, calib_width)))
    return torch.stack(maps)


def _centre_only(calib: torch.Tensor, width: int) -> torch.Tensor:
    """Zero all but the central ``width`` x ``width`` k-space samples (a low-resolution calibration)."""
    out = torch.zeros_like(calib)
    ny, nx = calib.shape[-2:]
    y0, x0 = max(ny // 2 - width // 2, 0), max(nx // 2 - width // 2, 0)
    out[..., y0 : y0 + width, x0 : x0 + width] = calib[..., y0 : y0 + width, x0 : x0 + width]
    return out


def write_maps(path: Path, maps: torch.Tensor, *, method: str, overwrite: bool = False) -> Path:
    """Save maps (slices, coils, ny, nx) complex64 to HDF5 dataset "maps"."""
    import h5py

    with atomic_path(path, overwrite) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("maps", data=maps.cpu().numpy().astype(np.complex64), compression="gzip")
        f.attrs["method"] = method
        f.attrs["layout"] = "slices, coils, ny, nx"
    return Path(path)


def read_maps(path: Path, scan: Scan) -> torch.Tensor:
    """Load maps written by ``write_maps`` and check they fit ``scan``. Returns (slices, coils, ny, nx)."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise InputDataError(path, "no such coil-map file")
    try:
        with h5py.File(path, "r") as f:
            if "maps" not in f:
                raise InputDataError(path, "no 'maps' dataset (write one with `recon estimate-coils`)")
            maps = torch.from_numpy(np.asarray(f["maps"]).astype(np.complex64))
    except OSError as exc:
        raise InputDataError(path, f"unreadable HDF5 coil-map file: {str(exc).splitlines()[0]}") from None
    expected = (scan.n_slices, scan.n_coils, *scan.image_shape)
    if tuple(maps.shape) != expected:
        raise InputDataError(path, f"coil maps have shape {tuple(maps.shape)}, the scan needs {expected}")
    return maps


def estimate_coils_file(
    scan_path: Path,
    out: Path,
    *,
    method: str = "espirit",
    calib_width: int = 24,
    kernel_width: int = 6,
    threshold: float = 0.02,
    overwrite: bool = False,
) -> list[Path]:
    """``recon estimate-coils``: read a scan, estimate maps, write ``out`` and a PNG montage beside it."""
    from recon_cli.io import read_scan
    from recon_cli.io.previews import write_png_preview

    out = Path(out)
    png = out.with_suffix(".png")
    for target in (out, png):
        check_writable(target, overwrite)
    scan = read_scan(scan_path)
    maps = estimate_maps(
        scan, method=method, calib_width=calib_width, threshold=threshold, kernel_width=kernel_width
    )
    write_maps(out, maps, method=method, overwrite=overwrite)
    # montage of the first slice's coil magnitudes: coils play the role of slices
    write_png_preview(png, maps[:1].abs().permute(1, 0, 2, 3), overwrite=overwrite)
    return [out, png]

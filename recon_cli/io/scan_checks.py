"""The checks a ``Scan`` passes when it is built: every field's type, dtype and shape against ``kspace``
(the conventions in ``recon_cli.io.scan``'s docstring). ``InvalidScanError`` names the first field that is
wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn, get_args

from recon_cli.io.scan import (
    FastmriInfo,
    InvalidScanError,
    IsmrmrdInfo,
    Scan,
    ScanFormat,
    ScanHeader,
    Simulation,
)


def _fail(problem: str) -> NoReturn:
    raise InvalidScanError(f"Scan: {problem}")


def _check_tensor(name: str, value: object, ndim: int, dtypes: tuple[Any, ...]) -> None:
    import torch

    if not isinstance(value, torch.Tensor):
        _fail(f"{name} must be a torch.Tensor, not {type(value).__name__}")
    assert isinstance(value, torch.Tensor)
    if value.ndim != ndim:
        _fail(f"{name} has shape {tuple(value.shape)}; expected {ndim} dimensions")
    if value.dtype not in dtypes:
        names = " or ".join(str(d) for d in dtypes)
        _fail(f"{name} has dtype {value.dtype}; expected {names}")


def check_scan(scan: Scan) -> None:
    """Every field's type, dtype and shape against ``kspace`` (module docstring)."""
    import torch

    if scan.format not in get_args(ScanFormat):
        _fail(f"format {scan.format!r} is not one of {', '.join(get_args(ScanFormat))}")
    if not isinstance(scan.header, ScanHeader):
        _fail(f"header must be a ScanHeader, not {type(scan.header).__name__}")
    if not isinstance(scan.source, Path):
        _fail(f"source must be a pathlib.Path, not {type(scan.source).__name__}")
    h = scan.header
    cartesian = scan.traj is None
    if cartesian != (h.trajectory == "cartesian"):
        _fail(f"header.trajectory is {h.trajectory!r} but traj is {'absent' if cartesian else 'given'}")
    _check_tensor("kspace", scan.kspace, 5 if cartesian else 4, (torch.complex64,))
    shape = tuple(int(n) for n in scan.kspace.shape)
    if cartesian:
        _check_cartesian(scan, shape)
    else:
        _check_noncartesian(scan, shape)
    if scan.noise is not None:
        _check_tensor("noise", scan.noise, 2, (torch.complex64, torch.complex128))
        if tuple(scan.noise.shape) != (shape[2], shape[2]):
            _fail(f"noise covariance has shape {tuple(scan.noise.shape)}; expected ({shape[2]}, {shape[2]})")
    if scan.reference is not None:
        _check_tensor("reference", scan.reference, 4, (torch.float32, torch.complex64))
        if tuple(scan.reference.shape[:2]) != shape[:2]:
            _fail(
                f"reference has shape {tuple(scan.reference.shape)}; expected (slices, frames) = "
                f"{shape[:2]} first"
            )
    if (
        isinstance(scan.noise_samples, bool)
        or not isinstance(scan.noise_samples, int)
        or scan.noise_samples < 0
    ):
        _fail(f"noise_samples must be a count, not {scan.noise_samples!r}")
    _check_info(scan)


def _check_cartesian(scan: Scan, shape: tuple[int, ...]) -> None:
    import torch

    if scan.readout_length is not None:
        _fail("readout_length is for non-Cartesian scans only")
    if scan.mask is not None:
        _check_tensor("mask", scan.mask, 5, (torch.bool,))
        if any(m not in (1, k) for m, k in zip(scan.mask.shape, shape, strict=True)):
            _fail(f"mask of shape {tuple(scan.mask.shape)} does not broadcast to kspace {shape}")
    if scan.acs is not None:
        _check_tensor("acs", scan.acs, 5, (torch.complex64,))
        expected = (shape[0], 1, *shape[2:])
        if tuple(scan.acs.shape) != expected:
            _fail(f"acs has shape {tuple(scan.acs.shape)}; expected {expected} (slices, 1, coils, ny, nx)")


def _check_noncartesian(scan: Scan, shape: tuple[int, ...]) -> None:
    import torch

    _check_tensor("traj", scan.traj, 4, (torch.float32,))
    assert scan.traj is not None
    traj = tuple(int(n) for n in scan.traj.shape)
    if traj[0] not in (1, shape[0]) or traj[1:] != (shape[1], 2, shape[3]):
        _fail(
            f"traj has shape {traj}; expected (1 or {shape[0]}, {shape[1]}, 2, {shape[3]}) "
            "(slices or 1, frames, 2, samples)"
        )
    if scan.mask is not None or scan.acs is not None:
        _fail("mask and acs are for Cartesian scans only")
    n = scan.readout_length
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1 or shape[3] % n):
        _fail(f"readout_length {n!r} does not divide the {shape[3]} samples of a frame")


def _check_info(scan: Scan) -> None:
    """The reader's typed extras belong to the scan's format."""
    import torch

    for name, info, kind in (
        ("ismrmrd_info", scan.ismrmrd_info, IsmrmrdInfo),
        ("fastmri_info", scan.fastmri_info, FastmriInfo),
        ("simulation", scan.simulation, Simulation),
    ):
        if info is not None and not isinstance(info, kind):
            _fail(f"{name} must be a {kind.__name__}, not {type(info).__name__}")
    if scan.ismrmrd_info is not None and scan.format != "ismrmrd":
        _fail(f"ismrmrd_info given for a {scan.format!r} scan")
    if scan.fastmri_info is not None and scan.format != "fastmri":
        _fail(f"fastmri_info given for a {scan.format!r} scan")
    acs_mask = scan.ismrmrd_info.acs_mask if scan.ismrmrd_info is not None else None
    if acs_mask is not None:
        _check_tensor("ismrmrd_info.acs_mask", acs_mask, 5, (torch.bool,))
    noise = scan.simulation.noise_samples if scan.simulation is not None else None
    if noise is not None:
        _check_tensor("simulation.noise_samples", noise, 2, (torch.complex64, torch.complex128))

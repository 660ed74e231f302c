"""Non-Cartesian ISMRMRD acquisitions -> k-space and trajectories (radians/voxel) of a ``Scan``.

Trajectory units are stated by the XML or inferred from their range (``to_radians``); samples beyond
|k| = pi are dropped from every readout and frames are truncated to the shortest one. The conventions
as a whole are in ``recon_cli.io.ismrmrd``'s docstring.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from recon_cli.errors import InputDataError
from recon_cli.io.ismrmrd_header import compact
from recon_cli.io.ismrmrd_table import Table
from recon_cli.io.plausibility import check_trajectory_extent
from recon_cli.io.scan import IsmrmrdInfo, Scan, ScanHeader, TrajectoryUnits

__all__ = ["read_noncartesian", "to_radians"]


def to_radians(
    traj: np.ndarray, recon_matrix: tuple[int, int], units: str
) -> tuple[np.ndarray, TrajectoryUnits]:
    """(n, samples, 2) (kx, ky) in ``units`` -> radians/voxel, and the units used.

    "auto" takes the units (normalised or samples) under which the trajectory's largest |k| lies
    closest to the Nyquist edge pi (in ratio): a readout reaching 0.5 is normalised, one reaching N/2 is
    in samples, and a 2x oversampled normalised readout reaching 1.0 stays normalised.
    """
    if units == "auto":
        n = np.array([recon_matrix[1], recon_matrix[0]], np.float64)
        extent = {
            "normalised": float(np.abs(traj).max()) * 2 * math.pi,
            "samples": float((np.abs(traj).reshape(-1, 2).max(axis=0) * 2 * math.pi / n).max()),
        }
        if extent["normalised"] <= math.pi * (1 + 1e-4) or extent["samples"] <= 0:
            units = "normalised"
        else:
            units = min(extent, key=lambda u: abs(math.log(extent[u] / math.pi)))
    if units == "normalised":
        return traj * (2 * math.pi), "normalised"
    if units == "samples":
        n = np.array([recon_matrix[1], recon_matrix[0]], np.float32)
        return traj * (2 * math.pi / n), "samples"
    return traj, "radians"


def read_noncartesian(
    table: Table,
    header: ScanHeader,
    img_idx: np.ndarray,
    units: str,
    info: IsmrmrdInfo,
    guesses: list[str],
) -> Scan:
    """Non-Cartesian k-space and trajectories (see the module docstring)."""
    heads = table.heads[img_idx]
    counter = info.frame_counter
    omega, used = to_radians(table.trajectories(img_idx), header.recon_matrix, units)
    if units == "auto":
        guesses.append(
            f"trajectory units inferred from their range as {used} "
            "(ISMRMRD does not record them; --traj-units states them)"
        )
    check_trajectory_extent(table.path, float(np.abs(omega).max()), used)
    data = table.samples(img_idx)
    keep = (np.abs(omega) <= math.pi * (1 + 1e-5)).all(axis=(0, 2))
    if not keep.any():
        raise InputDataError(table.path, f"no trajectory samples inside [-pi, pi] (traj_units={units!r})")
    if not keep.all():
        guesses.append(
            f"{int((~keep).sum())} of {keep.size} samples per readout lie beyond |k| = pi (finer than the "
            "recon matrix resolves) and were dropped"
        )
    omega, data = omega[:, keep], data[:, :, keep]
    omega = np.where(omega >= math.pi, omega - 2 * math.pi, omega).astype(np.float32)
    slices, n_slices = compact(heads["idx"]["slice"])
    frames, n_frames = compact(heads["idx"][counter])
    keys = slices * n_frames + frames
    counts = np.bincount(keys, minlength=n_slices * n_frames)
    if counts.min() == 0:
        raise InputDataError(table.path, "some slice/frame combinations have no readouts")
    per_frame = int(counts.min())
    if counts.max() > per_frame:
        guesses.append(
            f"frames have {counts.min()}..{counts.max()} readouts; only the first {per_frame} of each "
            "were used"
        )
    order = np.argsort(keys, kind="stable")
    rank = np.arange(keys.size) - np.searchsorted(keys[order], keys[order])
    sel = order[rank < per_frame]
    n_samples = data.shape[-1]
    shape = (n_slices, n_frames, per_frame)
    kspace = data[sel].reshape(*shape, data.shape[1], n_samples).transpose(0, 1, 3, 2, 4)
    traj = omega[sel][..., ::-1].reshape(*shape, n_samples, 2).transpose(0, 1, 4, 2, 3)
    traj = traj.reshape(n_slices, n_frames, 2, -1)
    if n_slices > 1 and np.array_equal(traj, np.broadcast_to(traj[:1], traj.shape)):
        traj = traj[:1]
    return Scan(
        kspace=torch.from_numpy(np.ascontiguousarray(kspace.reshape(n_slices, n_frames, data.shape[1], -1))),
        header=header,
        source=table.path,
        format="ismrmrd",
        traj=torch.from_numpy(np.ascontiguousarray(traj)),
        readout_length=n_samples,
        ismrmrd_info=dataclasses.replace(info, traj_units=used, dropped_samples=int((~keep).sum())),
    )

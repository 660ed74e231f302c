"""Write a ``Scan`` as an ISMRMRD dataset (the inverse of ``read_ismrmrd``).

Cartesian scans are written one readout per acquired line with ``center_sample = nx // 2`` and no
readout oversampling; non-Cartesian scans one readout per spoke or interleaf with trajectories in
normalised units ([-0.5, 0.5], kx first, ``trajectory_dimensions = 2``). Frames are ``idx.phase`` and
slices ``idx.slice``; the XML header is built with ``ismrmrd.xsd`` (see ``ismrmrd_header``). The
acquisition table uses ISMRMRD's own HDF5 record type and is written in one call.
"""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np
import torch

from recon_cli.io.atomic import atomic_path
from recon_cli.io.ismrmrd_header import TICK_MS
from recon_cli.io.ismrmrd_lib import ismrmrd
from recon_cli.io.ismrmrd_xml import build_xml
from recon_cli.io.scan import Scan, SliceGeometry

__all__ = ["write_ismrmrd"]


def _bit(flag: int) -> np.uint64:
    """The mask of ISMRMRD flag ``flag`` (1-based, as in ``ismrmrd.ACQ_*``)."""
    return np.uint64(1 << (flag - 1))


def write_ismrmrd(path: Path | str, scan: Scan, *, overwrite: bool = False, dataset: str = "dataset") -> Path:
    """Write ``scan`` as an ISMRMRD dataset that ``read_ismrmrd`` reads back to the same k-space.

    Cartesian scans are written one readout per acquired line (lines the mask marks; all lines
    without a mask) with ``center_sample = nx // 2`` and no readout oversampling; ``acs`` lines
    become ACQ_IS_PARALLEL_CALIBRATION readouts. Non-Cartesian scans are written one readout per
    spoke/interleaf with trajectories in normalised units ([-0.5, 0.5], kx first). Frames are
    ``idx.phase``, slices ``idx.slice``. A noise covariance is written as one noise readout whose
    samples have exactly that covariance (the identity when the scan is already prewhitened).
    ``scan.reference`` (a target image) goes to ``{dataset}/reference`` (slices, frames, ny, nx) float32,
    where ``read_ismrmrd`` finds it.

    Args:
        path: output file (written atomically).
        scan: the scan; ``kspace`` complex64 (slices, frames, coils, ny, nx) or
            (slices, frames, coils, samples) with ``traj``.
        overwrite: replace an existing file.
        dataset: name of the ISMRMRD group.

    Returns:
        The path written.
    """
    path = Path(path)
    parts = [_noise_records(scan)]
    if scan.is_cartesian:
        parts += [_cartesian_records(scan), _acs_records(scan)]
    else:
        parts.append(_radial_records(scan))
    records = np.concatenate([p for p in parts if p is not None and p.size])
    records["head"]["scan_counter"] = np.arange(1, records.size + 1)
    records["head"]["flags"][-1] |= _bit(ismrmrd.ACQ_LAST_IN_MEASUREMENT)
    xml = build_xml(scan)
    with atomic_path(path, overwrite=overwrite) as tmp:
        with h5py.File(tmp, "w") as handle:
            group = handle.create_group(dataset)
            node = group.create_dataset("xml", shape=(1,), dtype=h5py.special_dtype(vlen=bytes))
            node[0] = xml.encode("utf-8")
            group.create_dataset("data", data=records, maxshape=(None,), chunks=True)
            if scan.reference is not None:  # recon's convention for a target image beside the raw data
                reference = scan.reference.abs() if scan.reference.is_complex() else scan.reference
                group.create_dataset(
                    "reference", data=reference.numpy().astype(np.float32), compression="gzip"
                )
    return path


def _records(readouts: np.ndarray, scan: Scan, slices: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """ISMRMRD acquisition records (structured array) for readouts (n, coils, samples) complex64.

    ``slices`` and ``frames`` are (n,) int arrays; readouts of one (slice, frame) must be consecutive.
    Geometry comes from ``scan.header.geometry`` and time stamps from ``frame_time_ms``.
    """
    n, coils, n_samples = readouts.shape
    rec = np.zeros(n, dtype=ismrmrd.hdf5.acquisition_dtype)
    head = rec["head"]
    head["version"] = 1
    head["number_of_samples"] = n_samples
    head["active_channels"] = head["available_channels"] = coils
    for c in range(coils):
        head["channel_mask"][:, c // 64] |= np.uint64(1 << (c % 64))
    head["center_sample"] = n_samples // 2
    head["sample_time_us"] = 5.0
    head["idx"]["slice"], head["idx"]["phase"] = slices, frames
    frame_time = scan.header.frame_time_ms
    if frame_time:
        head["acquisition_time_stamp"] = np.round(frames * frame_time / TICK_MS).astype(np.uint32)
    geometry = scan.header.geometry
    for s in np.unique(slices):
        g = geometry[s] if len(geometry) > s else SliceGeometry()
        for key, value in (
            ("position", g.position),
            ("read_dir", g.read_dir),
            ("phase_dir", g.phase_dir),
            ("slice_dir", g.slice_dir),
        ):
            head[key][slices == s] = value
    keys = slices.astype(np.int64) * (int(frames.max()) + 1) + frames
    first = np.r_[True, keys[1:] != keys[:-1]]
    last = np.r_[keys[1:] != keys[:-1], True]
    head["flags"] |= np.where(first, _bit(ismrmrd.ACQ_FIRST_IN_SLICE), np.uint64(0))
    head["flags"] |= np.where(last, _bit(ismrmrd.ACQ_LAST_IN_SLICE), np.uint64(0))
    flat = np.ascontiguousarray(readouts, dtype=np.complex64).view(np.float32).reshape(n, -1)
    for i in range(n):
        rec["data"][i] = flat[i]
        rec["traj"][i] = np.zeros(0, np.float32)
    return rec


def _cartesian_records(scan: Scan) -> np.ndarray:
    """One record per acquired (slice, frame, line) of Cartesian k-space (slices, frames, coils, ny, nx)."""
    k = scan.kspace.detach().cpu()
    n_slices, n_frames, _, ny, _ = k.shape
    acquired = torch.ones(n_slices, n_frames, ny, dtype=torch.bool)
    if scan.mask is not None:
        m = scan.mask.detach().cpu().bool()
        acquired = torch.broadcast_to(m.any(dim=-1).any(dim=2), (n_slices, n_frames, ny)).clone()
    s, f, y = (t.numpy() for t in torch.nonzero(acquired, as_tuple=True))
    readouts = k[s, f, :, y, :].numpy()
    rec = _records(readouts, scan, s, f)
    rec["head"]["idx"]["kspace_encode_step_1"] = y
    return rec


def _acs_records(scan: Scan) -> np.ndarray | None:
    """ACQ_IS_PARALLEL_CALIBRATION records for the non-zero lines of ``acs`` (slices, 1, coils, ny, nx)."""
    if scan.acs is None:
        return None
    acs = scan.acs.detach().cpu()[:, 0]  # (slices, coils, ny, nx)
    s, y = (t.numpy() for t in torch.nonzero((acs != 0).any(dim=-1).any(dim=1), as_tuple=True))
    rec = _records(acs[s, :, y, :].numpy(), scan, s, np.zeros_like(s))
    rec["head"]["idx"]["kspace_encode_step_1"] = y
    rec["head"]["flags"] |= _bit(ismrmrd.ACQ_IS_PARALLEL_CALIBRATION)
    return rec


def _radial_records(scan: Scan) -> np.ndarray:
    """One record per readout of non-Cartesian k-space, trajectories (kx, ky) normalised to [-0.5, 0.5]."""
    k = scan.kspace.detach().cpu().numpy()
    n_slices, n_frames, coils, total = k.shape
    length = scan.readout_length or total
    if scan.traj is None or total % length:
        raise ValueError(f"non-Cartesian scan needs traj and {total} samples in readouts of {length}")
    spokes = total // length
    traj = torch.broadcast_to(scan.traj.detach().cpu(), (n_slices, n_frames, 2, total)).numpy()
    readouts = k.reshape(n_slices, n_frames, coils, spokes, length).transpose(0, 1, 3, 2, 4)
    points = traj.reshape(n_slices, n_frames, 2, spokes, length).transpose(0, 1, 3, 4, 2)[..., ::-1]
    s, f, r = (a.ravel() for a in np.meshgrid(*map(np.arange, (n_slices, n_frames, spokes)), indexing="ij"))
    rec = _records(readouts.reshape(-1, coils, length), scan, s, f)
    rec["head"]["idx"]["kspace_encode_step_1"] = r
    rec["head"]["trajectory_dimensions"] = 2
    normalised = np.ascontiguousarray(points / (2 * math.pi), dtype=np.float32).reshape(s.size, -1)
    for i in range(s.size):
        rec["traj"][i] = normalised[i]
    return rec


def _noise_records(scan: Scan) -> np.ndarray | None:
    """One noise readout with exactly the scan's noise covariance: X = L Z, Z Z^H = n I (DFT rows)."""
    if scan.noise is None:
        return None
    coils = scan.n_coils
    cov = torch.eye(coils, dtype=torch.complex128) if scan.prewhitened else scan.noise.to(torch.complex128)
    values, vectors = torch.linalg.eigh(cov.cpu())
    factor = vectors * values.clamp_min(0).sqrt()
    n = int(min(max(scan.noise_samples, coils, 2), 65535))
    z = torch.exp(-2j * math.pi * torch.outer(torch.arange(coils), torch.arange(n)).double() / n)
    samples = (factor @ z).to(torch.complex64).numpy()[None]
    rec = _records(samples, scan, np.zeros(1, np.int64), np.zeros(1, np.int64))
    rec["head"]["flags"] = _bit(ismrmrd.ACQ_IS_NOISE_MEASUREMENT)
    rec["head"]["center_sample"] = 0
    return rec

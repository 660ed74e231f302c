"""Read ISMRMRD raw data (an HDF5 group with an XML header and an acquisition table) into a ``Scan``.

This module reads the group, the noise scans and recon's own extra datasets; ``ismrmrd_cartesian`` and
``ismrmrd_noncartesian`` turn the imaging acquisitions into k-space.

Conventions, applied once here so nothing downstream re-parses files:

* Acquisitions are sorted by flag: noise measurements (flag 19) give the noise covariance and never
  reach the k-space; parallel calibration (20) goes to ``Scan.acs`` only; calibration-and-imaging (21)
  goes to both; navigator, phase-correction, feedback, dummy and phase-stabilisation scans are ignored.
  Only encoding space 0 and the lowest contrast and set are read (a warning says what was skipped).
* Frames come from ``idx.phase`` when it varies, otherwise from ``idx.repetition`` (``frame_index``
  overrides). Repeated Cartesian lines (averages, or the counter not used for frames) are averaged;
  non-Cartesian readouts of one frame are concatenated in acquisition order. ISMRMRD's Shepp-Logan
  generator with ``-a R`` writes R repetitions with shifted line sets (calibrationMode interleaved):
  they become R frames, each R-fold undersampled; averaging acquired lines over frames fills k-space.
* Cartesian: each readout is placed so that sample ``center_sample`` (``number_of_samples // 2`` when
  it is 0) lands at ``encoded_x // 2``, and each line so that the encoding-limits centre of
  ``kspace_encode_step_1`` lands at ``ny // 2``; readout oversampling is then removed in image space,
  keeping ``encoded_x * recon_fov_x / encoded_fov_x`` columns (``header.encoded_matrix`` reports the
  size after removal, matching ``kspace``). ``mask`` marks acquired lines, and columns too when
  readouts are partial echoes. ``discard_pre``/``discard_post`` samples are zeroed; ACQ_IS_REVERSE
  readouts are flipped. 3D encoding is not supported.
* Non-Cartesian: ``traj[:, 0]`` is kx and ``traj[:, 1]`` ky (a third dimension, kz or a density
  weight, is ignored). Units are normalised ([-0.5, 0.5]) or samples (cycles per recon FOV, so
  -N/2..N/2 for an N matrix), whichever puts the largest |k| nearest pi
  (``ismrmrd_noncartesian.to_radians``), unless the XML states them (user parameter string
  ``trajectory_units``, which recon's writer sets); both become radians/voxel with the recon matrix.
  Sample positions outside [-pi, pi] on any readout (e.g. trajectories that extend past the recon
  resolution) are dropped from every readout, so all readouts keep one length; +pi wraps to -pi.
  Frames with more readouts than the smallest frame are truncated to it (a guess).
* Noise covariance and prewhitening follow ``recon_cli.noise`` (no bandwidth-ratio correction).
* Matrix sizes, fields of view, coil and acquisition counts and the trajectory's extent are checked
  against ``plausibility`` before anything is sized from them. Every assumption (inferred trajectory
  units, dropped samples, truncated frames, the encoding/contrast/set read, an assumed k-space centre,
  repaired or missing direction vectors, a coil count the header contradicts, a lenient XML parse) is
  one sentence in ``Scan.guesses``; nothing is only a ``warnings.warn``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
import torch

from recon_cli import noise as noise_ops
from recon_cli.errors import InputDataError, UsageError
from recon_cli.io.ismrmrd_cartesian import cartesian_centre_guesses, read_cartesian
from recon_cli.io.ismrmrd_header import (
    check_encoding,
    parse_xml,
    scan_header,
    short_error,
    stated_trajectory_units,
    with_timing_geometry,
)
from recon_cli.io.ismrmrd_lib import xsd
from recon_cli.io.ismrmrd_noncartesian import read_noncartesian
from recon_cli.io.ismrmrd_table import Table as _Table
from recon_cli.io.ismrmrd_table import classify as _classify
from recon_cli.io.ismrmrd_table import open_group as _open_group
from recon_cli.io.ismrmrd_write import write_ismrmrd
from recon_cli.io.plausibility import slice_positions
from recon_cli.io.scan import FrameCounter, IsmrmrdInfo, Scan

__all__ = ["read_ismrmrd", "write_ismrmrd"]


def _frame_counter(heads: np.ndarray, frame_index: str) -> FrameCounter:
    if frame_index == "phase":
        return "phase"
    if frame_index == "repetition":
        return "repetition"
    return "phase" if np.unique(heads["idx"]["phase"]).size > 1 else "repetition"


def read_ismrmrd(
    path: Path | str,
    *,
    traj_units: str = "auto",
    prewhiten: bool = False,
    dataset: str = "dataset",
    frame_index: str = "auto",
    slices: Sequence[int] | None = None,
) -> Scan:
    """Read an ISMRMRD dataset into a ``Scan`` (conventions in the module docstring).

    Args:
        path: the HDF5 file.
        traj_units: "auto", "normalised" ([-0.5, 0.5]), "samples" (cycles per FOV) or "radians".
        prewhiten: whiten the coil dimension of ``kspace`` and ``acs`` with the noise scans' covariance.
        dataset: name of the ISMRMRD group in the file.
        frame_index: counter that numbers frames: "auto" (phase if it varies, else repetition),
            "phase" or "repetition".
        slices: read only these slices (0-based positions among the file's slices, sorted, duplicates
            dropped); None: all. Only their samples are read from the file; the header (slice spacing,
            frame time) is the file's, with the geometry of the slices read.

    Returns:
        Cartesian: ``kspace`` (slices, frames, coils, ny, nx) complex64, ``mask`` bool
        (slices or 1, frames, 1, ny, 1 or nx), ``acs`` (slices, 1, coils, ny, nx) or None.
        Non-Cartesian: ``kspace`` (slices, frames, coils, samples) complex64 and ``traj``
        (slices or 1, frames, 2, samples) float32 radians/voxel ordered (ky, kx).

    Raises:
        InputDataError: the file is not usable ISMRMRD raw data; the message names the problem.
        UsageError: an option has an unknown value.
    """
    path = Path(path)
    if traj_units not in ("auto", "normalised", "samples", "radians"):
        raise UsageError(f"traj_units must be auto, normalised, samples or radians, not {traj_units!r}")
    if frame_index not in ("auto", "phase", "repetition"):
        raise UsageError(f"frame_index must be auto, phase or repetition, not {frame_index!r}")
    with _open_group(path, dataset) as group:
        try:
            scan = _read_group(path, group, traj_units, frame_index, slices)
        except (InputDataError, UsageError):
            raise
        except (OSError, KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
            # a layout no check above foresaw (fields of odd types or shapes): still the file's fault
            raise InputDataError(path, f"unreadable ISMRMRD file: {short_error(exc)}") from None
    return _apply_prewhitening(scan) if prewhiten else scan


def _read_group(
    path: Path, group: h5py.Group, traj_units: str, frame_index: str, slices: Sequence[int] | None
) -> Scan:
    """The scan of one ISMRMRD group; every assumption made on the way lands in ``Scan.guesses``."""
    guesses: list[str] = []
    hdr, text = parse_xml(path, group, guesses)
    if not hdr.encoding:
        raise InputDataError(path, "XML header has no <encoding> section")
    check_encoding(path, hdr.encoding[0])  # before anything is sized from the header
    table = _Table(path, group)
    noise_idx, img_idx, cal_idx = _classify(path, table.heads, guesses)
    header, oversampling = scan_header(hdr, text)
    fov = hdr.encoding[0]
    if fov.encodedSpace.fieldOfView_mm.x < fov.reconSpace.fieldOfView_mm.x:
        guesses.append(_FOV_GUESS)
    heads = table.heads[img_idx]
    nz = hdr.encoding[0].encodedSpace.matrixSize.z or 1
    if nz > 1 or (heads["idx"]["kspace_encode_step_2"] > 0).any():
        raise InputDataError(path, "3D acquisitions (kspace_encode_step_2) are not supported")
    counter = _frame_counter(heads, frame_index)
    info = IsmrmrdInfo(frame_counter=counter, readout_oversampling=oversampling)
    timing: list[str] = []  # the header is complete before any scan is built; its guesses come after
    header = with_timing_geometry(header, hdr, heads, counter, timing)
    chosen = None
    if slices is not None:
        values = np.unique(heads["idx"]["slice"])  # the imaging slices' numbers, in slice order
        chosen = (slice_positions(slices, int(values.size)), int(values.size))
        wanted = values[chosen[0]]
        img_idx = img_idx[np.isin(table.heads["idx"]["slice"][img_idx], wanted)]
        cal_idx = cal_idx[np.isin(table.heads["idx"]["slice"][cal_idx], wanted)]
        heads = table.heads[img_idx]
        if header.geometry:
            header = dataclasses.replace(header, geometry=tuple(header.geometry[i] for i in chosen[0]))
    if header.trajectory == "cartesian":
        scan = read_cartesian(table, header, hdr, img_idx, cal_idx, info)
        cartesian_centre_guesses(hdr, table.heads[img_idx], guesses)
    else:
        units = stated_trajectory_units(hdr) if traj_units == "auto" else None
        scan = read_noncartesian(table, header, img_idx, units or traj_units, info, guesses)
    guesses += timing
    noise, noise_samples = _read_noise(table, noise_idx, scan)
    reference, ignored = _read_reference(path, group, scan, chosen)
    mask = _read_sampling_mask(path, group, scan, chosen)
    _check_coil_count(hdr, scan, guesses)
    return dataclasses.replace(
        scan,
        noise=noise,
        noise_samples=noise_samples,
        reference=reference,
        mask=scan.mask if mask is None else mask,
        guesses=(*ignored, *guesses),
    )


_FOV_GUESS = "the recon field of view exceeds the encoded one along the readout; no oversampling was removed"


def _check_coil_count(hdr: xsd.ismrmrdHeader, scan: Scan, guesses: list[str]) -> None:
    """A header that states a different number of receiver channels than the data holds: trust the data."""
    system = hdr.acquisitionSystemInformation
    stated = system.receiverChannels if system is not None else None
    if stated is not None and int(stated) != scan.n_coils:
        guesses.append(
            f"the header states {stated} receiver channels but the data holds {scan.n_coils} coils; "
            f"the data's {scan.n_coils} were used"
        )


def _read_reference(
    path: Path, group: h5py.Group, scan: Scan, chosen: tuple[list[int], int] | None
) -> tuple[torch.Tensor | None, list[str]]:
    """The optional target image ``{dataset}/reference`` (slices, frames, ny, nx) float32 (recon's own),
    of the ``chosen`` slices ((positions, slices in the file); None: all).

    Returns:
        The image (None without a usable one) and the guess made when it had to be ignored.
    """
    node = group.get("reference")
    if node is None:
        return None, []
    n_slices = scan.n_slices if chosen is None else chosen[1]
    expected = (n_slices, scan.n_frames, *scan.header.recon_matrix)
    if not isinstance(node, h5py.Dataset) or tuple(node.shape) != expected:
        shape = tuple(node.shape) if isinstance(node, h5py.Dataset) else "a group"
        raise InputDataError(
            path, f"'reference' has shape {shape}, expected {expected} (slices, frames, ny, nx)"
        )
    reference = np.abs(np.asarray(node if chosen is None else node[chosen[0]])).astype(np.float32)
    if not np.isfinite(reference).all():
        return None, ["the file's 'reference' image was ignored: it contains NaN/Inf values"]
    return torch.from_numpy(reference), []


def _read_sampling_mask(
    path: Path, group: h5py.Group, scan: Scan, chosen: tuple[list[int], int] | None
) -> torch.Tensor | None:
    """recon's optional 2-D pattern ``{dataset}/sampling_mask`` (slices or 1, frames, ny, nx) bool, of
    the ``chosen`` slices (None: all).

    Lines in ISMRMRD are whole readouts; a 2-D pattern (e.g. Poisson disc) zeroes samples inside them,
    and only this dataset tells measured zeros from unsampled ones.
    """
    node = group.get("sampling_mask")
    if node is None or not scan.is_cartesian:
        return None
    shape = tuple(node.shape) if isinstance(node, h5py.Dataset) else ()
    n_slices = scan.n_slices if chosen is None else chosen[1]
    if len(shape) != 4 or shape[0] not in (1, n_slices) or shape[1:] != (scan.n_frames, *scan.image_shape):
        raise InputDataError(path, f"sampling_mask has shape {shape}, expected (slices, frames, ny, nx)")
    assert isinstance(node, h5py.Dataset)
    values = node[()] if chosen is None or shape[0] == 1 else node[chosen[0]]
    return torch.from_numpy(np.asarray(values) != 0).unsqueeze(2)


def _read_noise(table: _Table, noise_idx: np.ndarray, scan: Scan) -> tuple[torch.Tensor | None, int]:
    """The noise scans' covariance (coils, coils) and their sample count (None, 0 without noise scans)."""
    if noise_idx.size == 0:
        return None, 0
    readouts = table.readouts(noise_idx)
    if readouts[0].shape[0] != scan.n_coils:
        raise InputDataError(
            table.path, f"noise scans have {readouts[0].shape[0]} coils, data {scan.n_coils}"
        )
    samples = torch.from_numpy(np.concatenate(readouts, axis=1))
    return noise_ops.noise_covariance(samples), int(samples.shape[1])


def _apply_prewhitening(scan: Scan) -> Scan:
    if scan.noise is None:
        raise InputDataError(scan.source, "prewhitening requested but the file has no noise acquisitions")
    try:
        w = noise_ops.whitening_matrix(scan.noise)
    except ValueError as exc:
        raise InputDataError(scan.source, str(exc)) from None
    acs = None if scan.acs is None else noise_ops.prewhiten(scan.acs, w, coil_dim=2)
    kspace = noise_ops.prewhiten(scan.kspace, w, coil_dim=2)
    return dataclasses.replace(scan, kspace=kspace, acs=acs, prewhitened=True)

"""Limits on what a raw-data header may claim, checked by the readers before anything large is allocated.

A header that states a 10^9 recon matrix, a field of view of a kilometre or a trajectory a million
times past the Nyquist limit is not a scan recon can reconstruct: it is a corrupt or hostile file, and
reading it on would allocate absurd arrays or write images with nonsense geometry. Each check raises
``InputDataError`` naming the file and the value. The limits are generous (every clinical and
preclinical 2D acquisition fits well inside them) and are the only copies of these numbers:

* ``MAX_MATRIX``: recon matrix per axis, 1..4096 pixels.
* ``MAX_ENCODED_MATRIX``: encoded (acquired) matrix per axis, readout oversampling included, 1..8192.
* ``MIN_FOV_MM`` .. ``MAX_FOV_MM``: in-plane field of view, 1 mm .. 10 m (finite).
* ``MAX_SLICE_THICKNESS_MM``: the third FOV entry (slice thickness), 0 .. 1 m (0: not stated).
* ``MAX_COILS``: receiver channels, 1..1024.
* ``MAX_SLICES``: slices of a fastMRI volume, 1..4096.
* ``MAX_ACQUISITIONS``: readouts in one ISMRMRD dataset, up to 10^7 (their headers alone are 3.4 GB).
* A dataset must store the bytes it declares (``check_stored``): an uncompressed dataset whose file
  holds fewer bytes than its shape needs was never written or is cut short, and reading it would
  allocate its whole declared size of fill values.
* ``MAX_TRAJECTORY_EXTENT``: the largest |k| of a non-Cartesian trajectory, in radians per voxel of the
  recon matrix, at most 2 pi (a 2x oversampled readout reaches just below 2 pi); beyond that the
  trajectory's units and the recon matrix disagree, and the samples cannot be placed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from recon_cli.errors import InputDataError, UsageError

__all__ = [
    "MAX_ACCELERATION",
    "MAX_ACQUISITIONS",
    "MAX_COILS",
    "MAX_ENCODED_MATRIX",
    "MAX_FOV_MM",
    "MAX_MATRIX",
    "MAX_SLICES",
    "MAX_SLICE_THICKNESS_MM",
    "MAX_TRAJECTORY_EXTENT",
    "MIN_FOV_MM",
    "check_count",
    "check_fov",
    "check_matrix",
    "check_stored",
    "check_trajectory_extent",
]

MAX_MATRIX = 4096
MAX_ENCODED_MATRIX = 8192
MIN_FOV_MM = 1.0
MAX_FOV_MM = 10_000.0
MAX_SLICE_THICKNESS_MM = 1_000.0
MAX_COILS = 1024
MAX_ACCELERATION = 1024  # parallel imaging factor per axis
MAX_SLICES = 4096
MAX_TRAJECTORY_EXTENT = 2 * math.pi
MAX_ACQUISITIONS = 10_000_000


def _number(value: object) -> float | None:
    """``value`` as a float, or None when it is missing or not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def check_matrix(
    path: Path | str, name: str, matrix: Sequence[object], limit: int = MAX_MATRIX
) -> tuple[int, ...]:
    """Each entry of ``matrix`` is a whole number in 1..``limit``.

    Args:
        path: The file (named in the error).
        name: What the matrix is, e.g. "recon matrix".
        matrix: Its sizes as read from the header (any types).
        limit: The largest size allowed per axis.

    Returns:
        The sizes as ints.

    Raises:
        InputDataError: a size is missing, fractional, below 1 or above ``limit``.
    """
    sizes = [_number(v) for v in matrix]
    shown = " x ".join(str(v) for v in matrix)
    for value in sizes:
        if value is None or not math.isfinite(value) or value != int(value):
            raise InputDataError(path, f"{name} {shown} is not a whole number of pixels")
        if value < 1:
            raise InputDataError(path, f"{name} {shown} has a size below 1")
        if value > limit:
            raise InputDataError(path, f"{name} {shown} exceeds the limit of {limit} pixels per axis")
    return tuple(int(v) for v in sizes)  # type: ignore[arg-type]


def check_fov(path: Path | str, name: str, fov_mm: Sequence[object]) -> tuple[float, ...]:
    """In-plane FOV entries (all but a third) in ``MIN_FOV_MM``..``MAX_FOV_MM``; a third is a thickness.

    Raises:
        InputDataError: an entry is missing, not finite or outside its range.
    """
    values = [_number(v) for v in fov_mm]
    shown = " x ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in fov_mm)
    for axis, value in enumerate(values):
        if value is None or not math.isfinite(value):
            raise InputDataError(path, f"{name} {shown} mm is not a finite number")
        low, high = (0.0, MAX_SLICE_THICKNESS_MM) if axis == 2 else (MIN_FOV_MM, MAX_FOV_MM)
        if not low <= value <= high:
            raise InputDataError(path, f"{name} {shown} mm is outside the plausible {low:g}..{high:g} mm")
    return tuple(float(v) for v in values)  # type: ignore[arg-type]


def check_count(path: Path | str, name: str, value: object, limit: int) -> int:
    """A count (coils, slices) in 1..``limit``.

    Raises:
        InputDataError: outside that range.
    """
    number = _number(value)
    if number is None or not 1 <= number <= limit or number != int(number):
        raise InputDataError(path, f"{value} {name} is outside the plausible 1..{limit}")
    return int(number)


def check_stored(path: Path | str, name: str, dataset: Any) -> None:
    """An uncompressed HDF5 dataset stores at least the bytes its shape and dtype declare.

    Args:
        path: The file (named in the error).
        name: The dataset's name in the message.
        dataset: An ``h5py.Dataset``.

    Raises:
        InputDataError: fewer bytes stored than declared (never written, or truncated).
    """
    if dataset.id.get_create_plist().get_nfilters() > 0:
        return  # compressed: stored sizes say nothing about completeness
    declared, stored = int(dataset.nbytes), int(dataset.id.get_storage_size())
    if stored < declared:
        raise InputDataError(
            path,
            f"{name} declares shape {tuple(dataset.shape)} ({declared} bytes) but the file stores only "
            f"{stored} bytes: never written or truncated",
        )


def check_trajectory_extent(path: Path | str, max_abs_radians: float, units: str) -> None:
    """The trajectory's largest |k| (radians/voxel after unit conversion) is at most 2 pi.

    Raises:
        InputDataError: beyond that (e.g. a trajectory scaled by 10^6, or units that do not match).
    """
    if not max_abs_radians <= MAX_TRAJECTORY_EXTENT * (1 + 1e-5):  # float32 rounding at exactly 2 pi
        times = max_abs_radians / math.pi
        raise InputDataError(
            path,
            f"trajectory reaches |k| = {times:.3g} pi rad/voxel in {units} units for the recon matrix, "
            f"beyond the plausible 2 pi: its scale, units or the recon matrix are wrong",
        )


def slice_positions(slices: Sequence[int], n: int) -> list[int]:
    """Requested slice positions (0-based) sorted, duplicates dropped; UsageError when any is outside
    the file's ``n`` slices or none is given."""
    chosen = sorted({int(i) for i in slices})
    if not chosen or chosen[0] < 0 or chosen[-1] >= n:
        raise UsageError(f"slice indices {list(slices)} out of range for {n} slices")
    return chosen

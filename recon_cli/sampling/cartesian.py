"""Cartesian undersampling masks, seeded through explicit generators.

1-D kinds follow fastMRI's mask functions (``fastmri/data/subsample.py``): a mask over the phase-encode
axis with a fully sampled centre block of ``round(n * center_fraction)`` lines starting at
``(n - num_low + 1) // 2``.

* ``random``: every other line is sampled with probability ``(n / acceleration - num_low) / (n - num_low)``,
  so the expected number of sampled lines is ``n / acceleration`` (fastMRI ``RandomMaskFunc``).
* ``equispaced``: lines ``rint(offset + k * a)`` for ``offset + k * a < n - 1`` with the spacing
  ``a = acceleration * (n - num_low) / (n - num_low * acceleration)`` adjusted so the total matches
  ``n / acceleration``, and ``offset`` drawn from ``[0, round(a))`` (the masks of fastMRI's public
  multi-coil data: ``EquispacedMaskFractionFunc``, the original ``EquispacedMaskFunc``).

2-D kinds sample single k-space points:

* ``random-2d``: a fully sampled centre block of ``round(ny * f) x round(nx * f)`` points (placed like the
  1-D block along each axis) plus points drawn uniformly without replacement, so that exactly
  ``round(ny * nx / acceleration)`` points are sampled.
* ``poisson``: variable-density Poisson disc (``recon_cli.sampling.poisson``: minimum distance growing
  linearly with |k|, so a density falling off from nearly full at the centre as about 1 / |k|^2) plus
  a fully sampled calibration block of the same size as ``random-2d``'s.
* ``pseudo-radial``: see ``recon_cli.sampling.pseudo_radial``.

Every random choice comes from a ``numpy.random.Generator`` (or an int seed made into one), never from
global random state.
"""

from __future__ import annotations

import numpy as np

from recon_cli.sampling.kinds import CARTESIAN_KINDS, TWO_D_KINDS
from recon_cli.sampling.pseudo_radial import pseudo_radial_frames


def as_rng(seed: int | np.random.Generator) -> np.random.Generator:
    """A NumPy generator from a generator (returned as is) or an int seed."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(int(seed))


def center_columns(n_cols: int, center_fraction: float) -> tuple[int, int]:
    """(first column, number of columns) of the fully sampled centre block, as fastMRI places it."""
    num_low = round(n_cols * center_fraction)
    return (n_cols - num_low + 1) // 2, num_low


def center_block(shape: tuple[int, int], center_fraction: float) -> tuple[slice, slice]:
    """(rows, columns) of the 2-D fully sampled centre block: ``center_columns`` along each axis."""
    (y0, ly), (x0, lx) = (center_columns(n, center_fraction) for n in shape)
    return slice(y0, y0 + ly), slice(x0, x0 + lx)


def _check_fraction(center_fraction: float) -> None:
    if not 0 <= center_fraction <= 1:
        raise ValueError(f"center_fraction must be in [0, 1], got {center_fraction}")


def _check_acceleration(acceleration: float) -> None:
    if not acceleration >= 1:
        raise ValueError(f"acceleration must be >= 1, got {acceleration}")


def _check_mask_args(n_cols: int, acceleration: float, center_fraction: float) -> int:
    if n_cols < 1:
        raise ValueError(f"n_cols must be >= 1, got {n_cols}")
    _check_acceleration(acceleration)
    _check_fraction(center_fraction)
    num_low = center_columns(n_cols, center_fraction)[1]
    if num_low * acceleration > n_cols:
        raise ValueError(
            f"the centre block ({num_low} of {n_cols} columns) alone exceeds 1/{acceleration:g} of k-space; "
            "lower center_fraction or acceleration"
        )
    return num_low


def _check_2d_args(shape: tuple[int, int], acceleration: float, center_fraction: float) -> int:
    """Validate a 2-D request; returns the number of points in the centre block."""
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"shape must be two positive sizes, got {shape}")
    _check_acceleration(acceleration)
    _check_fraction(center_fraction)
    rows, cols = center_block(shape, center_fraction)
    area = (rows.stop - rows.start) * (cols.stop - cols.start)
    if area * acceleration > shape[0] * shape[1]:
        raise ValueError(
            f"the centre block ({rows.stop - rows.start}x{cols.stop - cols.start} points) alone exceeds "
            f"1/{acceleration:g} of k-space; lower center_fraction or acceleration"
        )
    return area


def _with_center(mask: np.ndarray, center_fraction: float) -> np.ndarray:
    start, num_low = center_columns(mask.size, center_fraction)
    mask[start : start + num_low] = True
    return mask


def random_mask(
    n_cols: int, acceleration: float, center_fraction: float, seed: int | np.random.Generator
) -> np.ndarray:
    """fastMRI random 1-D mask: centre block plus columns sampled independently at random.

    Args:
        n_cols: Number of phase-encode columns.
        acceleration: Requested acceleration (>= 1); the expected sampled count is ``n_cols / acceleration``.
        center_fraction: Fraction of columns in the fully sampled centre block.
        seed: Int seed or generator (consumed: one uniform draw per column).

    Returns:
        (n_cols,) bool mask.
    """
    num_low = _check_mask_args(n_cols, acceleration, center_fraction)
    draws = as_rng(seed).random(n_cols)
    if num_low >= n_cols:
        return np.ones(n_cols, dtype=bool)
    prob = (n_cols / acceleration - num_low) / (n_cols - num_low)
    return _with_center(draws < prob, center_fraction)


def equispaced_mask(
    n_cols: int,
    acceleration: float,
    center_fraction: float,
    seed: int | np.random.Generator,
    *,
    offset: int | None = None,
) -> np.ndarray:
    """fastMRI equispaced 1-D mask: centre block plus evenly spaced columns, spacing adjusted for the centre.

    Args:
        n_cols: Number of phase-encode columns.
        acceleration: Requested acceleration (>= 1).
        center_fraction: Fraction of columns in the fully sampled centre block.
        seed: Int seed or generator, used to draw ``offset`` when it is not given.
        offset: First sampled column outside the centre block's rule, in ``[0, round(spacing))``.

    Returns:
        (n_cols,) bool mask.
    """
    num_low = _check_mask_args(n_cols, acceleration, center_fraction)
    mask = np.zeros(n_cols, dtype=bool)
    if num_low * acceleration < n_cols:
        spacing = acceleration * (n_cols - num_low) / (n_cols - num_low * acceleration)
        if offset is None:
            offset = int(as_rng(seed).integers(0, max(round(spacing), 1)))
        columns = np.rint(np.arange(offset, n_cols - 1, spacing)).astype(np.int64)
        mask[columns] = True
    return _with_center(mask, center_fraction)


def random_2d_mask(
    shape: tuple[int, int], acceleration: float, center_fraction: float, seed: int | np.random.Generator
) -> np.ndarray:
    """Uniform random 2-D mask: centre block plus points drawn without replacement.

    Args:
        shape: (ny, nx) k-space matrix.
        acceleration: Requested acceleration (>= 1); exactly ``round(ny * nx / acceleration)`` points are
            sampled (or the centre block alone, if it is larger).
        center_fraction: Fraction of each axis in the fully sampled centre block.
        seed: Int seed or generator.

    Returns:
        (ny, nx) bool mask.
    """
    _check_2d_args(shape, acceleration, center_fraction)
    mask = np.zeros(shape, dtype=bool)
    mask[center_block(shape, center_fraction)] = True
    outside = np.flatnonzero(~mask.ravel())
    extra = round(mask.size / acceleration) - (mask.size - outside.size)
    if extra > 0:
        mask.ravel()[as_rng(seed).choice(outside, size=extra, replace=False)] = True
    return mask


def poisson_mask(
    shape: tuple[int, int], acceleration: float, center_fraction: float, seed: int | np.random.Generator
) -> np.ndarray:
    """Variable-density Poisson-disc mask with a fully sampled centre block (``recon_cli.sampling.poisson``).

    Args:
        shape: (ny, nx) k-space matrix.
        acceleration: Requested acceleration (>= 1); the point count lands within 1% of
            ``ny * nx / acceleration`` where the grid allows it.
        center_fraction: Fraction of each axis in the fully sampled centre block.
        seed: Int seed or generator (consumed: a permutation of the grid points and their jitter).

    Returns:
        (ny, nx) bool mask.
    """
    from recon_cli.sampling.poisson import variable_density_poisson

    _check_2d_args(shape, acceleration, center_fraction)
    count = round(shape[0] * shape[1] / acceleration)
    return variable_density_poisson(shape, count, center_block(shape, center_fraction), as_rng(seed))


def cartesian_mask(
    kind: str,
    shape: tuple[int, int],
    acceleration: float,
    center_fraction: float,
    seed: int | np.random.Generator,
    frames: int = 1,
    *,
    phase_axis: int = -1,
) -> np.ndarray:
    """Masks of any Cartesian kind, a new draw for every frame.

    Args:
        kind: One of ``CARTESIAN_KINDS``.
        shape: (ny, nx) k-space matrix.
        acceleration: Requested acceleration (>= 1).
        center_fraction: Fraction of the phase-encode axis (1-D kinds) or of each axis (``random-2d``,
            ``poisson``) in the fully sampled centre block; ``pseudo-radial`` ignores it.
        seed: Int seed or generator; frames draw one after another from it.
        frames: Number of frames (cine); each gets its own draw (``pseudo-radial``: its own rotation).
        phase_axis: 1-D kinds: the phase-encode axis, -1 (columns, fastMRI) or -2 (rows, ISMRMRD lines).

    Returns:
        (frames, ny, nx) bool mask; 1-D kinds are constant along the other axis.
    """
    if kind not in CARTESIAN_KINDS:
        raise ValueError(f"unknown Cartesian mask kind {kind!r}; choose from {', '.join(CARTESIAN_KINDS)}")
    if phase_axis not in (-1, -2):
        raise ValueError(f"phase_axis must be -1 or -2, got {phase_axis}")
    ny, nx = shape
    if kind == "pseudo-radial":
        return pseudo_radial_frames(shape, 1.0 / acceleration, frames)
    rng = as_rng(seed)
    if kind in TWO_D_KINDS:
        draw2 = random_2d_mask if kind == "random-2d" else poisson_mask
        return np.stack([draw2(shape, acceleration, center_fraction, rng) for _ in range(frames)])
    draw = random_mask if kind == "random" else equispaced_mask
    n = nx if phase_axis == -1 else ny
    lines = np.stack([draw(n, acceleration, center_fraction, rng) for _ in range(frames)])
    spread = lines[:, None, :] if phase_axis == -1 else lines[:, :, None]
    return np.ascontiguousarray(np.broadcast_to(spread, (frames, ny, nx)))

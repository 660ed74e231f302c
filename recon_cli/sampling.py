"""Sampling patterns: Cartesian undersampling masks and radial trajectories, seeded.

Cartesian masks follow fastMRI's mask functions (``fastmri/data/subsample.py``): a 1-D mask over the
phase-encode axis, which in recon is the last image axis (columns, ``nx``), with a fully sampled centre
block of ``round(n_cols * center_fraction)`` columns starting at ``(n_cols - num_low + 1) // 2``.

* ``random``: every other column is sampled with probability
  ``(n_cols / acceleration - num_low) / (n_cols - num_low)``, so the expected number of sampled columns
  is ``n_cols / acceleration`` (fastMRI ``RandomMaskFunc``).
* ``equispaced``: columns ``rint(offset + k * a)`` for ``offset + k * a < n_cols - 1`` with the spacing
  ``a = acceleration * (n_cols - num_low) / (n_cols - num_low * acceleration)`` adjusted so the total
  matches ``n_cols / acceleration``, and ``offset`` drawn from ``[0, round(a))`` (the masks of fastMRI's
  public multi-coil data: ``EquispacedMaskFractionFunc``, the original ``EquispacedMaskFunc``).

Radial trajectories are radians/voxel in [-pi, pi), ordered (ky, kx) as torchkbnufft's ``omega``, with
consecutive spokes (counted over all frames) a golden angle (111.246 degrees) or a tiny golden angle apart.

Every random choice comes from an explicit ``numpy.random.Generator`` (or an int seed made into one),
never from global random state.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from recon_cli.errors import UsageError
from recon_cli.io.atomic import atomic_path, check_writable

CARTESIAN_KINDS = ("random", "equispaced")
RADIAL_KINDS = ("golden-angle", "tiny-golden-angle")
MASK_KINDS = CARTESIAN_KINDS + RADIAL_KINDS

GOLDEN_RATIO = (1.0 + math.sqrt(5.0)) / 2.0
GOLDEN_ANGLE_DEG = 180.0 / GOLDEN_RATIO  # 111.246... degrees


def as_rng(seed: int | np.random.Generator) -> np.random.Generator:
    """A NumPy generator from a generator (returned as is) or an int seed."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(int(seed))


def tiny_golden_angle_deg(index: int) -> float:
    """Angle between spokes of the ``index``-th tiny golden angle, ``180 / (phi + index - 1)`` degrees.

    ``index = 1`` is the golden angle (111.246), 2 gives 68.755, 7 gives 23.628 (Wundrak et al., MRM 2016).
    """
    if index < 1:
        raise ValueError(f"tiny golden angle index must be >= 1, got {index}")
    return 180.0 / (GOLDEN_RATIO + index - 1)


def center_columns(n_cols: int, center_fraction: float) -> tuple[int, int]:
    """(first column, number of columns) of the fully sampled centre block, as fastMRI places it."""
    num_low = round(n_cols * center_fraction)
    return (n_cols - num_low + 1) // 2, num_low


def _check_mask_args(n_cols: int, acceleration: float, center_fraction: float) -> int:
    if n_cols < 1:
        raise ValueError(f"n_cols must be >= 1, got {n_cols}")
    if not acceleration >= 1:
        raise ValueError(f"acceleration must be >= 1, got {acceleration}")
    if not 0 <= center_fraction <= 1:
        raise ValueError(f"center_fraction must be in [0, 1], got {center_fraction}")
    num_low = center_columns(n_cols, center_fraction)[1]
    if num_low * acceleration > n_cols:
        raise ValueError(
            f"the centre block ({num_low} of {n_cols} columns) alone exceeds 1/{acceleration:g} of k-space; "
            "lower center_fraction or acceleration"
        )
    return num_low


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


def cartesian_mask(
    kind: str,
    shape: tuple[int, int],
    acceleration: float,
    center_fraction: float,
    seed: int | np.random.Generator,
    frames: int = 1,
) -> np.ndarray:
    """1-D column masks (phase encoding along x) spread over the rows, a new draw for every frame.

    Args:
        kind: "random" or "equispaced".
        shape: (ny, nx) image matrix.
        acceleration: Requested acceleration.
        center_fraction: Fraction of columns in the fully sampled centre block.
        seed: Int seed or generator; frames draw one after another from it.
        frames: Number of frames (cine); each gets its own draw.

    Returns:
        (frames, ny, nx) bool mask, constant along y.
    """
    draw = {"random": random_mask, "equispaced": equispaced_mask}.get(kind)
    if draw is None:
        raise ValueError(f"unknown Cartesian mask kind {kind!r}; choose from {', '.join(CARTESIAN_KINDS)}")
    ny, nx = shape
    rng = as_rng(seed)
    columns = np.stack([draw(nx, acceleration, center_fraction, rng) for _ in range(frames)])
    return np.ascontiguousarray(np.broadcast_to(columns[:, None, :], (frames, ny, nx)))


def golden_angle_radial(
    spokes_per_frame: int, frames: int, samples: int, *, tiny_golden_index: int | None = None
) -> np.ndarray:
    """Golden-angle (or tiny golden angle) radial trajectory, angles continuing across frames.

    Spoke ``j`` (counted over all frames) lies at ``j * angle`` modulo 180 degrees from the kx axis towards
    ky, ``angle`` being the golden angle 111.246 degrees or ``tiny_golden_angle_deg(tiny_golden_index)``.
    Along a spoke the radius is ``2 pi (m - samples // 2) / samples``, m = 0..samples-1, so k-space centre
    is sample ``samples // 2`` and ``samples = 2 N`` is 2x readout oversampling for an N x N image.

    Args:
        spokes_per_frame: Spokes in one frame.
        frames: Number of frames.
        samples: Samples along one spoke.
        tiny_golden_index: None for the golden angle, N >= 1 for the N-th tiny golden angle.

    Returns:
        (frames, 2, spokes_per_frame * samples) float32, radians/voxel, (ky, kx), one spoke's samples
        contiguous.
    """
    step = GOLDEN_ANGLE_DEG if tiny_golden_index is None else tiny_golden_angle_deg(tiny_golden_index)
    spoke = np.arange(frames * spokes_per_frame, dtype=np.float64)
    angle = np.deg2rad(np.remainder(spoke * step, 180.0))[:, None]
    radius = (np.arange(samples, dtype=np.float64) - samples // 2) * (2 * np.pi / samples)
    ky, kx = radius * np.sin(angle), radius * np.cos(angle)  # (spokes, samples)
    traj = np.stack([ky, kx]).reshape(2, frames, spokes_per_frame * samples).transpose(1, 0, 2)
    return np.ascontiguousarray(traj, dtype=np.float32)


def radial_acceleration(spokes_per_frame: int, matrix: int) -> float:
    """Nyquist spokes for an N x N image (pi/2 N) over the spokes acquired per frame."""
    return (math.pi / 2 * matrix) / spokes_per_frame


@dataclass(frozen=True)
class PatternSpec:
    """What ``recon simulate-mask`` draws; ``resolved()`` fills defaults and checks the combination.

    Attributes:
        kind: One of ``MASK_KINDS``.
        frames: Frames (a new draw, or new spokes, per frame).
        seed: Seed of the generator.
        shape: Cartesian (ny, nx) matrix.
        acceleration: Cartesian: requested acceleration. Radial: sets the spokes when ``spokes`` is None.
        center_fraction: Cartesian: fraction of columns in the centre block.
        spokes: Radial: spokes per frame.
        samples: Radial: samples per spoke (default ``2 * matrix``).
        matrix: Radial: image size N of an N x N image (default ``max(shape)``, else ``samples // 2``).
        tiny_golden_index: ``tiny-golden-angle``: which tiny golden angle (7 gives 23.63 degrees).
    """

    kind: str
    frames: int = 1
    seed: int = 0
    shape: tuple[int, int] | None = None
    acceleration: float | None = None
    center_fraction: float = 0.08
    spokes: int | None = None
    samples: int | None = None
    matrix: int | None = None
    tiny_golden_index: int = 7

    def resolved(self) -> PatternSpec:
        """A copy with defaults filled in; raises ``UsageError`` for a bad combination."""
        if self.kind not in MASK_KINDS:
            raise UsageError(f"--kind: unknown kind '{self.kind}'; choose from {', '.join(MASK_KINDS)}")
        if self.frames < 1:
            raise UsageError(f"--frames must be >= 1, got {self.frames}")
        if self.kind in CARTESIAN_KINDS:
            return self._resolved_cartesian()
        return self._resolved_radial()

    def _resolved_cartesian(self) -> PatternSpec:
        if self.shape is None or len(self.shape) != 2 or min(self.shape) < 1:
            raise UsageError(f"--kind {self.kind} needs --shape NY,NX with positive sizes")
        if self.acceleration is None:
            raise UsageError(f"--kind {self.kind} needs --acceleration")
        try:
            _check_mask_args(self.shape[1], self.acceleration, self.center_fraction)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        return self

    def _resolved_radial(self) -> PatternSpec:
        matrix = self.matrix or (max(self.shape) if self.shape else None) or (self.samples or 0) // 2
        if matrix < 1:
            raise UsageError(f"--kind {self.kind} needs --matrix N (or --shape, or --samples)")
        if (self.spokes is None) == (self.acceleration is None):
            raise UsageError(f"--kind {self.kind} needs exactly one of --spokes or --acceleration")
        if self.acceleration is not None and self.acceleration <= 0:
            raise UsageError(f"--acceleration must be > 0, got {self.acceleration}")
        spokes = self.spokes
        if spokes is None:  # from the acceleration over Nyquist (pi/2 N spokes)
            spokes = max(1, round(radial_acceleration(1, matrix) / (self.acceleration or 1)))
        samples = self.samples or 2 * matrix
        if spokes < 1 or samples < 2 or self.tiny_golden_index < 1:
            raise UsageError("--spokes and --tiny-index must be >= 1 and --samples >= 2")
        return replace(self, acceleration=None, spokes=spokes, samples=samples, matrix=matrix)

    def params(self) -> dict[str, Any]:
        """The parameters that define the pattern (for the file's attributes and reports)."""
        keep = (
            ("frames", "seed", "shape", "acceleration", "center_fraction")
            if self.kind in CARTESIAN_KINDS
            else ("frames", "seed", "spokes", "samples", "matrix")
        )
        params = {k: v for k, v in asdict(self).items() if k in keep}
        if self.kind == "tiny-golden-angle":
            params["tiny_golden_index"] = self.tiny_golden_index
        return params


def draw_pattern(spec: PatternSpec) -> np.ndarray:
    """The pattern a resolved spec describes.

    Returns:
        Cartesian: (frames, ny, nx) bool mask. Radial: (frames, 2, spokes * samples) float32 trajectory.
    """
    if spec.kind in CARTESIAN_KINDS:
        assert spec.shape is not None and spec.acceleration is not None
        return cartesian_mask(
            spec.kind, spec.shape, spec.acceleration, spec.center_fraction, spec.seed, spec.frames
        )
    assert spec.spokes is not None and spec.samples is not None
    tiny = spec.tiny_golden_index if spec.kind == "tiny-golden-angle" else None
    return golden_angle_radial(spec.spokes, spec.frames, spec.samples, tiny_golden_index=tiny)


@dataclass(frozen=True)
class SimulatedPattern:
    """What ``simulate_pattern`` wrote and what the pattern achieves."""

    path: Path
    png: Path
    spec: PatternSpec
    sampled_fraction: float  # Cartesian: mean of the mask; radial: 1 / acceleration
    acceleration: float  # Cartesian: 1 / sampled fraction; radial: pi/2 N / spokes per frame


def simulate_pattern(spec: PatternSpec, out: Path, *, overwrite: bool = False) -> SimulatedPattern:
    """Draw the pattern of ``spec`` and write it to ``out`` (HDF5) and a PNG beside it.

    Raises:
        UsageError: bad options, or ``out`` not ending in ``.h5``.
        OutputExistsError: an output exists and ``overwrite`` is False (nothing is written then).
    """
    spec = spec.resolved()
    out = Path(out)
    if out.suffix.lower() not in (".h5", ".hdf5"):
        raise UsageError(f"--out must end in .h5 (got '{out.name}')")
    png = out.with_suffix(".png")
    check_writable(out, overwrite)
    check_writable(png, overwrite)
    pattern = draw_pattern(spec)
    if pattern.dtype == bool:
        fraction = float(pattern.mean())
        acceleration = 1.0 / fraction if fraction > 0 else math.inf
    else:
        assert spec.spokes is not None and spec.matrix is not None
        acceleration = radial_acceleration(spec.spokes, spec.matrix)
        fraction = 1.0 / acceleration
    stats = {"sampled_fraction": fraction, "acceleration": acceleration}
    write_pattern(out, pattern, kind=spec.kind, params={**spec.params(), **stats}, overwrite=overwrite)
    write_pattern_png(png, pattern, overwrite=overwrite)
    return SimulatedPattern(out, png, spec, fraction, acceleration)


def write_pattern(
    path: Path | str, pattern: np.ndarray, *, kind: str, params: dict[str, Any], overwrite: bool = False
) -> Path:
    """Write a sampling pattern to HDF5.

    Layout: dataset ``mask`` (frames, ny, nx) bool or ``traj`` (frames, 2, samples) float32 (radians/voxel,
    (ky, kx)); root attributes ``kind``, ``params`` (JSON text of ``params``) and ``seed`` when in params.

    Args:
        path: Output file.
        pattern: bool mask or float trajectory as above.
        kind: The pattern's kind (one of ``MASK_KINDS``).
        params: Parameters that reproduce the pattern.
        overwrite: Replace an existing file.

    Returns:
        The written path.
    """
    import h5py

    path = Path(path)
    name = "mask" if pattern.dtype == bool else "traj"
    data = pattern if name == "mask" else pattern.astype(np.float32, copy=False)
    with atomic_path(path, overwrite=overwrite) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset(name, data=data, compression="gzip", compression_opts=4)
        f.attrs["kind"] = kind
        f.attrs["params"] = json.dumps(params)
        if "seed" in params:
            f.attrs["seed"] = int(params["seed"])
    return path


def write_pattern_png(path: Path | str, pattern: np.ndarray, *, overwrite: bool = False) -> Path:
    """Draw a pattern: masks as white sampled columns (frames tiled), trajectories as frame 0's points.

    Args:
        path: Output ``.png``.
        pattern: (frames, ny, nx) bool mask or (frames, 2, samples) float trajectory in [-pi, pi).
        overwrite: Replace an existing file.

    Returns:
        The written path.
    """
    from PIL import Image

    picture = _mask_picture(pattern) if pattern.dtype == bool else _trajectory_picture(pattern[0])
    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        Image.fromarray(picture).save(tmp, format="PNG")
    return path


def _mask_picture(mask: np.ndarray) -> np.ndarray:
    from recon_cli.io.previews import montage

    tiles = np.where(mask, 255, 0).astype(np.uint8)
    if tiles.shape[0] > 1:  # a grey line right of and below every frame so the tiles stay apart
        tiles = np.pad(tiles, ((0, 0), (0, 1), (0, 1)), constant_values=96)
    return montage(tiles)


def _trajectory_picture(traj: np.ndarray, size: int = 512) -> np.ndarray:
    """(2, samples) (ky, kx) in [-pi, pi) as white points, +ky up, +kx right."""
    scale = (size - 1) / (2 * np.pi)
    rows = np.clip(np.rint((np.pi - traj[0]) * scale), 0, size - 1).astype(np.int64)
    cols = np.clip(np.rint((traj[1] + np.pi) * scale), 0, size - 1).astype(np.int64)
    picture = np.zeros((size, size), dtype=np.uint8)
    picture[rows, cols] = 255
    return picture

"""Write sampling patterns: HDF5 (``mask`` or ``traj`` with the parameters) and a PNG picture."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recon_cli.errors import UsageError
from recon_cli.io.atomic import atomic_path, check_writable
from recon_cli.sampling.spec import PatternSpec, draw_pattern, pattern_statistics


@dataclass(frozen=True)
class SimulatedPattern:
    """What ``simulate_pattern`` wrote and what the pattern achieves."""

    path: Path
    png: Path
    spec: PatternSpec
    sampled_fraction: float  # Cartesian: mean of the mask; radial: 1 / acceleration
    acceleration: float  # Cartesian: 1 / sampled fraction; radial: pi/2 N / spokes per frame


def check_h5_suffix(out: Path, option: str = "--out") -> None:
    """``UsageError`` unless ``out`` ends in ``.h5`` or ``.hdf5``."""
    if out.suffix.lower() not in (".h5", ".hdf5"):
        raise UsageError(f"{option} must end in .h5 (got '{out.name}')")


def simulate_pattern(spec: PatternSpec, out: Path, *, overwrite: bool = False) -> SimulatedPattern:
    """Draw the pattern of ``spec`` and write it to ``out`` (HDF5) and a PNG beside it.

    Raises:
        UsageError: bad options, or ``out`` not ending in ``.h5``.
        OutputExistsError: an output exists and ``overwrite`` is False (nothing is written then).
    """
    spec = spec.resolved()
    out = Path(out)
    check_h5_suffix(out)
    png = out.with_suffix(".png")
    check_writable(out, overwrite)
    check_writable(png, overwrite)
    pattern = draw_pattern(spec)
    fraction, acceleration = pattern_statistics(spec, pattern)
    stats = {"sampled_fraction": fraction, "achieved_acceleration": acceleration}
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
    """Draw a pattern: masks as white sampled points (frames tiled), trajectories as frame 0's points.

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

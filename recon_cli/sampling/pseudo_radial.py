"""Pseudo-radial Cartesian masks: radial lines through the k-space centre rasterised on the grid.

The masks of the compressed-sensing MRI literature that reconstructs on a Cartesian grid (ADMM-Net,
iterative feature refinement): ``lines`` straight lines through the centre point ``(ny // 2, nx // 2)``
at angles ``offset + k * 180 / lines`` degrees from the kx axis towards ky, k = 0..lines-1, each drawn
one grid point per column (or per row, for lines steeper than 45 degrees) at the nearest grid point, so
a line is one point thick and 8-connected. The number of lines is chosen so that the sampled fraction is
as close as possible to the request. Frame ``f`` of a cine is rotated by ``f`` golden angles (modulo the
line spacing), so frames differ and together fill k-space evenly; nothing is random.
"""

from __future__ import annotations

import numpy as np

from recon_cli.sampling.radial import GOLDEN_ANGLE_DEG


def pseudo_radial_mask(shape: tuple[int, int], lines: int, *, offset_deg: float = 0.0) -> np.ndarray:
    """``lines`` radial lines through the centre at uniform angles, rasterised on a (ny, nx) grid.

    Args:
        shape: (ny, nx) k-space matrix; the centre is point (ny // 2, nx // 2).
        lines: Number of lines (>= 1); line k lies at ``offset_deg + k * 180 / lines`` degrees.
        offset_deg: Rotation of the whole pattern, degrees.

    Returns:
        (ny, nx) bool mask.
    """
    if lines < 1:
        raise ValueError(f"pseudo-radial masks need at least one line, got {lines}")
    ny, nx = (int(n) for n in shape)
    cy, cx = ny // 2, nx // 2
    theta = np.deg2rad(offset_deg + np.arange(lines) * 180.0 / lines)
    cos, sin = np.cos(theta), np.sin(theta)
    shallow = np.abs(cos) >= np.abs(sin)
    mask = np.zeros((ny, nx), dtype=bool)
    x = np.arange(nx)  # shallow lines: one point per column
    y = np.rint(cy + (x[None] - cx) * (sin[shallow] / cos[shallow])[:, None]).astype(np.int64)
    _draw(mask, y, np.broadcast_to(x, y.shape))
    y = np.arange(ny)  # steep lines: one point per row
    x = np.rint(cx + (y[None] - cy) * (cos[~shallow] / sin[~shallow])[:, None]).astype(np.int64)
    _draw(mask, np.broadcast_to(y, x.shape), x)
    return mask


def _draw(mask: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> None:
    inside = (rows >= 0) & (rows < mask.shape[0]) & (cols >= 0) & (cols < mask.shape[1])
    mask[rows[inside], cols[inside]] = True


def pseudo_radial_lines(shape: tuple[int, int], fraction: float) -> int:
    """The number of lines whose (unrotated) pseudo-radial mask samples closest to ``fraction``.

    Args:
        shape: (ny, nx) k-space matrix.
        fraction: Requested sampled fraction in (0, 1].

    Returns:
        The line count (>= 1).
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")

    def achieved(n: int) -> float:
        return float(pseudo_radial_mask(shape, n).mean())

    lo, hi = 1, 4 * max(shape)  # the fraction grows (nearly monotonically) with the line count
    while lo < hi:  # first count reaching the fraction
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if achieved(mid) < fraction else (lo, mid)
    candidates = {max(lo - 1, 1), lo}
    return min(sorted(candidates), key=lambda n: abs(achieved(n) - fraction))


def pseudo_radial_frames(shape: tuple[int, int], fraction: float, frames: int = 1) -> np.ndarray:
    """Pseudo-radial masks for ``frames`` frames, frame ``f`` rotated by ``f`` golden angles.

    Args:
        shape: (ny, nx) k-space matrix.
        fraction: Requested sampled fraction in (0, 1]; sets the line count (``pseudo_radial_lines``).
        frames: Number of frames.

    Returns:
        (frames, ny, nx) bool mask; frame 0 has a line along kx.
    """
    lines = pseudo_radial_lines(shape, fraction)
    spacing = 180.0 / lines
    offsets = np.remainder(np.arange(frames) * GOLDEN_ANGLE_DEG, spacing)
    return np.stack([pseudo_radial_mask(shape, lines, offset_deg=float(o)) for o in offsets])

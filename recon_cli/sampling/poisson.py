"""Variable-density Poisson-disc masks on a Cartesian grid.

Every grid point gets a seeded random sub-pixel jitter (uniform in [-0.5, 0.5) per axis) and is visited
once in a seeded random order; it is kept unless a kept point's jittered position lies closer to its own
than its minimum distance ``d(k) = s * r(k)`` grid steps, where ``r(k)`` is the elliptical radius (0 at
the centre point ``(ny // 2, nx // 2)``, 1 at the middle of each edge). The density therefore falls off
from nearly full at the centre as about ``1 / d^2`` (the jitter smooths the steps grid distances would
otherwise give), ``s = 0`` keeps every point, and a fully sampled calibration block is kept first. The
slope ``s`` is bracketed by doubling and then bisected (order and jitter stay fixed, so the count falls
almost monotonically with ``s``) until the number of points is within ``tolerance`` of the request or
the search is spent; the closest mask is returned.

This is the density law of sigpy's ``sigpy.mri.poisson`` (minimum distance growing linearly with |k|),
but sigpy's slope search can loop forever when the requested acceleration falls between two reachable
ones (e.g. 64 x 64, R = 10, calibration 5 x 5, seed 3 with sigpy 0.1.27), so recon uses this bounded
version. Unlike sigpy it does not leave out the corners beyond |k| = 1. The kernel is compiled with
numba (a sigpy dependency).
"""

from __future__ import annotations

import numba
import numpy as np

MAX_SEARCH_STEPS = 48


@numba.njit(cache=True)
def _throw_darts(
    order: np.ndarray, jitter: np.ndarray, distance: np.ndarray, mask: np.ndarray
) -> int:  # pragma: no cover
    """Keep each point of ``order`` (flat indices) with no kept point within its ``distance``.

    Distances are measured between the points' jittered positions (grid position plus ``jitter``
    (2, ny, nx)). ``mask`` (ny, nx) holds the points kept before (the calibration block) and is filled
    in place. Returns the number of points kept in all.
    """
    ny, nx = mask.shape
    kept = 0
    for yy in range(ny):
        for xx in range(nx):
            kept += mask[yy, xx]
    for flat in order:
        y, x = flat // nx, flat % nx
        if mask[y, x]:
            continue
        d = distance[y, x]
        reach = int(d) + 1
        qy, qx = y + jitter[0, y, x], x + jitter[1, y, x]
        free = True
        for yy in range(max(y - reach, 0), min(y + reach + 1, ny)):
            for xx in range(max(x - reach, 0), min(x + reach + 1, nx)):
                dy, dx = yy + jitter[0, yy, xx] - qy, xx + jitter[1, yy, xx] - qx
                if mask[yy, xx] and dy * dy + dx * dx < d * d:
                    free = False
                    break
            if not free:
                break
        if free:
            mask[y, x] = True
            kept += 1
    return kept


def _elliptical_radius(shape: tuple[int, int]) -> np.ndarray:
    ny, nx = shape
    y = (np.arange(ny) - ny // 2) / max(ny / 2, 1)
    x = (np.arange(nx) - nx // 2) / max(nx / 2, 1)
    return np.hypot(y[:, None], x[None, :])


def variable_density_poisson(
    shape: tuple[int, int],
    count: int,
    calibration: tuple[slice, slice],
    rng: np.random.Generator,
    *,
    tolerance: float = 0.01,
) -> np.ndarray:
    """A Poisson-disc mask with about ``count`` points (see the module docstring).

    Args:
        shape: (ny, nx) grid.
        count: Requested number of sampled points.
        calibration: (rows, columns) of the fully sampled block.
        rng: Generator of the visiting order and the jitter (one permutation, then 2 ny nx uniforms).
        tolerance: Stop when the count is within this fraction of the request (or one point).

    Returns:
        (ny, nx) bool mask, the closest to ``count`` found.
    """
    order = rng.permutation(shape[0] * shape[1]).astype(np.int64)
    jitter = rng.uniform(-0.5, 0.5, size=(2, *shape))
    radius = _elliptical_radius(shape)
    seed_mask = np.zeros(shape, dtype=np.bool_)
    seed_mask[calibration] = True

    def draw(slope: float) -> tuple[int, np.ndarray]:
        mask = seed_mask.copy()
        return _throw_darts(order, jitter, slope * radius, mask), mask

    def done(kept: int) -> bool:
        return abs(kept - count) <= max(tolerance * count, 1.0)

    low, high = 0.0, 1.0  # slope 0 keeps every point; double the slope until too few remain
    best = draw(high)
    kept, steps = best[0], 1
    while kept > count and not done(kept) and steps < MAX_SEARCH_STEPS:
        low, high = high, 2.0 * high
        kept, mask = draw(high)
        best, steps = min(best, (kept, mask), key=lambda b: abs(b[0] - count)), steps + 1
    while not done(best[0]) and steps < MAX_SEARCH_STEPS:  # count(low) > count >= count(high)
        slope = 0.5 * (low + high)
        kept, mask = draw(slope)
        best, steps = min(best, (kept, mask), key=lambda b: abs(b[0] - count)), steps + 1
        low, high = (slope, high) if kept > count else (low, slope)
    return best[1]

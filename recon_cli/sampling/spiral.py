"""Variable-density Archimedean spiral trajectories (radians/voxel, torchkbnufft's ``omega``)."""

from __future__ import annotations

import math

import numpy as np

from recon_cli.sampling.radial import GOLDEN_ANGLE_DEG


def spiral(
    interleaves: int,
    frames: int,
    samples: int,
    matrix: int,
    *,
    acceleration: float = 1.0,
    density: float = 1.5,
) -> np.ndarray:
    """Interleaved variable-density Archimedean spiral; deterministic (no random choices).

    Along an interleave, with t = m / samples for m = 0..samples-1 and tau = t ** density, the radius is
    ``pi * tau`` (k-space centre to the edge of an N x N grid) and the angle ``2 pi turns tau`` plus the
    interleave's offset; ``density > 1`` spends more samples near the centre, ``density = 1`` is a plain
    Archimedean spiral. ``turns = matrix / (2 interleaves acceleration)`` makes the gap between
    neighbouring turns of all interleaves the Nyquist distance 2 pi / matrix (for density 1) divided by
    ``1 / acceleration``. Interleaves are spread evenly over 2 pi; every frame is rotated by the golden
    angle from the previous one, so consecutive frames sample new directions.

    Args:
        interleaves: Interleaves per frame.
        frames: Number of frames.
        samples: Samples along one interleave.
        matrix: Image size N the trajectory is meant for (sets the number of turns).
        acceleration: Undersampling factor of the outer k-space (>= 1 undersamples, 1 is Nyquist).
        density: Exponent of the variable density (>= 1).

    Returns:
        (frames, 2, interleaves * samples) float32, radians/voxel in [-pi, pi), (ky, kx), one
        interleave's samples contiguous.

    Raises:
        ValueError: a size below 1, ``acceleration`` <= 0 or ``density`` < 1.
    """
    if min(interleaves, frames, samples, matrix) < 1 or acceleration <= 0 or density < 1:
        raise ValueError(
            "spiral needs interleaves, frames, samples, matrix >= 1, acceleration > 0, density >= 1"
        )
    turns = matrix / (2.0 * interleaves * acceleration)
    tau = (np.arange(samples, dtype=np.float64) / samples) ** density
    radius = math.pi * tau
    offsets = 2 * np.pi * np.arange(interleaves) / interleaves  # (interleaves,)
    frame_turn = np.deg2rad(GOLDEN_ANGLE_DEG) * np.arange(frames)  # (frames,)
    angle = 2 * np.pi * turns * tau + offsets[None, :, None] + frame_turn[:, None, None]
    ky, kx = radius * np.sin(angle), radius * np.cos(angle)  # (frames, interleaves, samples)
    traj = np.stack([ky, kx], axis=1).reshape(frames, 2, interleaves * samples)
    traj = np.clip(traj, -math.pi, math.pi * (1 - 1e-6))  # keep the half-open range [-pi, pi)
    return np.ascontiguousarray(traj, dtype=np.float32)

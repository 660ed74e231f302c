"""Golden-angle and tiny-golden-angle radial trajectories (radians/voxel, torchkbnufft's ``omega``)."""

from __future__ import annotations

import math

import numpy as np

GOLDEN_RATIO = (1.0 + math.sqrt(5.0)) / 2.0
GOLDEN_ANGLE_DEG = 180.0 / GOLDEN_RATIO  # 111.246... degrees


def tiny_golden_angle_deg(index: int) -> float:
    """Angle between spokes of the ``index``-th tiny golden angle, ``180 / (phi + index - 1)`` degrees.

    ``index = 1`` is the golden angle (111.246), 2 gives 68.755, 7 gives 23.628 (Wundrak et al., MRM 2016).
    """
    if index < 1:
        raise ValueError(f"tiny golden angle index must be >= 1, got {index}")
    return 180.0 / (GOLDEN_RATIO + index - 1)


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

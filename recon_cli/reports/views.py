"""Which 2-D views of a ``(slices, frames, ny, nx)`` volume the report shows.

Images: the middle slice (``slices // 2``) at the middle frame (``frames // 2``). Cine temporal profiles
(x-t images) follow one image row over all frames, through one chosen point:

* ``"center"``: the image centre ``(ny // 2, nx // 2)`` (the default);
* ``"motion"``: the pixel where the reference's temporal standard deviation, smoothed with a Gaussian of
  ``MOTION_SMOOTHING_PX``, is largest. In cardiac cine that is the beating heart, so the profile shows
  the heart wall moving; smoothing keeps a single noisy pixel from winning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PROFILE_CHOICES = ("center", "motion")
MOTION_SMOOTHING_PX = 2.0


@dataclass(frozen=True)
class View:
    """A slice, a frame, and for cine the profile line (row ``point[0]``) through ``point`` (y, x)."""

    slice: int
    frame: int
    point: tuple[int, int]
    profile: str
    description: str


def choose_view(reference: np.ndarray, profile: str = "center") -> View:
    """The slice, frame and profile point shown for a volume.

    Args:
        reference: (slices, frames, ny, nx) real reference magnitudes.
        profile: "center" or "motion" (see the module docstring).

    Returns:
        The view; ``description`` says in words how the point was chosen, for captions.

    Raises:
        ValueError: unknown ``profile``.
    """
    if profile not in PROFILE_CHOICES:
        raise ValueError(f"profile must be one of {', '.join(PROFILE_CHOICES)}; got {profile!r}")
    n_slices, n_frames, ny, nx = reference.shape
    index = n_slices // 2
    if profile == "center" or n_frames == 1:
        point = (ny // 2, nx // 2)
        description = f"through the image centre (y = {point[0]}, x = {point[1]})"
    else:
        point = motion_pixel(reference[index])
        description = (
            f"through (y = {point[0]}, x = {point[1]}), the pixel of maximum temporal standard deviation "
            f"of the reference (smoothed, Gaussian sigma {MOTION_SMOOTHING_PX:g} px): in cardiac cine, "
            "through the beating heart"
        )
    return View(index, n_frames // 2, point, profile, description)


def motion_pixel(frames: np.ndarray, smoothing_px: float = MOTION_SMOOTHING_PX) -> tuple[int, int]:
    """The (y, x) of the largest smoothed temporal standard deviation.

    Args:
        frames: (frames, ny, nx) real magnitudes of one slice.
        smoothing_px: Gaussian sigma applied to the standard-deviation map (0: none).

    Returns:
        (y, x) integer pixel indices.
    """
    from scipy.ndimage import gaussian_filter

    spread = np.std(np.asarray(frames, dtype=np.float64), axis=0)
    if smoothing_px > 0:
        spread = gaussian_filter(spread, sigma=smoothing_px, mode="nearest")
    y, x = np.unravel_index(int(np.argmax(spread)), spread.shape)
    return int(y), int(x)


def xt_profile(frames: np.ndarray, row: int) -> np.ndarray:
    """The x-t image of one row over time.

    Args:
        frames: (frames, ny, nx) real.
        row: Image row (y index).

    Returns:
        (nx, frames): x down, time across, as the profile is drawn.
    """
    return np.asarray(frames)[:, row, :].T

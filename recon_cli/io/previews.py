"""Quick-look previews: a PNG montage of the slices and an animated GIF over the frames.

Magnitudes are scaled to 8 bits so that the 99.5th percentile maps to 255 (brighter pixels clip), one
scale for the whole preview so slices and frames compare. Images are shown as stored: row 0 at the top.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from recon_cli.io.atomic import atomic_path
from recon_cli.io.geometry import magnitude

DEFAULT_FRAME_TIME_MS = 50.0
_PERCENTILE = 99.5


def montage(array: np.ndarray) -> np.ndarray:
    """Tile images on a near-square grid, row by row, padding empty tiles with zeros.

    Args:
        array: ``(n, ny, nx)`` real array.

    Returns:
        ``(rows * ny, cols * nx)`` array of the same dtype, ``cols = ceil(sqrt(n))``,
        ``rows = ceil(n / cols)``.
    """
    array = np.asarray(array)
    if array.ndim != 3 or array.shape[0] == 0:
        raise ValueError(f"montage needs (n, ny, nx) with n >= 1; got shape {array.shape}")
    n, ny, nx = array.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    tiles = np.zeros((rows * cols, ny, nx), dtype=array.dtype)
    tiles[:n] = array
    return tiles.reshape(rows, cols, ny, nx).transpose(0, 2, 1, 3).reshape(rows * ny, cols * nx)


def to_uint8(mag: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Map magnitudes to 0..255 with ``scale`` (default: their 99.5th percentile) as white.

    Args:
        mag: real array, any shape.
        scale: the value shown as 255.

    Returns:
        uint8 array of the same shape.
    """
    if scale is None:
        scale = _white_level(mag)
    return np.clip(np.rint(mag / scale * 255.0), 0, 255).astype(np.uint8)


def write_png_preview(path: Path | str, images: Any, *, overwrite: bool = False) -> Path:
    """Write an 8-bit PNG montage of all slices at the middle frame.

    Args:
        path: Output file (``.png``).
        images: ``(slices, frames, ny, nx)`` complex or real tensor/array.
        overwrite: Replace an existing file.

    Returns:
        The written path.
    """
    from PIL import Image

    mag = magnitude(images)
    tile = montage(mag[:, mag.shape[1] // 2])
    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        Image.fromarray(to_uint8(tile)).save(tmp, format="PNG")
    return path


def write_gif(
    path: Path | str, images: Any, *, frame_time_ms: float | None = None, overwrite: bool = False
) -> Path:
    """Write an animated GIF over frames, each frame a montage of all slices, looping forever.

    Args:
        path: Output file (``.gif``).
        images: ``(slices, frames, ny, nx)`` complex or real tensor/array.
        frame_time_ms: Display time of one frame (default 50 ms; GIF stores multiples of 10 ms).
        overwrite: Replace an existing file.

    Returns:
        The written path.
    """
    from PIL import Image

    mag = magnitude(images)
    scale = _white_level(mag)
    frames = [Image.fromarray(to_uint8(montage(mag[:, f]), scale)) for f in range(mag.shape[1])]
    duration = int(round(frame_time_ms if frame_time_ms else DEFAULT_FRAME_TIME_MS))
    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=duration, loop=0)
    return path


def _white_level(mag: np.ndarray) -> float:
    level = float(np.percentile(mag, _PERCENTILE)) if mag.size else 0.0
    if level <= 0:
        level = float(mag.max()) if mag.size else 0.0
    return level if level > 0 else 1.0

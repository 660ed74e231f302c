"""Real anatomy for training and benchmarks: slices of the MNI ICBM152 brain template.

The template (ICBM 2009a nonlinear symmetric T1, 1 mm, skull-stripped; Fonov et al., NeuroImage 2011) is
not shipped by recon: it comes inside the ``nilearn`` wheel from PyPI (``pip install nilearn``, part of
recon's ``test`` and ``bench`` extras), so nothing is downloaded at run time. The file is located through
the package's installed-file metadata; nilearn itself is never imported.

Slices are axial, oriented for display (anterior at the top, the patient's left on the image right),
padded to a square field of view and resampled to ``size`` x ``size`` with anti-aliasing, then scaled so
the template's brightest voxel is 1. Every fifth slice (index 0, 5, 10, ...) is held out: the
``train`` part never contains a slice of the ``test`` part.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from recon_cli.errors import UsageError

TEMPLATE_PACKAGE = "nilearn"
TEMPLATE_FILE = "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
PARTS = ("train", "test", "all")
HOLDOUT_EVERY = 5
MIN_BRAIN_FRACTION = 0.05  # slices with less brain than this share of the field of view are skipped


def brain_template_path() -> Path:
    """Path of the MNI152 T1 template inside the installed ``nilearn`` distribution.

    Raises:
        UsageError: nilearn is not installed (the message says how to install it).
    """
    from importlib import metadata

    try:
        files = metadata.files(TEMPLATE_PACKAGE) or []
    except metadata.PackageNotFoundError:
        files = []
    for f in files:
        if f.name == TEMPLATE_FILE:
            path = Path(str(f.locate()))
            if path.is_file():
                return path
    raise UsageError(
        f"the brain template needs the '{TEMPLATE_PACKAGE}' package (pip install {TEMPLATE_PACKAGE}), "
        f"which ships {TEMPLATE_FILE}"
    )


@functools.lru_cache(maxsize=4)
def _axial_slices(size: int) -> np.ndarray:
    import nibabel as nib

    image = nib.as_closest_canonical(nib.load(brain_template_path()))  # voxel axes RAS: +x right, +y anterior
    volume = np.asarray(image.dataobj, dtype=np.float32)
    volume /= float(volume.max())
    # Display orientation: rows from anterior to posterior (y descending), columns from the patient's
    # right to left (x descending; radiological convention), one axial slice per z.
    axial = np.ascontiguousarray(np.transpose(volume, (2, 1, 0))[:, ::-1, ::-1])
    brain = (axial > 0.08).mean(axis=(1, 2))
    axial = axial[brain >= MIN_BRAIN_FRACTION]
    n_slices, ny, nx = axial.shape
    side = max(ny, nx)
    padded = np.zeros((n_slices, side, side), dtype=np.float32)
    top, left = (side - ny) // 2, (side - nx) // 2
    padded[:, top : top + ny, left : left + nx] = axial
    resized = torch.nn.functional.interpolate(
        torch.from_numpy(padded)[:, None],
        size=(size, size),
        mode="bilinear",
        antialias=True,
        align_corners=False,
    )[:, 0]
    return resized.clamp_min(0.0).numpy()


def brain_slices(size: int = 128, part: str = "all") -> torch.Tensor:
    """Axial slices of the brain template.

    Args:
        size: Output matrix (size x size); the template's 233 mm square field of view is resampled to it.
        part: "train" (4 of every 5 slices), "test" (every fifth, held out) or "all".

    Returns:
        (slices, size, size) float32 magnitude images in [0, 1].
    """
    if part not in PARTS:
        raise UsageError(f"brain slices: part must be one of {', '.join(PARTS)}, got {part!r}")
    if size < 8:
        raise UsageError(f"brain slices: size must be >= 8, got {size}")
    slices = torch.from_numpy(_axial_slices(int(size)).copy())
    index = torch.arange(slices.shape[0])
    if part == "train":
        slices = slices[index % HOLDOUT_EVERY != 0]
    elif part == "test":
        slices = slices[index % HOLDOUT_EVERY == 0]
    return slices.contiguous()


def smooth_phase(shape: tuple[int, int], generator: torch.Generator, max_rad: float = np.pi) -> torch.Tensor:
    """A random smooth phase map (low-order polynomial in x and y). Returns (ny, nx) complex64 of unit
    magnitude: multiply a magnitude image by it to get a realistic complex image."""
    ny, nx = shape
    y, x = torch.meshgrid(torch.linspace(-1, 1, ny), torch.linspace(-1, 1, nx), indexing="ij")
    c = (torch.rand(6, generator=generator) * 2 - 1) * max_rad / 3
    phase = c[0] + c[1] * x + c[2] * y + c[3] * x * y + c[4] * x**2 + c[5] * y**2
    return torch.polar(torch.ones_like(phase), phase).to(torch.complex64)

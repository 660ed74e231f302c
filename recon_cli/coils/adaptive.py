"""Image-domain coil sensitivities from low-resolution coil images: Walsh's adaptive combine, Inati's
fast iterative version, and sum-of-squares normalisation.

Walsh (MRM 43:682, 2000): per pixel, the dominant eigenvector of the coil covariance ``m m^H`` averaged
over a ``smoothing`` x ``smoothing`` block. Inati, Hansen and Kellman (ISMRM 2014, p. 4407) reach the
same vector without forming the covariance: alternately smooth ``m * conj(rho)`` and recombine
``rho = s^H m``. Walsh and Inati work on a coarse ``grid`` (the calibration images are low resolution
anyway) and are cubic-interpolated to the image grid; ``smoothing`` is in pixels of that grid.
"""

from __future__ import annotations

import torch

from recon_cli.coils.common import (
    align_phase,
    box_smooth,
    coil_norm,
    cubic_resample,
    dominant_eigenvector,
    fit_centre,
    principal_component,
    scale_complex,
)
from recon_cli.ops.functional import ifft2c

BACKGROUND = 1e-3  # maps are zero where the calibration image is below this fraction of its maximum


def calibration_images(block: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Low-resolution coil images: the calibration block zero-padded to ``shape`` and inverse-FFT'd.

    Args:
        block: (..., C, by, bx) complex k-space centre.
        shape: (gy, gx) image grid over the field of view.

    Returns:
        (..., C, gy, gx) complex64.
    """
    return ifft2c(fit_centre(block.to(torch.complex64), shape))


def sos_maps(images: torch.Tensor) -> torch.Tensor:
    """Coil images divided by their root-sum-of-squares, zero in the background.

    Args:
        images: (..., C, ny, nx) complex coil images.

    Returns:
        (..., C, ny, nx) complex64 (they keep the object's phase).
    """
    images = images.to(torch.complex64)
    norm = coil_norm(images)
    keep = norm > norm.amax(dim=(-2, -1), keepdim=True) * BACKGROUND
    return scale_complex(images, keep / norm.clamp_min(torch.finfo(norm.dtype).tiny))


def walsh_maps(
    images: torch.Tensor, shape: tuple[int, int], *, smoothing: int = 5, iterations: int = 8
) -> torch.Tensor:
    """Walsh's adaptive-combine maps, phase-aligned to the images' first principal component.

    Args:
        images: (..., C, gy, gx) complex low-resolution coil images.
        shape: (ny, nx) output grid.
        smoothing: odd block size (pixels of the images' grid).
        iterations: power-method steps per pixel, started from the principal component.

    Returns:
        (..., C, ny, nx) complex64, unit norm over coils, zero in the background.
    """
    cov = box_smooth(images.unsqueeze(-3) * images.unsqueeze(-4).conj(), smoothing)  # (..., C, C, gy, gx)
    cov = cov.movedim(-4, -1).movedim(-4, -1)  # (..., gy, gx, C, C)
    reference = principal_component(images.flatten(-2))
    vectors, _ = dominant_eigenvector(cov, iterations, reference[..., None, None, :])
    vectors = align_phase(vectors.movedim(-1, -3), reference)
    return _finish(vectors, images, shape)


def inati_maps(
    images: torch.Tensor, shape: tuple[int, int], *, smoothing: int = 5, iterations: int = 5
) -> torch.Tensor:
    """Inati's fast iterative adaptive-combine maps, phase-aligned like ``walsh_maps``.

    Args:
        images, shape, smoothing: as in ``walsh_maps``.
        iterations: number of smooth-and-recombine steps.

    Returns:
        as ``walsh_maps``.
    """
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    reference = principal_component(images.flatten(-2))
    combined = torch.einsum("...cyx,...c->...yx", images, reference.conj())
    vectors = images
    for _ in range(iterations):
        vectors = box_smooth(images * combined.conj().unsqueeze(-3), smoothing)
        vectors = scale_complex(vectors, 1 / coil_norm(vectors).clamp_min(torch.finfo(torch.float32).tiny))
        vectors = align_phase(vectors, reference)
        combined = (vectors.conj() * images).sum(-3)
    return _finish(vectors, images, shape)


def _finish(vectors: torch.Tensor, images: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Interpolate unit vectors to ``shape``, renormalise, zero the background."""
    maps = cubic_resample(vectors.to(torch.complex64), shape)
    signal = cubic_resample(coil_norm(images), shape)
    keep = signal > signal.amax(dim=(-2, -1), keepdim=True) * BACKGROUND
    return scale_complex(maps, keep / coil_norm(maps).clamp_min(torch.finfo(signal.dtype).tiny))

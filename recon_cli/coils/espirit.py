"""ESPIRiT coil sensitivities (Uecker et al., MRM 71:990, 2014) in torch, batched over slices.

1. Calibration matrix: every ``k x k`` patch (all coils) of the fully sampled calibration block is a row.
2. Its right singular vectors with singular value above ``threshold`` x the largest span the signal
   subspace (from the eigendecomposition of the small Gram matrix ``A^H A``).
3. Image-space kernels: each subspace vector zero-padded and inverse-FFT'd. Their per-pixel Gram
   matrix ``W(x) = sum_n h_n(x) h_n(x)^H / k^2`` (coils x coils, eigenvalues <= 1) has k-space support
   ``2k - 1``, so computing it on a ``2k`` grid and Fourier-interpolating is exact (as BART does).
4. Per pixel, the dominant eigenvector of ``W(x)`` by BART's power method (30 steps from the first
   coil), done by repeated squaring on a coarse grid (``grid``, about ``11 k`` samples per axis: 66
   for ``k = 6``), phase-aligned to the first principal component of the calibration data (BART's
   convention), then cubic-interpolated to the image grid. Pixels whose eigenvalue is at most ``crop``
   are zeroed, except pinholes: the crop is there to cut the background around the object, but along
   a sharp bright edge inside the support (the skull ring of a phantom) the eigenvalue can dip just
   below the crop (0.943-0.948 against 0.95 on BART's undersampled phantom) over a strip one pixel
   wide, which would leave signal pixels with zero sensitivity (exactly zero in every SENSE-type
   image). So the kept region is closed with a 3 x 3 square (notches one pixel wide) and its enclosed
   holes are filled (``support_mask``); BART's ``ecalib`` keeps those pixels at its default crop 0.8.

Parameters follow sigpy's ``EspiritCalib``; BART's ``ecalib -t`` compares singular values with the
square root of its argument, so ``threshold=t`` here equals ``bart ecalib -t t**2``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from recon_cli.coils.calibration import calibration_block
from recon_cli.coils.common import (
    align_phase,
    coil_norm,
    cubic_resample,
    dominant_eigenvector,
    fit_centre,
    pad_centre,
    principal_component,
    scale_complex,
)
from recon_cli.errors import UsageError
from recon_cli.ops.functional import fft2c, ifft2c

GRID_PER_KERNEL = 11  # eigen-grid samples per axis per kernel width (66 for the usual 6)
BACKENDS = ("torch", "sigpy")


def espirit_maps(
    calib: torch.Tensor,
    *,
    calib_width: int = 24,
    kernel_width: int = 6,
    threshold: float = 0.02,
    crop: float = 0.95,
    iterations: int = 30,
    grid: int | None = None,
    backend: str = "torch",
) -> torch.Tensor:
    """One set of ESPIRiT maps per calibration k-space, on its device.

    Args:
        calib: (..., coils, ny, nx) complex k-space, zero where not sampled; the largest fully sampled
            centred block of at most ``calib_width`` x ``calib_width`` is used.
        calib_width: calibration block size (BART ``-r``).
        kernel_width: kernel size (BART ``-k``).
        threshold: keep singular vectors above ``threshold`` x the largest singular value.
        crop: zero pixels whose eigenvalue is at most this (BART ``-c``).
        iterations: power-method steps per pixel (BART uses 30).
        grid: eigendecomposition grid per axis; None for ``GRID_PER_KERNEL * kernel_width`` rounded up to
            even, at most the image size (the image size itself is exact and slower).
        backend: "torch", or "sigpy" (``sigpy.mri.app.EspiritCalib``, CPU, a cross-check).

    Returns:
        (..., coils, ny, nx) complex64: unit norm over coils inside the crop, zero outside.
    """
    if backend not in BACKENDS:
        raise UsageError(f"unknown ESPIRiT backend '{backend}'; choose from {', '.join(BACKENDS)}")
    if backend == "sigpy":
        return _sigpy_maps(calib, calib_width, kernel_width, threshold, crop)
    lead, (coils, ny, nx) = calib.shape[:-3], calib.shape[-3:]
    calib = calib.reshape(-1, coils, ny, nx).to(torch.complex64)
    block = calibration_block(calib, calib_width)
    kernels = signal_kernels(block, kernel_width, threshold)
    if grid is None:
        grid = 2 * math.ceil(GRID_PER_KERNEL * kernel_width / 2)
    shape = (min(grid, ny), min(grid, nx))
    cov = kernel_covariance(kernels, shape)  # (B, gy, gx, C, C)
    vectors, eigenvalues = dominant_eigenvector(cov, iterations)
    vectors = align_phase(vectors.movedim(-1, -3), principal_component(block.flatten(-2)))
    maps = cubic_resample(vectors, (ny, nx))
    eigenvalues = cubic_resample(eigenvalues, (ny, nx))
    keep = support_mask(eigenvalues > crop).unsqueeze(-3)
    norm = coil_norm(maps).clamp_min(torch.finfo(eigenvalues.dtype).tiny)
    maps = scale_complex(maps, keep / norm)  # unit norm over coils inside the crop, zero outside
    return maps.reshape(*lead, coils, ny, nx)


def support_mask(keep: torch.Tensor) -> torch.Tensor:
    """The crop mask without pinholes: closed with a 3 x 3 square, enclosed holes filled.

    Args:
        keep: (B, ny, nx) bool, eigenvalue above the crop.

    Returns:
        (B, ny, nx) bool on ``keep``'s device, a superset of ``keep``.
    """
    from scipy import ndimage

    square = np.ones((3, 3), bool)
    masks = []
    for entry in keep.cpu().numpy():
        closed = entry | ndimage.binary_closing(entry, square, border_value=0)
        masks.append(ndimage.binary_fill_holes(closed))
    return torch.from_numpy(np.stack(masks)).to(keep.device) if masks else keep


def signal_kernels(block: torch.Tensor, kernel_width: int, threshold: float) -> torch.Tensor:
    """k-space kernels spanning the calibration matrix's signal subspace.

    Args:
        block: (B, C, by, bx) fully sampled calibration k-space.
        kernel_width: k.
        threshold: relative singular-value threshold.

    Returns:
        (B, n, C, k, k) complex64; n is the largest count kept over the batch, and kernels beyond a batch
        entry's own count are zero.
    """
    batch, coils, by, bx = block.shape
    k = int(kernel_width)
    if by < k or bx < k:
        raise UsageError(
            f"the fully sampled calibration region is {by} x {bx}, smaller than the ESPIRiT kernel width "
            f"{k}; lower --kernel-width"
        )
    patches = block.unfold(-2, k, 1).unfold(-2, k, 1)  # (B, C, py, px, k, k)
    matrix = patches.permute(0, 2, 3, 1, 4, 5).reshape(batch, -1, coils * k * k)
    eigenvalues, vectors = torch.linalg.eigh(matrix.mH @ matrix)  # ascending
    singular = eigenvalues.flip(-1).clamp_min(0).sqrt()
    if bool((singular[:, 0] <= 0).any()):
        raise UsageError("the calibration data is all zero: no signal to estimate coil maps from")
    keep = singular > threshold * singular[:, :1]
    n = int(keep.sum(-1).max())
    vectors = vectors.flip(-1)[..., :n] * keep[:, None, :n]
    # the patches (rows) lie in the span of the conjugated right singular vectors
    return vectors.mH.reshape(batch, n, coils, k, k)


def kernel_covariance(kernels: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Per-pixel Gram matrix of the image-space kernels, Fourier-interpolated to ``shape``.

    Args:
        kernels: (B, n, C, k, k) complex k-space kernels.
        shape: (gy, gx) output grid over the field of view.

    Returns:
        (B, gy, gx, C, C) complex64 Hermitian, eigenvalues in [0, 1].
    """
    k = kernels.shape[-1]
    size = 2 * k  # holds the Gram matrix's k-space support (2k - 1) without aliasing
    images = ifft2c(pad_centre(kernels, (size, size))) * size  # unnormalised inverse DFT
    images = images.permute(0, 3, 4, 2, 1)  # (B, size, size, C, n)
    cov = (images @ images.mH) / (k * k)
    spectrum = fft2c(cov.permute(0, 3, 4, 1, 2))  # (B, C, C, size, size)
    cov = ifft2c(fit_centre(spectrum, shape)) * (math.sqrt(shape[0] * shape[1]) / size)
    return cov.permute(0, 3, 4, 1, 2).contiguous()


def _sigpy_maps(
    calib: torch.Tensor, calib_width: int, kernel_width: int, threshold: float, crop: float
) -> torch.Tensor:
    """sigpy's EspiritCalib on each (coils, ny, nx) entry, on the CPU."""
    import sigpy.mri

    flat = calib.reshape(-1, *calib.shape[-3:]).cpu().numpy().astype(np.complex64)
    maps = [
        np.asarray(
            sigpy.mri.app.EspiritCalib(
                k,
                calib_width=calib_width,
                kernel_width=kernel_width,
                thresh=threshold,
                crop=crop,
                show_pbar=False,
            ).run()
        )
        for k in flat
    ]
    out = torch.from_numpy(np.stack(maps).astype(np.complex64))
    return out.reshape(calib.shape).to(calib.device)

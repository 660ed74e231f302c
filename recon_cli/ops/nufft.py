"""Non-uniform FFT pieces built on torchkbnufft.

Trajectories are in radians/voxel in [-pi, pi), shape ``(batch, 2, samples)`` ordered (ky, kx) for an image
of shape ``(ny, nx)``, which is torchkbnufft's ``omega`` convention.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


# torchkbnufft's "ortho" normalises by the oversampled grid; with a 2x grid in 2D that leaves a factor
# 1/2 against the centred orthonormal FFT. Undo it so NUFFT and fft2c agree on Cartesian points.
_GRID_OVERSAMPLING = 2
_GRID_SCALE = float(_GRID_OVERSAMPLING)


def _nufft_modules(im_size: Sequence[int], device: torch.device):
    import torchkbnufft as tkbn

    im_size = tuple(int(n) for n in im_size)
    grid = tuple(_GRID_OVERSAMPLING * n for n in im_size)
    forward = tkbn.KbNufft(im_size=im_size, grid_size=grid).to(device)
    adjoint = tkbn.KbNufftAdjoint(im_size=im_size, grid_size=grid).to(device)
    return forward, adjoint


def pipe_menon_dcf(traj: torch.Tensor, im_size: Sequence[int], iterations: int = 10) -> torch.Tensor:
    """Pipe-Menon density compensation. traj: (batch, 2, samples) float -> (batch, 1, samples) float.

    Scaled so that gridding a constant k-space of ones with ``nufft_adjoint`` gives the right DC level
    for a fully sampled trajectory (weights sum to the number of image pixels, as the Cartesian sum does).
    """
    import torchkbnufft as tkbn

    dcf = tkbn.calc_density_compensation_function(traj, im_size=tuple(im_size), num_iterations=iterations)
    dcf = dcf.real if dcf.is_complex() else dcf
    dcf = dcf.reshape(traj.shape[0], 1, traj.shape[-1])
    return _normalise_dcf(dcf, im_size)


def ramp_dcf(traj: torch.Tensor, im_size: Sequence[int]) -> torch.Tensor:
    """Analytic radial ramp |k| (with the centre sample given a small positive weight).

    traj: (batch, 2, samples) -> (batch, 1, samples).
    """
    radius = torch.linalg.vector_norm(traj, dim=1, keepdim=True)
    floor = math.pi / max(im_size) / 2
    return _normalise_dcf(torch.clamp(radius, min=floor), im_size)


def _normalise_dcf(dcf: torch.Tensor, im_size: Sequence[int]) -> torch.Tensor:
    """Scale each batch entry so its weights sum to the area of k-space it covers, in Cartesian samples."""
    n_pixels = float(math.prod(int(n) for n in im_size))
    total = dcf.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(dcf.dtype).tiny)
    return dcf * (n_pixels * math.pi / 4 / total)


def nufft_adjoint(
    kspace: torch.Tensor, traj: torch.Tensor, im_size: Sequence[int], dcf: torch.Tensor | None = None
) -> torch.Tensor:
    """Adjoint NUFFT (gridding). kspace: (batch, coils, samples) complex; traj: (batch, 2, samples).

    Returns coil images (batch, coils, ny, nx) complex, orthonormally scaled so that with a density
    compensation normalised by ``pipe_menon_dcf`` the result matches the inverse FFT of fully sampled
    Cartesian data.
    """
    _, adjoint = _nufft_modules(im_size, kspace.device)
    data = kspace if dcf is None else kspace * dcf.to(kspace.dtype)
    return adjoint(data, traj.to(torch.float32), norm="ortho") * _GRID_SCALE


def nufft_forward(image: torch.Tensor, traj: torch.Tensor) -> torch.Tensor:
    """Forward NUFFT. image: (batch, coils, ny, nx) complex; traj: (batch, 2, samples) -> (batch, coils, samples)."""
    forward, _ = _nufft_modules(image.shape[-2:], image.device)
    return forward(image, traj.to(torch.float32), norm="ortho") * _GRID_SCALE

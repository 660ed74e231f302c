"""Non-Cartesian multi-coil operator and density compensation, built on torchkbnufft.

Trajectories are in radians/voxel in [-pi, pi), shape ``(frames or 1, 2, samples)`` ordered (ky, kx) for
an image of shape ``(ny, nx)``: torchkbnufft's ``omega`` convention. The NUFFT is scaled so that on
Cartesian points it equals the centred orthonormal FFT (``fft2c``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from recon_cli.ops.base import LinearOperator
from recon_cli.ops.functional import sense_expand, sense_reduce

# torchkbnufft's "ortho" normalises by the oversampled grid; with a 2x grid in 2D that leaves a factor
# 1/2 against the centred orthonormal FFT. Undo it so NUFFT and fft2c agree on Cartesian points.
_GRID_OVERSAMPLING = 2
_GRID_SCALE = float(_GRID_OVERSAMPLING)


def _nufft_pair(im_size: Sequence[int]) -> tuple[torch.nn.Module, torch.nn.Module]:
    import torchkbnufft as tkbn

    size = tuple(int(n) for n in im_size)
    grid = tuple(_GRID_OVERSAMPLING * n for n in size)
    return tkbn.KbNufft(im_size=size, grid_size=grid), tkbn.KbNufftAdjoint(im_size=size, grid_size=grid)


def pipe_menon_dcf(traj: torch.Tensor, im_size: Sequence[int], iterations: int = 10) -> torch.Tensor:
    """Pipe-Menon density compensation. traj: (batch, 2, samples) float -> (batch, 1, samples) float.

    Scaled by ``_normalise_dcf`` so that gridding keeps the image's mean (DC) intensity.
    """
    import torchkbnufft as tkbn

    dcf = tkbn.calc_density_compensation_function(traj, im_size=tuple(im_size), num_iterations=iterations)
    dcf = dcf.real if dcf.is_complex() else dcf
    return _normalise_dcf(dcf.reshape(traj.shape[0], 1, traj.shape[-1]), traj, im_size)


def ramp_dcf(traj: torch.Tensor, im_size: Sequence[int]) -> torch.Tensor:
    """Analytic radial ramp |k|, with the centre sample weighted as a disc of radius a quarter step.

    traj: (batch, 2, samples) -> (batch, 1, samples), scaled like ``pipe_menon_dcf``.
    """
    radius = torch.linalg.vector_norm(traj, dim=1, keepdim=True)
    floor = math.pi / max(im_size) / 4
    return _normalise_dcf(torch.clamp(radius, min=floor), traj, im_size)


def _normalise_dcf(dcf: torch.Tensor, traj: torch.Tensor, im_size: Sequence[int]) -> torch.Tensor:
    """Scale each batch entry of ``dcf`` so that gridding preserves the DC level.

    Data of all ones is the k-space of a centred point of amplitude ``sqrt(prod(im_size))`` (orthonormal
    FFT); its gridding must integrate to that amplitude. This fixes the weights' absolute scale whatever
    the trajectory and its undersampling, which a fixed sum of weights does not.
    """
    n = math.sqrt(float(math.prod(int(v) for v in im_size)))
    _, adjoint = _nufft_pair(im_size)
    adjoint = adjoint.to(traj.device)
    psf = adjoint(dcf.to(torch.complex64), traj.to(torch.float32), norm="ortho") * _GRID_SCALE
    total = psf.real.sum(dim=(-2, -1)).reshape(-1, 1, 1)
    return dcf * (n / total.clamp_min(torch.finfo(total.dtype).tiny))


class NonCartesianSense(LinearOperator):
    """y = F_traj S x per frame, with torchkbnufft.

    Args:
        coils: number of coils.
        im_size: (ny, nx) of the image.
        traj: (frames or 1, 2, samples) radians/voxel.
        maps: (coils, ny, nx) complex, or None: then the image domain holds coil images.
        dcf: (frames or 1, 1, samples) density compensation used by ``gridding``; None computes
            Pipe-Menon weights.
    """

    def __init__(
        self,
        coils: int,
        im_size: tuple[int, int],
        traj: torch.Tensor,
        maps: torch.Tensor | None = None,
        dcf: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        ny, nx = (int(n) for n in im_size)
        self.im_size = (ny, nx)
        self.range_shape = (int(coils), int(traj.shape[-1]))
        self.domain_shape = (ny, nx) if maps is not None else (int(coils), ny, nx)
        traj = traj.to(torch.float32)
        self.register_buffer("traj", traj)
        self.register_buffer("maps", maps)
        self.register_buffer("dcf", pipe_menon_dcf(traj, self.im_size) if dcf is None else dcf)
        self._nufft, self._nufft_adjoint = _nufft_pair(self.im_size)

    def _omega(self, frames: int) -> torch.Tensor:
        return self.traj.expand(frames, -1, -1) if self.traj.shape[0] == 1 else self.traj

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        coil_images = x if self.maps is None else sense_expand(x, self.maps)
        return self._nufft(coil_images, self._omega(x.shape[0]), norm="ortho") * _GRID_SCALE

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        coil_images = self._nufft_adjoint(y, self._omega(y.shape[0]), norm="ortho") * _GRID_SCALE
        return coil_images if self.maps is None else sense_reduce(coil_images, self.maps)

    def _gridding(self, y: torch.Tensor) -> torch.Tensor:
        return self._adjoint(y * self.dcf.to(y.dtype))


def nufft_adjoint(
    kspace: torch.Tensor, traj: torch.Tensor, im_size: Sequence[int], dcf: torch.Tensor | None = None
) -> torch.Tensor:
    """Gridding of coil data. kspace: (batch, coils, samples); traj: (batch or 1, 2, samples).

    Returns coil images (batch, coils, ny, nx); with ``dcf`` from ``pipe_menon_dcf`` this matches the
    inverse FFT of fully sampled Cartesian data.
    """
    op = NonCartesianSense(kspace.shape[1], tuple(im_size), traj, dcf=torch.ones_like(traj[:, :1]))
    op = op.to(kspace.device)
    weighted = kspace if dcf is None else kspace * dcf.to(kspace.dtype)
    return op.adjoint(weighted)


def nufft_forward(image: torch.Tensor, traj: torch.Tensor) -> torch.Tensor:
    """Forward NUFFT. image: (batch, coils, ny, nx); traj: (batch or 1, 2, samples).

    Returns (batch, coils, samples).
    """
    im_size = (int(image.shape[-2]), int(image.shape[-1]))
    op = NonCartesianSense(image.shape[1], im_size, traj, dcf=torch.ones_like(traj[:, :1])).to(image.device)
    return op(image)

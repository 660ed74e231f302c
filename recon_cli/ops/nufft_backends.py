"""NUFFT backends behind ``NonCartesianSense``, and which one to use.

A backend is an ``nn.Module`` bound to an image size with two methods, both differentiable in their data
(and coil maps) and scaled so that on Cartesian points the forward equals the centred orthonormal FFT
(``fft2c``):

- ``forward_nufft(images, traj, maps=None)``: images (frames, coils, ny, nx) complex, or (frames, ny, nx)
  with maps (coils, ny, nx); traj (frames or 1, 2, samples) radians/voxel (ky, kx) -> k-space
  (frames, coils, samples);
- ``adjoint_nufft(kspace, traj, maps=None)``: the adjoint, (frames, coils, samples) -> (frames, coils,
  ny, nx), or (frames, ny, nx) combined with the maps.

Backends, fastest first (``benchmarks/bench_nufft.py``): ``finufft`` (FINUFFT on CPU, cuFINUFFT on CUDA),
``torchkbnufft`` (table interpolation on a 2x grid, CPU and CUDA; ~7e-4 relative error; complex128
input is accepted but its tables are single precision).
"""

from __future__ import annotations

import torch
from torch import nn

from recon_cli.ops.functional import sense_expand, sense_reduce
from recon_cli.ops.nufft_finufft import FinufftNufft, cufinufft_installed, finufft_installed

BACKENDS = ("finufft", "torchkbnufft")

# torchkbnufft's "ortho" normalises by the oversampled grid; with a 2x grid in 2D that leaves a factor
# 1/2 against the centred orthonormal FFT. Undo it so NUFFT and fft2c agree on Cartesian points.
_GRID_OVERSAMPLING = 2
_GRID_SCALE = float(_GRID_OVERSAMPLING)


class TorchKbNufft(nn.Module):
    """Multi-coil NUFFT with torchkbnufft (Kaiser-Bessel table interpolation, 2x oversampled grid).

    Args:
        im_size: (ny, nx) of the images.
    """

    name = "torchkbnufft"

    def __init__(self, im_size: tuple[int, int]) -> None:
        super().__init__()
        import torchkbnufft as tkbn

        self.im_size = (int(im_size[0]), int(im_size[1]))
        grid = tuple(_GRID_OVERSAMPLING * n for n in self.im_size)
        self.nufft = tkbn.KbNufft(im_size=self.im_size, grid_size=grid)
        self.nufft_adjoint = tkbn.KbNufftAdjoint(im_size=self.im_size, grid_size=grid)

    def forward_nufft(
        self, images: torch.Tensor, traj: torch.Tensor, maps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """images: (frames, coils, ny, nx), or (frames, ny, nx) with maps (coils, ny, nx), complex.

        traj: (frames or 1, 2, samples) radians/voxel, (ky, kx). Returns (frames, coils, samples).
        """
        coil_images = images if maps is None else sense_expand(images, maps)
        return self.nufft(coil_images, _omega(traj, images), norm="ortho") * _GRID_SCALE

    def adjoint_nufft(
        self, kspace: torch.Tensor, traj: torch.Tensor, maps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """kspace: (frames, coils, samples) complex -> (frames, coils, ny, nx), or (frames, ny, nx)
        combined with ``maps`` (coils, ny, nx)."""
        coil_images = self.nufft_adjoint(kspace, _omega(traj, kspace), norm="ortho") * _GRID_SCALE
        return coil_images if maps is None else sense_reduce(coil_images, maps)


def _omega(traj: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
    """torchkbnufft's batched trajectory: one per batch entry, in the data's real precision."""
    omega = traj.to(data.real.dtype)
    return omega.expand(data.shape[0], -1, -1) if omega.shape[0] == 1 else omega


def available_backends(device: torch.device | str | None = None) -> list[str]:
    """Names of the installed backends that run on ``device`` (default CPU), fastest first."""
    device = torch.device("cpu" if device is None else device)
    names = []
    if (device.type == "cpu" and finufft_installed()) or (device.type == "cuda" and cufinufft_installed()):
        names.append("finufft")
    try:
        import torchkbnufft  # noqa: F401

        names.append("torchkbnufft")
    except ImportError:
        pass
    return names


def default_backend(device: torch.device | str | None = None) -> str:
    """The fastest installed backend for ``device``: FINUFFT on CPU, cuFINUFFT (else torchkbnufft) on CUDA."""
    names = available_backends(device)
    if not names:
        raise RuntimeError("no NUFFT backend is installed (pip install finufft or torchkbnufft)")
    return names[0]


NufftBackend = FinufftNufft | TorchKbNufft


def make_backend(name: str, im_size: tuple[int, int]) -> NufftBackend:
    """A backend module by name (one of ``BACKENDS``) for images of ``im_size``."""
    if name == "finufft":
        return FinufftNufft(im_size)
    if name == "torchkbnufft":
        return TorchKbNufft(im_size)
    raise ValueError(f"unknown NUFFT backend {name!r}; choose from {', '.join(BACKENDS)} or 'auto'")

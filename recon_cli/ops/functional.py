"""Pure tensor functions shared by operators, readers and models.

FFTs are centred and orthonormal (ifftshift -> fft -> fftshift, norm="ortho"), as in fastMRI, over the
last two axes unless ``dim`` says otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def fft2c(x: torch.Tensor, dim: Sequence[int] = (-2, -1)) -> torch.Tensor:
    """Centred orthonormal FFT. x: (..., ny, nx) complex."""
    dim = tuple(dim)
    x = torch.fft.ifftshift(x, dim=dim)
    x = torch.fft.fftn(x, dim=dim, norm="ortho")
    return torch.fft.fftshift(x, dim=dim)


def ifft2c(k: torch.Tensor, dim: Sequence[int] = (-2, -1)) -> torch.Tensor:
    """Centred orthonormal inverse FFT. k: (..., ny, nx) complex."""
    dim = tuple(dim)
    k = torch.fft.ifftshift(k, dim=dim)
    k = torch.fft.ifftn(k, dim=dim, norm="ortho")
    return torch.fft.fftshift(k, dim=dim)


def fftc(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Centred orthonormal 1D FFT along ``dim``."""
    return fft2c(x, dim=(dim,))


def ifftc(k: torch.Tensor, dim: int) -> torch.Tensor:
    """Centred orthonormal 1D inverse FFT along ``dim``."""
    return ifft2c(k, dim=(dim,))


def rss(coil_images: torch.Tensor, dim: int = -3) -> torch.Tensor:
    """Root sum of squares over the coil axis. coil_images: (..., coils, ny, nx) -> (..., ny, nx) real."""
    return torch.sqrt(torch.sum(coil_images.real**2 + coil_images.imag**2, dim=dim))


def sense_expand(image: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
    """Coil images from an image. image: (..., ny, nx); maps: (..., coils, ny, nx) -> (..., coils, ny, nx)."""
    return image.unsqueeze(-3) * maps


def sense_reduce(coil_images: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
    """Adjoint of ``sense_expand``: sum_c conj(S_c) x_c. (..., coils, ny, nx) -> (..., ny, nx)."""
    return torch.sum(coil_images * maps.conj(), dim=-3)


def center_crop(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Crop the last ``len(shape)`` axes to ``shape`` around their centres (fastMRI's convention).

    Axes already smaller than the target are left as they are.
    """
    slices = [slice(None)] * x.dim()
    offset = x.dim() - len(shape)
    for i, target in enumerate(shape):
        n = x.shape[offset + i]
        if target < n:
            start = (n - target) // 2
            slices[offset + i] = slice(start, start + target)
    return x[tuple(slices)]


def crop_readout_oversampling(kspace: torch.Tensor, n_out: int, dim: int = -1) -> torch.Tensor:
    """Remove readout oversampling: inverse FFT along the readout, keep the central ``n_out``, FFT back."""
    n = kspace.shape[dim]
    if n_out >= n:
        return kspace
    img = ifftc(kspace, dim)
    start = (n - n_out) // 2
    img = img.narrow(dim, start, n_out)
    return fftc(img, dim)


def complex_to_channels(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Complex tensor to real with real and imaginary parts stacked along ``dim`` (doubling its size)."""
    return torch.cat([x.real, x.imag], dim=dim)


def channels_to_complex(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Inverse of ``complex_to_channels``."""
    re, im = torch.chunk(x, 2, dim=dim)
    return torch.complex(re, im)

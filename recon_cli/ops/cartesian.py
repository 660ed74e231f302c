"""Cartesian multi-coil Fourier operator (SENSE when coil maps are given), for 2D and 2D+t."""

from __future__ import annotations

import torch

from recon_cli.ops.base import LinearOperator
from recon_cli.ops.functional import fft2c, ifft2c, sense_expand, sense_reduce


class CartesianSense(LinearOperator):
    """y = M F S x per frame.

    Args:
        shape: (coils, ny, nx) of the k-space of one frame.
        mask: sampling pattern broadcastable to (frames, coils, ny, nx), or None (fully sampled).
        maps: coil sensitivities (coils, ny, nx) complex, or None: then the image domain holds coil
            images (coils, ny, nx) and S is the identity.
    """

    def __init__(
        self, shape: tuple[int, int, int], mask: torch.Tensor | None = None, maps: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        coils, ny, nx = (int(n) for n in shape)
        self.range_shape = (coils, ny, nx)
        self.domain_shape = (ny, nx) if maps is not None else (coils, ny, nx)
        self.register_buffer("mask", None if mask is None else mask.to(torch.bool))
        self.register_buffer("maps", maps)

    def _masked(self, k: torch.Tensor) -> torch.Tensor:
        return k if self.mask is None else k * self.mask

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        coil_images = x if self.maps is None else sense_expand(x, self.maps)
        return self._masked(fft2c(coil_images))

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        coil_images = ifft2c(self._masked(y))
        return coil_images if self.maps is None else sense_reduce(coil_images, self.maps)

"""Cartesian multi-coil Fourier operator (SENSE when coil maps are given), for 2D and 2D+t."""

from __future__ import annotations

import torch

from recon_cli.errors import ModelError
from recon_cli.ops.base import LinearOperator, accumulate, coil_ranges
from recon_cli.ops.functional import fft2c, ifft2c, sense_expand, sense_reduce


class CartesianSense(LinearOperator):
    """y = M F S x per frame.

    Args:
        shape: (coils, ny, nx) of the k-space of one frame.
        mask: sampling pattern broadcastable to (frames, coils, ny, nx), e.g. (1, 1, 1, nx) for a static
            line pattern or (frames, 1, ny, nx) for a cine pattern; None means fully sampled.
        maps: coil sensitivities (coils, ny, nx) complex, or None: then the image domain holds coil
            images (coils, ny, nx) and S is the identity.
        coil_chunk: with maps, apply F to this many coils at a time (forward concatenates the chunks,
            adjoint and normal accumulate them); None: all coils together.

    The normal operator applies the mask once (F^H M F); fully sampled it needs no FFT at all. There are
    no data weights: ``gridding`` is the adjoint and ``normal(x, weighted=True)`` equals ``normal(x)``.
    """

    mask: torch.Tensor | None
    maps: torch.Tensor | None

    def __init__(
        self,
        shape: tuple[int, int, int],
        mask: torch.Tensor | None = None,
        maps: torch.Tensor | None = None,
        coil_chunk: int | None = None,
    ) -> None:
        super().__init__()
        coils, ny, nx = (int(n) for n in shape)
        self.range_shape = (coils, ny, nx)
        self.domain_shape = (ny, nx) if maps is not None else (coils, ny, nx)
        self.register_buffer("mask", None if mask is None else _as_mask(mask, (coils, ny, nx)))
        self.register_buffer("maps", maps)
        self.coil_chunks = coil_ranges(coils, coil_chunk if maps is not None else None)

    def _mask_for(self, chunk: slice) -> torch.Tensor | None:
        if self.mask is None or self.mask.shape[1] == 1:
            return self.mask
        return self.mask[:, chunk]

    def _check_frames(self, t: torch.Tensor, what: str) -> None:
        if self.mask is not None and self.mask.shape[0] > 1 and self.mask.shape[0] != t.shape[0]:
            raise ModelError(
                f"CartesianSense: {what} has {t.shape[0]} frames but the mask has {self.mask.shape[0]}"
            )

    def _masked(self, k: torch.Tensor) -> torch.Tensor:
        return k if self.mask is None else k * self.mask

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_frames(x, "image")
        if self.maps is None:
            return self._masked(fft2c(x))
        maps = self.maps
        return torch.cat(
            [_masked(fft2c(sense_expand(x, maps[c])), self._mask_for(c)) for c in self.coil_chunks], 1
        )

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        self._check_frames(y, "k-space")
        if self.maps is None:
            return ifft2c(self._masked(y))
        maps = self.maps
        return accumulate(
            lambda c: sense_reduce(ifft2c(_masked(y[:, c], self._mask_for(c))), maps[c]), self.coil_chunks
        )

    def _normal(self, x: torch.Tensor, weighted: bool = False) -> torch.Tensor:
        self._check_frames(x, "image")
        if self.maps is None:
            return x if self.mask is None else ifft2c(fft2c(x) * self.mask)
        maps = self.maps

        def part(c: slice) -> torch.Tensor:
            coil_images = sense_expand(x, maps[c])
            mask = self._mask_for(c)
            if mask is not None:
                coil_images = ifft2c(fft2c(coil_images) * mask)
            return sense_reduce(coil_images, maps[c])

        return accumulate(part, self.coil_chunks)


def _masked(k: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    return k if mask is None else k * mask


def _as_mask(mask: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    """The mask as bool (frames or 1, coils or 1, ny or 1, nx or 1), checked against (coils, ny, nx)."""
    if mask.dim() > 4:
        raise ModelError(f"CartesianSense: mask must have at most 4 dims, got {tuple(mask.shape)}")
    mask = mask.reshape((1,) * (4 - mask.dim()) + tuple(mask.shape)).to(torch.bool)
    for axis, n in zip(mask.shape[1:], shape, strict=True):
        if axis not in (1, n):
            target = ", ".join(map(str, shape))
            raise ModelError(
                f"CartesianSense: mask {tuple(mask.shape)} does not broadcast to (frames, {target})"
            )
    return mask

"""Configuration of the ``xpdnet`` model (the only copy of its defaults)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class XPDNetConfig:
    """Options of ``xpdnet``.

    Attributes:
        iterations: Unrolled iterations (each with its own MWCNN).
        n_primal: Complex images in the primal buffer.
        chans: Channels of each MWCNN's first level (doubling at every level below).
        levels: Wavelet levels of each MWCNN.
        refine_maps: Refine the coil sensitivity maps with a small U-Net before the iterations.
        refine_chans: Channels of that U-Net's first level.
        refine_pools: Depth of that U-Net.
    """

    iterations: int = 10
    n_primal: int = 5
    chans: int = 16
    levels: int = 2
    refine_maps: bool = True
    refine_chans: int = 8
    refine_pools: int = 2

    def __post_init__(self) -> None:
        from recon_cli.errors import ModelError

        if self.iterations < 1 or self.n_primal < 1 or self.chans < 1 or not 1 <= self.levels <= 5:
            raise ModelError("xpdnet: iterations, n_primal and chans must be >= 1 and levels in 1..5")
        if self.refine_chans < 1 or not 1 <= self.refine_pools <= 5:
            raise ModelError("xpdnet: refine_chans must be >= 1 and refine_pools in 1..5")

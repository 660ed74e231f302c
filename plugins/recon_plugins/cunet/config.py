"""Configuration of the ``cunet`` model (the only copy of its defaults)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CUNetConfig:
    """Options of ``cunet``.

    Attributes:
        chans: Complex channels of the CU-Net's first level (doubling at every level below).
        depth: Spatial down-sampling steps of the CU-Net.
    """

    chans: int = 8
    depth: int = 3

    def __post_init__(self) -> None:
        from recon_cli.errors import ModelError

        if self.chans < 1 or not 1 <= self.depth <= 6:
            raise ModelError("cunet: chans must be >= 1 and depth in 1..6")

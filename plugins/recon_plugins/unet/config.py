"""Configuration of the ``unet`` model (the only copy of its defaults)."""

from __future__ import annotations

from dataclasses import dataclass

COMBINE_CHOICES = ("rss", "sense")


@dataclass(frozen=True)
class UNetConfig:
    """Options of ``unet``.

    Attributes:
        chans: Channels of the U-Net's first level (doubling at every level below).
        num_pools: Depth of the U-Net (down-sampling steps).
        combine: How the gridded coil images become the network's input: "rss" (root-sum-of-squares
            magnitude, no coil maps needed) or "sense" (complex coil combination with coil maps, which
            `recon reconstruct` then estimates; training data needs them too).
        residual: Learn a correction added to the input image (True) or the image itself.
    """

    chans: int = 32
    num_pools: int = 4
    combine: str = "rss"
    residual: bool = True

    def __post_init__(self) -> None:
        from recon_cli.errors import ModelError

        if self.combine not in COMBINE_CHOICES:
            raise ModelError(f"unet: combine must be one of {', '.join(COMBINE_CHOICES)}")
        if self.chans < 1 or not 1 <= self.num_pools <= 6:
            raise ModelError("unet: chans must be >= 1 and num_pools in 1..6")

"""The ``unet`` model: grid the data, combine the coils, then a residual U-Net on every frame."""

from __future__ import annotations

import torch

from recon_cli.errors import ModelError
from recon_cli.nn import UNet, channels_to_image, image_to_channels, rms_scale
from recon_cli.nn.slice_model import SliceModel
from recon_cli.ops.base import LinearOperator
from recon_cli.ops.functional import rss
from recon_plugins.unet.config import UNetConfig


class UNetRecon(SliceModel):
    """x = x0 + s * UNet(x0 / s), x0 the coil-combined gridding of the data and s its RMS level.

    Frames go through the network independently (as a batch), so static (1 frame) and dynamic data,
    Cartesian and non-Cartesian, use the same weights. Scaling by the input's own level makes the network
    independent of the data's absolute intensity.
    """

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        # How the pipeline should treat coil maps: "required", "optional" or "ignored".
        self.coil_maps = "required" if config.combine == "sense" else "ignored"
        self.net = UNet(2, 2, chans=config.chans, num_pools=config.num_pools)

    def reconstruct(self, kspace: torch.Tensor, op: LinearOperator, x0: torch.Tensor | None) -> torch.Tensor:
        """``op`` may lack coil maps (the gridded coil images are then combined by root sum of squares);
        x0 default: the coil-combined gridding of ``kspace``."""
        if x0 is None:
            x0 = self.initial_image(kspace, op)
        scale = rms_scale(x0)
        correction = channels_to_image(self.net(image_to_channels(x0 / scale))) * scale
        return (x0 + correction if self.config.residual else correction).to(torch.complex64)

    def initial_image(self, kspace: torch.Tensor, op: LinearOperator) -> torch.Tensor:
        """Density-compensated gridding, coil-combined. Returns (frames, ny, nx) complex64.

        Computed in full precision even under autocast: NUFFTs and FFTs are not for half precision.
        """
        has_maps = getattr(op, "maps", None) is not None
        if self.config.combine == "sense" and not has_maps:
            raise ModelError(
                "unet: combine='sense' needs coil maps (give --coils or let recon estimate them)"
            )
        with torch.autocast(device_type=kspace.device.type, enabled=False):
            image = op.gridding(kspace)
        return image.to(torch.complex64) if has_maps else rss(image).to(torch.complex64)

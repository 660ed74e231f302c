"""The ``cunet`` model: x = x0 + CUNet(x0), x0 the SENSE-combined gridding of the data (or a smoothed
SENSE image, ``start_smoothing``)."""

from __future__ import annotations

import torch

from recon_cli.nn.cunet import CUNet
from recon_cli.nn.slice_model import SliceModel
from recon_cli.nn.unrolled import (
    canonical_inputs,
    sense_gridding,
    zero_outside_support,
)
from recon_cli.ops.base import LinearOperator
from recon_plugins.cunet.config import CUNetConfig


class CUNetRecon(SliceModel):
    """Residual complex (2+1)D U-Net on the coil-combined gridded image series.

    The whole series is one spatio-temporal volume, so static data are a one-frame series. With
    ``view_share`` the network also sees the slice's view-shared image as a second input channel. The
    network is positively homogeneous (no biases, no normalisation), hence the reconstruction scales with
    the data.
    """

    def __init__(self, config: CUNetConfig) -> None:
        super().__init__()
        self.config = config
        self.coil_maps = "required"
        self.net = CUNet(config.chans, config.depth, context_chans=int(config.view_share))

    def reconstruct(self, kspace: torch.Tensor, op: LinearOperator, x0: torch.Tensor | None) -> torch.Tensor:
        """x0 default: the coil-combined gridding of ``kspace`` (``start_smoothing``: a smoothed SENSE
        image)."""
        c = self.config
        gridded = sense_gridding(kspace, op, "cunet") if x0 is None else x0
        _, context, start, back = canonical_inputs(gridded, kspace, op, x0, c, "cunet")
        x = (start + self.net(start, context)) * back
        return zero_outside_support(x, op) if self.config.support_mask else x

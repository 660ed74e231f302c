"""The ``cunet`` model: x = x0 + CUNet(x0), x0 the SENSE-combined gridding of the data."""

from __future__ import annotations

import torch
from torch import nn

from recon_cli.nn.cunet import CUNet
from recon_cli.nn.unrolled import sense_gridding, view_shared_context
from recon_cli.ops.base import LinearOperator
from recon_plugins.cunet.config import CUNetConfig


class CUNetRecon(nn.Module):
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

    def forward(
        self, kspace: torch.Tensor, op: LinearOperator, x0: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Reconstruct one slice.

        Args:
            kspace: (frames, coils, ny, nx) Cartesian or (frames, coils, samples) non-Cartesian, complex64.
            op: The slice's forward model with coil maps; image domain (frames, ny, nx).
            x0: (frames, ny, nx) complex starting image; default the coil-combined gridding of ``kspace``.

        Returns:
            (frames, ny, nx) complex64.
        """
        if x0 is None:
            x0 = sense_gridding(kspace, op, "cunet")
        x0 = x0.to(torch.complex64)
        context = view_shared_context(kspace, op, "cunet", self.config.view_share)
        return x0 + self.net(x0, context)

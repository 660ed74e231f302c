"""The ``alt-un`` model: K unrolled steps x_{k+1} = x_k - t (A^H D (A x_k - y) + R(x_k)), end to end."""

from __future__ import annotations

import torch
from torch import nn

from recon_cli.nn.cunet import CUNet
from recon_cli.nn.slice_model import SliceModel
from recon_cli.nn.unrolled import (
    GradientStepBlock,
    canonical_inputs,
    sense_gridding,
    zero_outside_support,
)
from recon_cli.ops.base import LinearOperator
from recon_plugins.alt_un.config import AltUNConfig


class AltUN(SliceModel):
    """Unrolled gradient descent with a CU-Net regulariser, backpropagated through all K blocks (with
    ``view_share``, every block's CU-Net also sees the slice's view-shared image)."""

    def __init__(self, config: AltUNConfig) -> None:
        super().__init__()
        self.config = config
        self.coil_maps = "required"
        count = 1 if config.shared else config.blocks
        context_chans = int(config.view_share)
        self.blocks = nn.ModuleList(
            GradientStepBlock(
                CUNet(config.chans, config.depth, context_chans=context_chans), config.step_init
            )
            for _ in range(count)
        )

    def reconstruct(self, kspace: torch.Tensor, op: LinearOperator, x0: torch.Tensor | None) -> torch.Tensor:
        """x0 default: the coil-combined gridding A^H D y (``start_smoothing``: a smoothed SENSE image)."""
        c = self.config
        gridded = sense_gridding(kspace, op, "alt-un")
        gridded, context, x, back = canonical_inputs(gridded, kspace, op, x0, c, "alt-un")
        for k in range(self.config.blocks):
            x = self.blocks[0 if self.config.shared else k](x, op, gridded, context)
        x = x * back
        return zero_outside_support(x, op) if self.config.support_mask else x

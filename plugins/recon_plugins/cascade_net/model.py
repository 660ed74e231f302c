"""The ``cascade-net`` model: a deep cascade of CNNs and data-consistency layers (Schlemper et al. 2018).

    x_0 = A^H D y,   x_{c+1} = DC_c(x_c + CNN_c(x_c)),   DC(x) = x + w (A^H D y - A^H D A x),

with w = lambda / (1 + lambda) and lambda > 0 learned per cascade.

Cartesian data: with coil maps normalised to sum_c |S_c|^2 = 1 (single coil: S = 1), DC is exactly the
weighted average of Schlemper's data-consistency layer in k-space, applied coil by coil,
S^H F^H [(1 - m) k + m (k + lambda y) / (1 + lambda)] with k = F S x and m the mask: unsampled points
keep the network's k-space, sampled points move towards the measured ones (lambda -> infinity replaces
them). Non-Cartesian data: the same formula is one gradient step, of length w, on the density-weighted
least-squares data term 1/2 ||A x - y||_D^2 (D the operator's Pipe-Menon weights), not an exact
projection.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from recon_cli.nn import channels_to_image, image_to_channels
from recon_cli.nn.cnn import ConvStack
from recon_cli.nn.positive import softplus_inverse
from recon_cli.nn.primal_dual import normalised_start
from recon_cli.nn.slice_model import SliceModel
from recon_cli.nn.unrolled import data_gradient, require_maps
from recon_cli.ops.base import LinearOperator
from recon_plugins.cascade_net.config import CascadeNetConfig


class DataConsistency(nn.Module):
    """x + w (A^H D y - A^H D A x), w = lambda / (1 + lambda), lambda = softplus(free parameter).

    Args:
        lambda_init: Initial lambda (> 0).
    """

    def __init__(self, lambda_init: float) -> None:
        super().__init__()
        self.lambda_raw = nn.Parameter(torch.tensor(softplus_inverse(lambda_init)))

    @property
    def weight(self) -> torch.Tensor:
        """w in (0, 1), a () float32 tensor."""
        lam = F.softplus(self.lambda_raw)
        return lam / (1 + lam)

    def forward(self, x: torch.Tensor, op: LinearOperator, gridded: torch.Tensor) -> torch.Tensor:
        """x, gridded (A^H D y): (frames, ny, nx) complex64 -> (frames, ny, nx) complex64."""
        return x - self.weight * data_gradient(x, op, gridded)


class CascadeNet(SliceModel):
    """Deep cascade of residual real-valued CNNs (on real/imaginary channels) and DC layers."""

    def __init__(self, config: CascadeNetConfig) -> None:
        super().__init__()
        self.config = config
        self.coil_maps = "required"
        count = 1 if config.shared else config.cascades
        self.cnns = nn.ModuleList(
            ConvStack(2, 2, config.features, config.layers, out_init_scale=0.1) for _ in range(count)
        )
        self.dcs = nn.ModuleList(DataConsistency(config.lambda_init) for _ in range(count))

    def reconstruct(self, kspace: torch.Tensor, op: LinearOperator, x0: torch.Tensor | None) -> torch.Tensor:
        """x0 default: the gridding A^H D y."""
        require_maps(op, "cascade-net")
        _, gridded, scale = normalised_start(kspace, op)
        x = gridded if x0 is None else x0.to(torch.complex64) / scale
        for c in range(self.config.cascades):
            k = 0 if self.config.shared else c
            x = x + channels_to_image(self.cnns[k](image_to_channels(x)))
            x = self.dcs[k](x, op, gridded)
        return x * scale

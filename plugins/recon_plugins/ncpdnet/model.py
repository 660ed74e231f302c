"""The ``ncpdnet`` model: non-Cartesian primal-dual network (Ramzi et al., NC-PDNet, IEEE TMI 2022).

The iterations of ``recon_cli.nn.primal_dual`` with the residual as the dual step and a plain CNN as
each image-space network,

    g = A h[1] - y,   h <- h + CNN_i([h, A^H D g]),

where the back-projection A^H D applies the operator's density compensation D (Pipe-Menon weights for
non-Cartesian data, computed once per trajectory) before the adjoint NUFFT; with
``density_compensation=False`` it is the plain adjoint A^H, the ablation that shows what the weights buy.
Every primal channel starts from the same back-projection of the data, and data and image are divided by
that image's RMS level. Works multi-coil with given maps, on radial, spiral and Cartesian data alike.
"""

from __future__ import annotations

import torch
from torch import nn

from recon_cli.nn.cnn import ConvStack
from recon_cli.nn.primal_dual import PrimalDualNet, normalised_start
from recon_cli.nn.slice_model import SliceModel
from recon_cli.nn.unrolled import require_maps
from recon_cli.ops.base import LinearOperator
from recon_plugins.ncpdnet.config import NCPDNetConfig


class NCPDNet(SliceModel):
    """Residual-dual primal-dual network with density-compensated back-projection."""

    def __init__(self, config: NCPDNetConfig) -> None:
        super().__init__()
        self.config = config
        self.coil_maps = "required"
        p = config.n_primal
        primal = nn.ModuleList(
            ConvStack(2 * (p + 1), 2 * p, config.features, config.layers, out_init_scale=0.1)
            for _ in range(config.iterations)
        )
        weighted = config.density_compensation
        self.pd = PrimalDualNet(primal, None, config.iterations, p, 1, weighted_adjoint=weighted)

    def reconstruct(self, kspace: torch.Tensor, op: LinearOperator, x0: torch.Tensor | None) -> torch.Tensor:
        """x0 default: the back-projection of ``kspace``."""
        require_maps(op, "ncpdnet")
        y, start, scale = normalised_start(kspace, op, weighted=self.config.density_compensation)
        if x0 is not None:
            start = x0.to(torch.complex64) / scale
        return self.pd(y, op, start) * scale

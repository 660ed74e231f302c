"""The ``xpdnet`` model: cross-domain primal-dual network for multi-coil MRI (Ramzi et al. 2020).

The iterations of ``recon_cli.nn.primal_dual`` with the residual as the dual step (no dual network),

    g = A h[1] - y,   h <- h + MWCNN_i([h, A^H D g]),

a multi-level wavelet CNN (``recon_cli.nn.mwcnn``, Haar transforms from ``ptwt``) as each image-space
network, and the operator's coil maps refined first by a small U-Net and renormalised to
sum_c |S_c|^2 = 1 (``recon_cli.nn.sensitivity``); A is rebuilt with the refined maps. Every primal
channel starts from the gridding with those maps, data and image divided by its RMS level. For Cartesian
data A^H D = A^H; non-Cartesian data use the operator's density compensation in the back-projection.
"""

from __future__ import annotations

import torch
from torch import nn

from recon_cli.nn.mwcnn import MWCNN
from recon_cli.nn.primal_dual import PrimalDualNet, normalised_start
from recon_cli.nn.sensitivity import SensitivityRefinement, with_maps
from recon_cli.nn.slice_model import SliceModel
from recon_cli.nn.unrolled import require_maps
from recon_cli.ops.base import LinearOperator
from recon_plugins.xpdnet.config import XPDNetConfig


class XPDNet(SliceModel):
    """Residual-dual primal-dual network with MWCNN image updates and coil-map refinement."""

    def __init__(self, config: XPDNetConfig) -> None:
        super().__init__()
        self.config = config
        self.coil_maps = "required"
        p = config.n_primal
        primal = nn.ModuleList(
            MWCNN(2 * (p + 1), 2 * p, config.chans, config.levels) for _ in range(config.iterations)
        )
        self.pd = PrimalDualNet(primal, None, config.iterations, p, 1, weighted_adjoint=True)
        self.refine = (
            SensitivityRefinement(config.refine_chans, config.refine_pools) if config.refine_maps else None
        )

    def reconstruct(self, kspace: torch.Tensor, op: LinearOperator, x0: torch.Tensor | None) -> torch.Tensor:
        """Coil maps (coils, ny, nx), refined first with ``refine_maps``; x0 default: their gridding."""
        require_maps(op, "xpdnet")
        if self.refine is not None:
            assert op.maps is not None
            op = with_maps(op, self.refine(op.maps))
        y, start, scale = normalised_start(kspace, op)
        if x0 is not None:
            start = x0.to(torch.complex64) / scale
        return self.pd(y, op, start) * scale

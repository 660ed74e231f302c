"""The ``pdnet`` model: learned primal-dual reconstruction (Adler & Oektem, IEEE TMI 2018) for MRI.

Iterations as in ``recon_cli.nn.primal_dual``: the dual step is a CNN on [g, A h[1], y] in measurement
space (or the residual A h[1] - y with ``dual="residual"``), the primal step a CNN on [h, A^H g[0]].
Unlike Adler & Oektem (zeros), every primal channel starts from the gridding A^H D y; the data and
that image are divided by the image's RMS level first, and the result is scaled back.

Measurement-space CNN: Cartesian k-space (frames, coils, ky, kx) is convolved over (ky, kx) with the
coils as a batch; non-Cartesian data (frames, coils, samples) is convolved along the samples (a
1 x samples image through the same 3 x 3 kernels: effectively their middle row), i.e. along each spoke's
or interleave's readout, where neighbouring samples are neighbours in k-space.
"""

from __future__ import annotations

import torch
from torch import nn

from recon_cli.nn.cnn import ConvStack
from recon_cli.nn.primal_dual import PrimalDualNet, normalised_start
from recon_cli.nn.slice_model import SliceModel
from recon_cli.nn.unrolled import require_maps
from recon_cli.ops.base import LinearOperator
from recon_plugins.pdnet.config import PDNetConfig


class PDNet(SliceModel):
    """Learned primal-dual network with a primal and (optionally) a dual CNN per iteration."""

    def __init__(self, config: PDNetConfig) -> None:
        super().__init__()
        self.config = config
        self.coil_maps = "required"
        p, d, f, n = config.n_primal, config.n_dual, config.features, config.layers
        primal = nn.ModuleList(
            ConvStack(2 * (p + 1), 2 * p, f, n, out_init_scale=0.1) for _ in range(config.iterations)
        )
        dual = None
        if config.dual == "cnn":
            dual = nn.ModuleList(
                ConvStack(2 * (d + 2), 2 * d, f, n, out_init_scale=0.1) for _ in range(config.iterations)
            )
        self.pd = PrimalDualNet(primal, dual, config.iterations, p, d, weighted_adjoint=False)

    def reconstruct(self, kspace: torch.Tensor, op: LinearOperator, x0: torch.Tensor | None) -> torch.Tensor:
        """x0 default: the gridding A^H D y."""
        require_maps(op, "pdnet")
        y, start, scale = normalised_start(kspace, op)
        if x0 is not None:
            start = x0.to(torch.complex64) / scale
        return self.pd(y, op, start) * scale

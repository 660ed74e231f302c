"""The CG-SENSE model: conjugate gradients on the Tikhonov-regularised normal equations."""

from __future__ import annotations

import torch
from torch import nn

from recon_cli.errors import ModelError
from recon_cli.ops.base import LinearOperator
from recon_cli.solvers.iterative import conjugate_gradient
from recon_plugins.sense.config import SenseConfig


class CgSense(nn.Module):
    """x = argmin ||A x - y||_D^2 + lam ||x||^2, i.e. (A^H D A + lam I) x = A^H D y, by CG.

    D is the operator's density compensation when ``density_weighted`` (identity for Cartesian data and
    when off). Frames are solved as independent systems (the operators apply A frame by frame), each
    stopping at its own tolerance; CG starts from ``x0`` or zero. On undersampled radial data the
    iteration count acts as a regulariser too.
    """

    def __init__(self, config: SenseConfig) -> None:
        super().__init__()
        self.config = config
        # How the pipeline should treat coil maps: "required", "optional" (used when given) or "ignored".
        self.coil_maps = "required"
        self.last_iterations = 0

    def forward(
        self, kspace: torch.Tensor, op: LinearOperator, x0: torch.Tensor | None = None
    ) -> torch.Tensor:
        """kspace: (frames, coils, ...) complex64; x0: (frames, ny, nx) or None -> (frames, ny, nx)."""
        if getattr(op, "maps", None) is None:
            raise ModelError("sense: needs coil maps (give --coils or let them be estimated)")
        lam, weighted = self.config.lam, self.config.density_weighted

        def regularised_normal(x: torch.Tensor) -> torch.Tensor:
            return op.normal(x, weighted=weighted) + lam * x

        result = conjugate_gradient(
            regularised_normal,
            op.gridding(kspace) if weighted else op.adjoint(kspace),
            x0,
            max_iter=self.config.iterations,
            tol=self.config.tol,
            batch_dims=1,
        )
        self.last_iterations = result.iterations
        return result.x.to(kspace.dtype)

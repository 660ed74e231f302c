"""The zero-filled model: one adjoint (with density compensation), then coil combination."""

from __future__ import annotations

import torch

from recon_cli.errors import ModelError
from recon_cli.nn.slice_model import SliceModel
from recon_cli.ops.base import LinearOperator
from recon_cli.ops.functional import rss
from recon_cli.ops.nufft import NonCartesianSense, ramp_dcf
from recon_plugins.zero_filled.config import ZeroFilledConfig


class ZeroFilled(SliceModel):
    """x = combine(A^H D y): D is the density compensation (identity for Cartesian data)."""

    def __init__(self, config: ZeroFilledConfig) -> None:
        super().__init__()
        self.config = config
        # How the pipeline should treat coil maps: "required", "optional" (used when given) or "ignored".
        self.coil_maps = {"auto": "optional", "rss": "ignored", "sense": "required"}[config.combine]

    def reconstruct(self, kspace: torch.Tensor, op: LinearOperator, x0: torch.Tensor | None) -> torch.Tensor:
        """Density-compensated adjoint, coil-combined with the maps (else root sum of squares); x0 ignored."""
        has_maps = getattr(op, "maps", None) is not None
        if self.config.combine == "sense" and not has_maps:
            raise ModelError("zero-filled: combine='sense' needs coil maps (give --coils or estimate them)")
        weighted = kspace * self._density(op).to(kspace.dtype)
        image = op.adjoint(weighted)
        if not has_maps:
            return rss(image).to(kspace.dtype)
        norm = torch.sum(op.maps.abs() ** 2, dim=0)
        return torch.where(norm > 0, image / norm.clamp_min(torch.finfo(norm.dtype).tiny), 0)

    def _density(self, op: LinearOperator) -> torch.Tensor:
        if not isinstance(op, NonCartesianSense) or self.config.density_compensation == "none":
            return torch.ones(())
        if self.config.density_compensation == "ramp":
            return ramp_dcf(op.traj, op.im_size)
        return op.dcf

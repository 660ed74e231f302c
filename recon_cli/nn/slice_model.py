"""The base class of the plugins' modules: the contract's ``forward`` written (and documented) once.

``forward(kspace, op, x0)`` is what the pipeline calls (``recon_cli.contract.ReconModel``); a plugin's
module subclasses ``SliceModel``, sets ``coil_maps`` and implements ``reconstruct`` with the same
arguments, documenting there only what is its own (the default start, the data it refuses).
"""

from __future__ import annotations

import torch
from torch import nn

from recon_cli.contract import CoilMapsMode
from recon_cli.ops.base import LinearOperator


class SliceModel(nn.Module):
    """A model plugin's module: reconstructs one slice from its measured data and forward model."""

    coil_maps: CoilMapsMode

    def forward(
        self, kspace: torch.Tensor, op: LinearOperator, x0: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Reconstruct one slice.

        Args:
            kspace: (frames, coils, ny, nx) Cartesian or (frames, coils, samples) non-Cartesian, complex64.
            op: The slice's forward model, with coil maps unless ``coil_maps`` is "ignored"; image domain
                (frames, ny, nx).
            x0: (frames, ny, nx) complex starting image; None: the model's own start (``reconstruct``).

        Returns:
            (frames, ny, nx) complex64.
        """
        return self.reconstruct(kspace, op, x0)

    def reconstruct(self, kspace: torch.Tensor, op: LinearOperator, x0: torch.Tensor | None) -> torch.Tensor:
        """The model's computation, arguments and result as ``forward``'s (each subclass implements it)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement reconstruct")

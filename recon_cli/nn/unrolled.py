"""The block shared by unrolled and fixed-point networks: a gradient step on data fidelity plus regulariser.

    x_{k+1} = x_k - t (A^H D (A x_k - y) + R(x_k)),   A^H D (A x - y) = op.normal(x, weighted=True) - A^H D y

with a learnable positive step t (softplus of a free parameter) and a learned regulariser R.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from recon_cli.errors import ModelError
from recon_cli.ops.base import LinearOperator


class GradientStepBlock(nn.Module):
    """One step x - t (A^H D (A x - y) + R(x)).

    Args:
        regulariser: Module mapping (frames, ny, nx) complex64 to the same shape and dtype.
        step_init: Initial step t (> 0).
    """

    def __init__(self, regulariser: nn.Module, step_init: float) -> None:
        super().__init__()
        if step_init <= 0:
            raise ValueError(f"step_init must be positive, got {step_init}")
        self.regulariser = regulariser
        self.step_raw = nn.Parameter(torch.tensor(math.log(math.expm1(step_init))))

    @property
    def step(self) -> torch.Tensor:
        """The step t = softplus(step_raw) > 0, a () float32 tensor."""
        return F.softplus(self.step_raw)

    def forward(self, x: torch.Tensor, op: LinearOperator, gridded: torch.Tensor) -> torch.Tensor:
        """Apply the step.

        Args:
            x: (frames, ny, nx) complex64 current image.
            op: Forward model with coil maps (image domain (frames, ny, nx)).
            gridded: (frames, ny, nx) complex64 A^H D y, the gridding of the measured data.

        Returns:
            (frames, ny, nx) complex64.
        """
        with torch.autocast(device_type=x.device.type, enabled=False):
            data_gradient = op.normal(x, weighted=True).to(torch.complex64) - gridded
        return x - self.step * (data_gradient + self.regulariser(x))


def sense_gridding(kspace: torch.Tensor, op: LinearOperator, model: str) -> torch.Tensor:
    """A^H D y coil-combined by the operator's maps, in full precision even under autocast.

    Args:
        kspace: (frames, coils, ...) complex64 measured data.
        op: Forward model; must hold coil maps.
        model: Model name for the error message.

    Returns:
        (frames, ny, nx) complex64.

    Raises:
        ModelError: the operator has no coil maps.
    """
    if getattr(op, "maps", None) is None:
        raise ModelError(f"{model}: needs coil maps (give --coils or let recon estimate them)")
    with torch.autocast(device_type=kspace.device.type, enabled=False):
        return op.gridding(kspace).to(torch.complex64)

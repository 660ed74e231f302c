"""Learnable piecewise-linear shrinkage: the nonlinear transform of ADMM-Net and IFR-Net.

The function of each channel is fixed by its values ``q_i`` at control points ``p_i`` spaced uniformly on
[-1, 1] (Yang et al., "Deep ADMM-Net for compressive sensing MRI", NeurIPS 2016, eq. 9):

    S(x) = q_i + (x - p_i) (q_{i+1} - q_i) / (p_{i+1} - p_i)   for p_i <= x <= p_{i+1},
    S(x) = x - p_1 + q_1                                       for x < p_1 = -1,
    S(x) = x - p_N + q_N                                       for x > p_N = 1,

so it interpolates linearly between control points and continues with slope one outside [-1, 1] (large
coefficients are kept, shifted like a soft threshold). The values are the learnable parameters, one set
per channel, initialised to a soft threshold ``sign(p) max(|p| - t, 0)`` (or to the identity for channels
that should not be shrunk, such as the output of a low-pass filter).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


class PiecewiseLinearShrink(nn.Module):
    """Per-channel piecewise-linear function with learnable values at fixed control points on [-1, 1].

    Args:
        channels: Number of channels C (each has its own function).
        points: Number of control points N (>= 2), uniformly spaced from -1 to 1.
        threshold: Initial soft threshold t (0 gives the identity).
        identity_channels: Channels initialised to the identity instead of the soft threshold.

    Attributes:
        positions: (N,) float32 buffer, the control points p.
        values: (C, N) float32 parameter, the function values q at the control points.
    """

    positions: torch.Tensor

    def __init__(
        self,
        channels: int,
        points: int = 101,
        threshold: float = 0.05,
        identity_channels: Iterable[int] = (),
    ) -> None:
        super().__init__()
        if channels < 1 or points < 2:
            raise ValueError(f"need channels >= 1 and points >= 2, got {channels} and {points}")
        if threshold < 0:
            raise ValueError(f"threshold must be >= 0, got {threshold}")
        positions = torch.linspace(-1.0, 1.0, points)
        self.register_buffer("positions", positions)
        soft = torch.sign(positions) * torch.clamp(positions.abs() - threshold, min=0.0)
        values = soft.repeat(channels, 1)
        for c in identity_channels:
            values[c] = positions
        self.values = nn.Parameter(values)
        self.channels, self.points = int(channels), int(points)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """S(x) channel by channel.

        Args:
            x: (batch, C, ...) real (any floating dtype; computed in the parameters' dtype).

        Returns:
            Same shape as x, the parameters' dtype.
        """
        if x.dim() < 2 or x.shape[1] != self.channels:
            raise ValueError(
                f"PiecewiseLinearShrink: expected (batch, {self.channels}, ...), got {tuple(x.shape)}"
            )
        x = x.to(self.values.dtype)
        n = self.points
        inside = x.clamp(-1.0, 1.0)
        t = (inside + 1.0) * ((n - 1) / 2.0)  # position in units of the control-point spacing
        index = t.detach().floor().clamp(0, n - 2).long()
        frac = t - index.to(t.dtype)
        shape = (1, self.channels) + (1,) * (x.dim() - 2)
        offset = (torch.arange(self.channels, device=x.device) * n).reshape(shape)
        flat = self.values.reshape(-1)
        left = flat[index + offset]
        right = flat[index + offset + 1]
        return left + frac * (right - left) + (x - inside)  # slope one beyond the end points

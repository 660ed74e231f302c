"""Plain convolutional stacks and complex buffers for unrolled networks (cascades, primal-dual).

Unrolled networks keep several complex images (or k-space arrays) per frame, a *buffer*: a complex tensor
``(frames, channels, *spatial)``. Convolutions see it as real channels, the real parts first and then the
imaginary parts; ``buffer_to_channels`` / ``channels_to_buffer`` are the only place that split happens.
"""

from __future__ import annotations

import torch
from torch import nn


class ConvStack(nn.Sequential):
    """``layers`` 'same'-padded convolutions with ReLU between them, no normalisation.

    (N, in_chans, *spatial) float -> (N, out_chans, *spatial), spatial of length ``dims``.

    Args:
        in_chans: Input channels.
        out_chans: Output channels.
        features: Channels of the hidden layers.
        layers: Number of convolutions (>= 2).
        dims: 1 or 2 spatial dimensions.
        kernel_size: Odd kernel size.
        bias: Learn biases (off keeps the stack positively homogeneous: f(c x) = c f(x) for c > 0).
        out_init_scale: Factor on the last layer's initial weights (small: the stack starts near zero,
            which suits a residual update).
    """

    def __init__(
        self,
        in_chans: int,
        out_chans: int,
        features: int = 32,
        layers: int = 3,
        dims: int = 2,
        kernel_size: int = 3,
        bias: bool = True,
        out_init_scale: float = 1.0,
    ) -> None:
        if layers < 2 or dims not in (1, 2) or kernel_size % 2 != 1:
            raise ValueError(f"ConvStack needs layers >= 2, dims 1 or 2, odd kernel; got {layers}, {dims}")
        conv = nn.Conv1d if dims == 1 else nn.Conv2d
        widths = [in_chans] + [features] * (layers - 1) + [out_chans]
        modules: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            modules.append(conv(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=bias))
            if i < layers - 1:
                modules.append(nn.ReLU(inplace=True))
        super().__init__(*modules)
        last = modules[-1]
        assert isinstance(last, nn.Conv1d | nn.Conv2d)
        with torch.no_grad():
            last.weight.mul_(out_init_scale)
            if last.bias is not None:
                last.bias.zero_()


def buffer_to_channels(buffer: torch.Tensor) -> torch.Tensor:
    """Complex buffer to real channels.

    Args:
        buffer: (N, C, *spatial) complex.

    Returns:
        (N, 2C, *spatial) float32: C real parts, then C imaginary parts.
    """
    buffer = buffer.to(torch.complex64)
    return torch.cat([buffer.real, buffer.imag], dim=1)


def channels_to_buffer(channels: torch.Tensor) -> torch.Tensor:
    """Inverse of ``buffer_to_channels``: (N, 2C, *spatial) real -> (N, C, *spatial) complex64."""
    real, imag = channels.float().chunk(2, dim=1)
    return torch.complex(real, imag)


def apply_complex(net: nn.Module, buffer: torch.Tensor) -> torch.Tensor:
    """A real network on a complex buffer: (N, C_in, *spatial) complex -> (N, C_out, *spatial) complex64."""
    return channels_to_buffer(net(buffer_to_channels(buffer)))

"""A 2D U-Net (Ronneberger et al. 2015) for image-domain reconstruction, in the fastMRI baseline's shape.

Each level holds two 3x3 convolutions with instance normalisation and leaky ReLU; the encoder halves the
size with 2x2 average pooling and doubles the channels, the decoder upsamples with a 2x2 transposed
convolution and concatenates the skip connection. Inputs of any size are zero-padded to a multiple of
``2 ** num_pools`` and the output is cropped back. Instance normalisation keeps no running statistics,
so training and evaluation modes compute the same function.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


class ConvBlock(nn.Sequential):
    """(3x3 conv -> instance norm -> leaky ReLU) twice. (N, in_chans, H, W) -> (N, out_chans, H, W)."""

    def __init__(self, in_chans: int, out_chans: int) -> None:
        layers: list[nn.Module] = []
        for c_in in (in_chans, out_chans):
            layers += [
                nn.Conv2d(c_in, out_chans, kernel_size=3, padding=1, bias=False),
                nn.InstanceNorm2d(out_chans),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        super().__init__(*layers)


class UNet(nn.Module):
    """U-Net on real channels.

    Args:
        in_chans: Input channels (2 for a complex image as real and imaginary parts).
        out_chans: Output channels.
        chans: Channels of the first level; level ``i`` has ``chans * 2**i``.
        num_pools: Number of down-sampling steps (the depth).
    """

    def __init__(self, in_chans: int, out_chans: int, chans: int = 32, num_pools: int = 4) -> None:
        super().__init__()
        if chans < 1 or num_pools < 1:
            raise ValueError(f"UNet needs chans >= 1 and num_pools >= 1, got {chans}, {num_pools}")
        widths = [chans * 2**i for i in range(num_pools + 1)]
        self.num_pools = num_pools
        self.down = nn.ModuleList(
            ConvBlock(c_in, c_out) for c_in, c_out in zip([in_chans, *widths[:-2]], widths[:-1], strict=True)
        )
        self.bottom = ConvBlock(widths[-2], widths[-1])
        self.upsample = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], kernel_size=2, stride=2) for i in range(num_pools)
        )
        self.up = nn.ModuleList(ConvBlock(2 * widths[i], widths[i]) for i in range(num_pools))
        self.head = nn.Conv2d(chans, out_chans, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, in_chans, H, W) float -> (N, out_chans, H, W), any H and W."""
        height, width = x.shape[-2:]

        def up(level: int, skip: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            return self.up[level](torch.cat([skip, self.upsample[level](x)], dim=1))

        return u_pass(x, _padding(height, width, self.num_pools), self.down, self.bottom, up, self.head)


def u_pass(
    x: torch.Tensor,
    padding: tuple[int, int, int, int],
    down: nn.ModuleList,
    bottom: nn.Module,
    up: Callable[[int, torch.Tensor, torch.Tensor], torch.Tensor],
    head: nn.Module,
) -> torch.Tensor:
    """The pass every U-Net here makes: pad, encode, decode with skip connections, crop back.

    Args:
        x: (N, C, H, W) input (any H and W).
        padding: ``F.pad`` widths (left, right, top, bottom) to a grid the poolings divide exactly.
        down: Encoder stages; each one's output is kept as a skip, then 2 x 2 average-pooled.
        bottom: The coarsest stage.
        up: ``up(level, skip, x)``: upsample ``x`` to ``skip``'s level and join them, from the coarsest
            level to the finest.
        head: The output layer.

    Returns:
        (N, out channels, H, W): ``head``'s output cropped to the input's size.
    """
    height, width = x.shape[-2:]
    x = F.pad(x, padding)
    skips = []
    for stage in down:
        x = stage(x)
        skips.append(x)
        # the strided form is ~3x faster forward but slower through autograd (docs/benchmarks.md, pooling)
        x = F.avg_pool2d(x, 2) if x.requires_grad else average_pool_2x2(x)
    x = bottom(x)
    for level in reversed(range(len(skips))):
        x = up(level, skips[level], x)
    x = head(x)
    top, left = (x.shape[-2] - height) // 2, (x.shape[-1] - width) // 2
    return x[..., top : top + height, left : left + width]


def average_pool_2x2(x: torch.Tensor) -> torch.Tensor:
    """``F.avg_pool2d(x, 2)`` for even H and W, as four strided views added: the same values (to float
    rounding) at about a third of the time on the CPU for the U-Nets' shapes without autograd, but
    slower forward + backward (docs/benchmarks.md, pooling), so ``u_pass`` uses it only where no
    gradient is recorded (reconstruction, and the iterations JFB runs without a graph)."""
    return 0.25 * ((x[..., 0::2, 0::2] + x[..., 1::2, 0::2]) + (x[..., 0::2, 1::2] + x[..., 1::2, 1::2]))


def _padding(height: int, width: int, num_pools: int) -> tuple[int, int, int, int]:
    """F.pad widths (left, right, top, bottom) that centre an image in a grid the pools divide exactly.

    The grid is at least ``2 ** (num_pools + 1)`` on each side so the coarsest level keeps 2 x 2 pixels
    (instance normalisation needs more than one).
    """
    factor = 2**num_pools

    def split(n: int) -> tuple[int, int]:
        target = max(-(-n // factor) * factor, 2 * factor)
        extra = target - n
        return extra // 2, extra - extra // 2

    (top, bottom), (left, right) = split(height), split(width)
    return left, right, top, bottom

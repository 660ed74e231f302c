"""A multi-level wavelet CNN (MWCNN; Liu et al., CVPR Workshops 2018) for image-domain updates.

Where a U-Net pools and upsamples, the MWCNN takes a one-level 2D Haar transform (four sub-bands stacked
as channels: nothing is lost) and inverts it on the way up; the skip connections are sums. The discrete
wavelet transforms come from ``ptwt`` (PyTorch wavelet toolbox), so gradients flow through them.
Inputs of any size are zero-padded to a multiple of ``2 ** levels`` and the output is cropped back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from ptwt.constants import WaveletDetailTuple2d
from ptwt.conv_transform_2 import wavedec2, waverec2
from torch import nn

WAVELET = "haar"


def dwt(x: torch.Tensor) -> torch.Tensor:
    """One-level 2D Haar transform. (N, C, H, W) float, H and W even -> (N, 4C, H/2, W/2): the
    approximation band, then the horizontal, vertical and diagonal details, each C channels."""
    approx, *details = wavedec2(x, WAVELET, level=1, mode="zero")  # [approx, (h, v, d)]
    return torch.cat([approx, *details[0]], dim=1)


def idwt(x: torch.Tensor) -> torch.Tensor:
    """Inverse of ``dwt``: (N, 4C, H, W) -> (N, C, 2H, 2W)."""
    approx, horizontal, vertical, diagonal = x.chunk(4, dim=1)
    return waverec2((approx, WaveletDetailTuple2d(horizontal, vertical, diagonal)), WAVELET)


def _block(in_chans: int, out_chans: int, convs: int = 2) -> nn.Sequential:
    """``convs`` 3x3 convolutions, each followed by ReLU."""
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [nn.Conv2d(in_chans if i == 0 else out_chans, out_chans, 3, padding=1), nn.ReLU(True)]
    return nn.Sequential(*layers)


class MWCNN(nn.Module):
    """Multi-level wavelet CNN on real channels.

    Args:
        in_chans: Input channels.
        out_chans: Output channels.
        chans: Channels of the first level; level ``i`` has ``chans * 2**i``.
        levels: Number of wavelet levels (down-sampling steps).
        out_init_scale: Factor on the output convolution's initial weights (small for a residual update).
    """

    def __init__(
        self, in_chans: int, out_chans: int, chans: int = 32, levels: int = 2, out_init_scale: float = 0.1
    ) -> None:
        super().__init__()
        if chans < 1 or levels < 1:
            raise ValueError(f"MWCNN needs chans >= 1 and levels >= 1, got {chans}, {levels}")
        widths = [chans * 2**i for i in range(levels + 1)]
        self.levels = levels
        self.head = _block(in_chans, widths[0])
        self.down = nn.ModuleList(_block(4 * widths[i], widths[i + 1], 3) for i in range(levels))
        self.up = nn.ModuleList(
            nn.Sequential(
                _block(widths[i + 1], widths[i + 1]), nn.Conv2d(widths[i + 1], 4 * widths[i], 3, padding=1)
            )
            for i in range(levels)
        )
        self.merge = nn.ModuleList(_block(widths[i], widths[i]) for i in range(levels))
        self.tail = nn.Conv2d(widths[0], out_chans, 3, padding=1)
        with torch.no_grad():
            self.tail.weight.mul_(out_init_scale)
            assert self.tail.bias is not None
            self.tail.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, in_chans, H, W) float -> (N, out_chans, H, W), any H and W."""
        height, width = x.shape[-2:]
        factor = 2**self.levels
        pad_y, pad_x = -height % factor, -width % factor
        x = F.pad(x, (pad_x // 2, pad_x - pad_x // 2, pad_y // 2, pad_y - pad_y // 2))
        skips = [self.head(x)]
        for down in self.down:
            skips.append(down(dwt(skips[-1])))
        x = skips.pop()
        for level in reversed(range(self.levels)):
            x = self.merge[level](skips[level] + idwt(self.up[level](x)))
        x = self.tail(x)
        top, left = pad_y // 2, pad_x // 2
        return x[..., top : top + height, left : left + width]

"""Complex images at the network boundary: split into real channels, scale to unit level and back.

Everything outside a network stays complex (DESIGN.md section 2); these helpers are the only place a
per-frame complex image becomes the real ``(frames, 2, ny, nx)`` tensor a convolution expects.
"""

from __future__ import annotations

import torch

from recon_cli.ops.functional import channels_to_complex, complex_to_channels


def image_to_channels(image: torch.Tensor) -> torch.Tensor:
    """Complex frames to real and imaginary channels.

    Args:
        image: (frames, ny, nx) complex64.

    Returns:
        (frames, 2, ny, nx) float32: channel 0 the real part, channel 1 the imaginary part.
    """
    return complex_to_channels(image.unsqueeze(1), dim=1)


def channels_to_image(channels: torch.Tensor) -> torch.Tensor:
    """Inverse of ``image_to_channels``.

    Args:
        channels: (frames, 2, ny, nx) real (any floating dtype; computed in float32).

    Returns:
        (frames, ny, nx) complex64.
    """
    return channels_to_complex(channels.float(), dim=1).squeeze(1)


def rms_scale(image: torch.Tensor) -> torch.Tensor:
    """Root-mean-square magnitude of a whole image series, a scale that makes networks intensity-free.

    Args:
        image: (frames, ny, nx) complex.

    Returns:
        () float32 tensor, never below the smallest normal float32 (an all-zero input gives that).
    """
    level = torch.sqrt(torch.mean(image.real.float() ** 2 + image.imag.float() ** 2))
    return level.clamp_min(torch.finfo(torch.float32).tiny)

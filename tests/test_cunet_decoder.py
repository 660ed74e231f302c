"""CU-Net convolutions computed without their textbook intermediates give the textbook results, exactly.

References: the textbook formulations (``F.interpolate`` nearest 2x, then a 3x3 ``F.conv2d``; concatenate
the skip and the upsampled map, then convolve; ``F.conv3d`` of the frames as one volume), compared in
values and in gradients, at odd and even sizes, with and without spectral normalisation.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from recon_cli.nn.cunet import CUNet, joined_conv, upsampled_conv


def _assert_same_gradients(
    ours: torch.Tensor, reference: torch.Tensor, inputs: tuple[torch.Tensor, ...]
) -> None:
    """The gradients of the scalars ``ours`` and ``reference`` with respect to ``inputs`` agree."""
    grads = torch.autograd.grad(ours, inputs)
    expected = torch.autograd.grad(reference, inputs)
    for g, e in zip(grads, expected, strict=True):
        assert torch.allclose(g, e, atol=1e-4)


@pytest.mark.parametrize("size", [(5, 7), (8, 8), (1, 3)])
def test_upsampled_conv_is_conv_of_the_nearest_upsampling(size: tuple[int, int]) -> None:
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(4, 6, *size, generator=gen, requires_grad=True)
    weight = torch.randn(5, 6, 3, 3, generator=gen, requires_grad=True)
    ours = upsampled_conv(x, weight)
    reference = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), weight, padding=1)
    assert ours.shape == reference.shape == (4, 5, 2 * size[0], 2 * size[1])
    assert torch.allclose(ours, reference, atol=1e-5)
    probe = torch.randn(reference.shape, generator=gen)
    _assert_same_gradients((ours * probe).sum(), (reference * probe).sum(), (x, weight))


def _textbook(net: CUNet, image: torch.Tensor) -> torch.Tensor:
    """The CU-Net's forward with the decoder written out: upsample, concatenate (real parts, then
    imaginary parts), convolve."""
    from recon_cli.nn.cunet import _padding, _with_context
    from recon_cli.nn.unet import u_pass
    from recon_cli.ops.functional import channels_to_complex, complex_to_channels

    x = complex_to_channels(_with_context(image, None, 0), dim=1)

    def up(level: int, skip: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        upsampled = F.interpolate(coarse, scale_factor=2, mode="nearest")
        (sr, si), (ur, ui) = skip.chunk(2, dim=1), upsampled.chunk(2, dim=1)
        joined = torch.cat([sr, ur, si, ui], dim=1) * net.skip_scale
        return net.up[level](joined)

    out = u_pass(x, _padding(*image.shape[-2:], net.depth), net.down, net.bottom, up, net.head)
    return channels_to_complex(out, dim=1).squeeze(1)


@pytest.mark.parametrize("spectral_norm", [False, True])
def test_cunet_equals_its_textbook_decoder(spectral_norm: bool) -> None:
    torch.manual_seed(0)
    net = CUNet(chans=3, depth=2, out_init_scale=1.0, spectral_norm=spectral_norm).eval()
    image = torch.randn(5, 19, 22, dtype=torch.complex64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, reference = net(image), _textbook(net, image)
    assert torch.allclose(ours, reference, atol=1e-5 * float(reference.abs().max()))


def test_joined_conv_gradients_match_the_concatenation() -> None:
    from recon_cli.nn.cunet import ComplexConv3d

    gen = torch.Generator().manual_seed(5)
    conv = ComplexConv3d(2 + 3, 4, (1, 3, 3))
    skip = torch.randn(3, 4, 6, 6, generator=gen, requires_grad=True)  # 2 complex channels
    coarse = torch.randn(3, 6, 3, 3, generator=gen, requires_grad=True)  # 3 complex channels
    ours = joined_conv(conv, skip, coarse)
    (sr, si), (ur, ui) = skip.chunk(2, 1), F.interpolate(coarse, scale_factor=2, mode="nearest").chunk(2, 1)
    reference = conv(torch.cat([sr, ur, si, ui], dim=1))
    assert torch.allclose(ours, reference, atol=1e-5)
    inputs = (skip, coarse, conv.weight_real, conv.weight_imag)
    _assert_same_gradients(ours.square().sum(), reference.square().sum(), inputs)


@pytest.mark.parametrize(
    ("kernel", "padding", "frames"),
    [((3, 1, 1), (1, 0, 0), 5), ((3, 1, 1), (1, 0, 0), 1), ((5, 1, 1), (2, 0, 0), 2),
     ((3, 1, 1), (0, 0, 0), 4), ((1, 3, 3), (0, 1, 1), 3), ((3, 3, 3), (1, 1, 1), 4)],
)  # fmt: skip
def test_frame_convolutions_equal_conv3d(kernel: tuple[int, int, int], padding: tuple, frames: int) -> None:
    """``conv3d_frames`` (shifted matrix products for temporal kernels, stacked 2D convolutions else)
    against ``F.conv3d`` on the (1, C, T, Y, X) volume, values and gradients."""
    from recon_cli.nn.cunet import conv3d_frames

    gen = torch.Generator().manual_seed(7)
    x = torch.randn(frames, 4, 6, 5, generator=gen, requires_grad=True)
    weight = torch.randn(3, 4, *kernel, generator=gen, requires_grad=True)
    ours = conv3d_frames(x, weight, padding)
    reference = F.conv3d(x.transpose(0, 1).unsqueeze(0), weight, padding=padding)[0].transpose(0, 1)
    assert ours.shape == reference.shape
    assert torch.allclose(ours, reference, atol=1e-5)
    probe = torch.randn(reference.shape, generator=gen)
    _assert_same_gradients((ours * probe).sum(), (reference * probe).sum(), (x, weight))

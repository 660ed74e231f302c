"""A complex-valued (2+1)D U-Net for cine images: spatial 3x3 then temporal 3 convolutions at every stage.

Complex convolutions are real 3D convolutions on stacked ``[real, imaginary]`` channels whose weight obeys
the complex multiplication rule: with W = Wr + i Wi, the real part of W * x is Wr * xr - Wi * xi and the
imaginary part Wi * xr + Wr * xi, so one real convolution with the block weight [[Wr, -Wi], [Wi, Wr]]
computes both. Inside the network a complex feature map of C channels is a real (T, 2C, Y, X) tensor,
frames first, the first C channels real parts and the last C imaginary parts: frames are the batch of
2D convolutions, and temporal kernels are 2D convolutions over (T, Y * X), which CPU backends run
several times faster than the equivalent 3D convolutions.

Leaky ReLU acts on real and imaginary parts separately; pooling is 2 x 2 spatial averaging; the decoder
upsamples by nearest-neighbour repetition and concatenates the skip connection. No layer has a bias or a
normalisation, so the network is positively homogeneous: CUNet(c x) = c CUNet(x) for c > 0, and
reconstructions do not depend on the data's absolute intensity.
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from recon_cli.nn.unet import u_pass
from recon_cli.ops.functional import channels_to_complex, complex_to_channels

SPECTRAL_MARGIN = 1.1
TEMPORAL_KERNEL = 3  # frames of every stage's temporal convolution and of the head's 3x3x3 one


class ComplexConv3d(nn.Module):
    """Complex 3D convolution (no bias) on stacked real/imaginary channels, 'same' zero padding.

    Args:
        in_chans: Complex input channels.
        out_chans: Complex output channels.
        kernel_size: (kt, ky, kx), odd sizes.
        init_scale: Factor on the default (Kaiming-uniform) initialisation, e.g. small for an output layer.
    """

    def __init__(
        self,
        in_chans: int,
        out_chans: int,
        kernel_size: tuple[int, int, int],
        init_scale: float = 1.0,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        shape = (out_chans, in_chans, *kernel_size)
        bound = init_scale / math.sqrt(2 * in_chans * math.prod(kernel_size))
        self.weight_real = nn.Parameter(torch.empty(shape).uniform_(-bound, bound))
        self.weight_imag = nn.Parameter(torch.empty(shape).uniform_(-bound, bound))
        self.padding = (kernel_size[0] // 2, kernel_size[1] // 2, kernel_size[2] // 2)
        self.spectral_norm = spectral_norm
        self._cache: tuple[tuple[object, ...], torch.Tensor] | None = None
        if spectral_norm:
            grid = tuple(n if k > 1 else 1 for n, k in zip((8, 16, 16), kernel_size, strict=True))
            self.register_buffer("probe", torch.randn(1, 2 * in_chans, *grid))

    def block_weight(self) -> torch.Tensor:
        """The real (2 out, 2 in, kt, ky, kx) weight [[Wr, -Wi], [Wi, Wr]]; with ``spectral_norm``, divided
        by max(1, sigma), sigma the operator norm of the convolution itself.

        sigma comes from power iteration on W^T W applied to a persistent probe volume (8 frames x 16 x 16
        pixels along the kernel's axes; one iteration per training call, as in spectral normalisation,
        Miyato et al. 2018, but on the convolution rather than on its reshaped kernel, whose norm can
        underestimate the convolution's by up to the square root of the kernel size). A network built
        from such layers cannot amplify differences along space or time, whatever its input's size."""
        wr, wi = self.weight_real, self.weight_imag
        # without gradients (inference, graph-free fixed-point iterations) the weight is reused while the
        # parameters (and, with spectral normalisation in training, the probe) are unchanged
        frozen = not torch.is_grad_enabled() and not (self.spectral_norm and self.training)
        key = (wr.data_ptr(), wr._version, wi.data_ptr(), wi._version, self.training, wr.dtype)
        if frozen and self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        weight = self._block_weight(wr, wi)
        if frozen:
            self._cache = (key, weight)
        return weight

    def _block_weight(self, wr: torch.Tensor, wi: torch.Tensor) -> torch.Tensor:
        weight = torch.cat([torch.cat([wr, -wi], dim=1), torch.cat([wi, wr], dim=1)], dim=0)
        if not self.spectral_norm:
            return weight
        with torch.no_grad():
            stored = cast(torch.Tensor, self.probe)
            probe = stored / stored.norm()
            image = F.conv3d(probe, weight, padding=self.padding)
            back = F.conv_transpose3d(image, weight, padding=self.padding)  # the adjoint convolution
            if self.training:
                stored.copy_(back / back.norm())
            probe = back / back.norm()
        # the probe's borders make its estimate a few per cent low: 10% margin
        sigma = F.conv3d(probe, weight, padding=self.padding).norm() * SPECTRAL_MARGIN
        return weight / sigma.clamp_min(1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (T, 2 * in_chans, Y, X) float, frames first -> (T, 2 * out_chans, Y, X)."""
        return conv3d_frames(x, self.block_weight().to(x.dtype), self.padding)


def conv3d_frames(x: torch.Tensor, weight: torch.Tensor, padding: tuple[int, int, int]) -> torch.Tensor:
    """A 3D convolution (no bias) of a frames-first volume: ``F.conv3d`` on x as (1, C, T, Y, X), in and out
    laid out (T, C, Y, X).

    * A purely temporal kernel (kt, 1, 1) is a 2D convolution over (T, Y * X) of the (C, T, Y * X) view.
    * Any other kernel is one 2D convolution of every frame with the kernel's kt spatial slices stacked as
      output channels, whose kt outputs are summed with their temporal shifts.

    Args:
        x: (T, C_in, Y, X) float.
        weight: (C_out, C_in, kt, ky, kx) float.
        padding: (pt, py, px) zero padding, as for ``F.conv3d``.

    Returns:
        (T', C_out, Y', X') with T', Y', X' as ``F.conv3d`` gives them.
    """
    frames, chans, height, width = x.shape
    out_chans, _, kt, ky, kx = weight.shape
    pt, py, px = padding
    if (ky, kx, py, px) == (1, 1, 0, 0) and pt == kt // 2:  # 'same' in time: shifted matrix products
        return _temporal_products(x, weight[:, :, :, 0, 0], pt)
    if (ky, kx, py, px) == (1, 1, 0, 0):  # (C, T, Y X) layout: a 2D convolution over (T, Y X)
        columns = x.reshape(frames, chans, height * width).transpose(0, 1).unsqueeze(0)
        out = F.conv2d(columns, weight[..., 0], padding=(pt, 0))[0]
        return out.transpose(0, 1).reshape(-1, out_chans, height, width)
    stacked = weight.transpose(1, 2).reshape(out_chans * kt, chans, ky, kx)  # kt kernels per output
    per_frame = F.conv2d(x, stacked, padding=(py, px))
    if kt == 1 and pt == 0:
        return per_frame
    per_frame = per_frame.reshape(frames, out_chans, kt, *per_frame.shape[-2:])
    per_frame = F.pad(per_frame, (0, 0, 0, 0, 0, 0, 0, 0, pt, pt))  # zero frames before and after
    t_out = frames + 2 * pt - kt + 1
    out = per_frame[0:t_out, :, 0]
    for k in range(1, kt):
        out = out + per_frame[k : k + t_out, :, k]
    return out


def _temporal_products(x: torch.Tensor, taps: torch.Tensor, pad: int) -> torch.Tensor:
    """A purely temporal 'same' convolution as one matrix product per tap: output frame t is the sum over
    taps k of taps[:, :, k] @ x[t + k - pad] (frames outside the series are zero), on the frames-first
    layout as it is (no transposes; at the first level of a CU-Net about 3x faster on a CPU than the
    convolution over (T, Y X)).

    Args:
        x: (T, C_in, Y, X) float.
        taps: (C_out, C_in, kt) float.
        pad: kt // 2.

    Returns:
        (T, C_out, Y, X).
    """
    frames, chans, height, width = x.shape
    flat = x.reshape(frames, chans, height * width)
    out = torch.matmul(taps[:, :, pad], flat)
    for k in range(taps.shape[-1]):
        shift = k - pad
        if shift < 0 and frames + shift > 0:
            out[-shift:] += torch.matmul(taps[:, :, k], flat[: frames + shift])
        elif shift > 0 and frames - shift > 0:
            out[: frames - shift] += torch.matmul(taps[:, :, k], flat[shift:])
    return out.reshape(frames, -1, height, width)


class SpatioTemporalStage(nn.Sequential):
    """Spatial 1x3x3 complex conv -> leaky ReLU -> temporal 3x1x1 complex conv -> leaky ReLU.

    (T, 2 * in_chans, Y, X) -> (T, 2 * out_chans, Y, X).
    """

    def __init__(self, in_chans: int, out_chans: int, spectral_norm: bool = False) -> None:
        super().__init__(
            ComplexConv3d(in_chans, out_chans, (1, 3, 3), spectral_norm=spectral_norm),
            nn.LeakyReLU(0.1, inplace=True),
            ComplexConv3d(out_chans, out_chans, (TEMPORAL_KERNEL, 1, 1), spectral_norm=spectral_norm),
            nn.LeakyReLU(0.1, inplace=True),
        )


def joined_conv(conv: ComplexConv3d, skip: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
    """``conv`` of ``skip`` and the nearest 2x upsampling of ``coarse`` joined along channels (real parts
    first, then imaginary parts) for a spatial 1x3x3 ``conv``, computed without the upsampled or the
    joined feature maps.

    The convolution is linear in its input, so it splits into the skip's share of the weight applied to
    ``skip`` plus the coarse map's share applied to its upsampled copy; and a 3x3 convolution of a nearest-
    upsampled map is, for each of the four output phases (row and column parity), a 2x2 convolution of
    the coarse map with the taps that fall on the same coarse pixel summed (``upsampled_conv``). Same
    result up to rounding, with 4/9 of the multiplications for the coarse share.

    Args:
        conv: The decoder stage's first convolution, input channels = skip's + coarse's (complex).
        skip: (T, 2A, 2h, 2w) stacked complex feature map of the finer level.
        coarse: (T, 2B, h, w) stacked complex feature map of the coarser level.

    Returns:
        (T, 2 * out, 2h, 2w).
    """
    weight = conv.block_weight().to(skip.dtype)[:, :, 0]  # (2 out, 2 (A + B), 3, 3)
    a, b = skip.shape[1] // 2, coarse.shape[1] // 2
    # input channels of the block weight: real parts of skip and coarse, then their imaginary parts
    of_skip = torch.cat([weight[:, :a], weight[:, a + b : 2 * a + b]], dim=1)
    of_coarse = torch.cat([weight[:, a : a + b], weight[:, 2 * a + b :]], dim=1)
    return F.conv2d(skip, of_skip, padding=1).add_(upsampled_conv(coarse, of_coarse))


def upsampled_conv(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), weight, padding=1)`` for a 3x3
    ``weight`` (out, in, 3, 3), as four 2x2 convolutions of ``x`` (N, in, h, w), one per output phase.

    Output row 2i of the upsampled map reads upsampled rows 2i - 1, 2i, 2i + 1, i.e. coarse rows i - 1, i,
    i: coarse row i - 1 with the first tap and row i with the sum of the other two; output row 2i + 1
    reads coarse rows i, i, i + 1. Columns likewise.
    """
    height, width = x.shape[-2:]
    out = x.new_empty(x.shape[0], weight.shape[0], 2 * height, 2 * width)
    for a in (0, 1):
        rows = _fold_taps(weight, a, dim=2)
        for b in (0, 1):
            # a 2x2 'valid' convolution of x padded by 1 has (h + 1, w + 1) outputs; phase (a, b) is the
            # window starting at (a, b) (slicing the output, not the input, keeps the input contiguous)
            phase = F.conv2d(x, _fold_taps(rows, b, dim=3), padding=1)
            out[..., a::2, b::2] = phase[..., a : a + height, b : b + width]
    return out


def _fold_taps(weight: torch.Tensor, phase: int, dim: int) -> torch.Tensor:
    """The 3 taps of ``weight`` along ``dim`` as the 2 taps of output ``phase`` (0: even, 1: odd) on the
    coarse grid (see ``upsampled_conv``)."""
    first, middle, last = weight.unbind(dim)
    pair = (first, middle + last) if phase == 0 else (first + middle, last)
    return torch.stack(pair, dim)


class CUNet(nn.Module):
    """Complex U-Net on an image series.

    Args:
        chans: Complex channels of the first level; level ``i`` has ``chans * 2**i``.
        depth: Number of spatial down-sampling steps.
        out_init_scale: Initial scale of the final 3x3x3 convolution (small: starts near zero output).
        spectral_norm: Divide every convolution's weight by its spectral norm (as a matrix) where that
            exceeds one, which bounds (approximately) how much the network can amplify differences.
        context_chans: Complex context images given with every input (0: none; 1: e.g. the view-shared
            temporal average of ``recon_cli.nn.view_share``), stacked after the image as extra input
            channels of the first convolution. With 0 the network is exactly the one-input CU-Net.
    """

    def __init__(
        self,
        chans: int = 16,
        depth: int = 3,
        out_init_scale: float = 0.1,
        spectral_norm: bool = False,
        context_chans: int = 0,
    ) -> None:
        super().__init__()
        if chans < 1 or depth < 1 or context_chans < 0:
            raise ValueError(f"CUNet needs chans, depth >= 1 and context_chans >= 0, got {chans}, {depth}")
        widths = [chans * 2**i for i in range(depth + 1)]
        self.depth = depth
        self.context_chans = context_chans
        # Joining a skip connection stacks two paths, which can add their gains in quadrature; with
        # spectral normalisation the join is scaled by 1 / sqrt(2) so every level stays 1-Lipschitz
        # (2 x 2 average pooling and nearest upsampling have norms 1/2 and 2, which cancel).
        self.skip_scale = 1 / math.sqrt(2) if spectral_norm else 1.0
        self.down = nn.ModuleList(
            SpatioTemporalStage(c_in, c_out, spectral_norm)
            for c_in, c_out in zip([1 + context_chans, *widths[:-2]], widths[:-1], strict=True)
        )
        self.bottom = SpatioTemporalStage(widths[-2], widths[-1], spectral_norm)
        self.up = nn.ModuleList(
            SpatioTemporalStage(widths[i] + widths[i + 1], widths[i], spectral_norm) for i in range(depth)
        )
        self.head = ComplexConv3d(
            chans, 1, (TEMPORAL_KERNEL, 3, 3), init_scale=out_init_scale, spectral_norm=spectral_norm
        )

    def forward(self, image: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Apply the network to one image series.

        Args:
            image: (frames, ny, nx) complex64 (any frames, ny, nx), treated as a (1, 1, T, Y, X) volume.
            context: (context_chans, ny, nx) complex, the same for every frame, or
                (frames, context_chans, ny, nx); required exactly when ``context_chans`` > 0.

        Returns:
            (frames, ny, nx) complex64.
        """
        frames, height, width = image.shape
        stack = _with_context(image.to(torch.complex64), context, self.context_chans)
        x = complex_to_channels(stack, dim=1)  # (T, 2 (1 + context_chans), Y, X), real parts first

        def up(level: int, skip: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            first, *rest = cast(SpatioTemporalStage, self.up[level])
            x = joined_conv(cast(ComplexConv3d, first), skip, x)
            x = x * self.skip_scale if self.skip_scale != 1.0 else x
            for layer in rest:
                x = layer(x)
            return x

        x = u_pass(x, _padding(height, width, self.depth), self.down, self.bottom, up, self.head)
        return channels_to_complex(x.float(), dim=1).squeeze(1)


def temporal_reach(depth: int) -> int:
    """Frames on each side of an output frame that a ``CUNet`` of ``depth`` levels reads: the temporal
    half-kernels along its deepest path, which crosses ``depth`` encoder stages, the bottom stage and
    ``depth`` decoder stages (one temporal convolution each) and the head. Pooling and upsampling are
    spatial only, and the skip connections are shorter paths, so nothing else widens it; outside it the
    series' own zero padding in time is all a frame sees, so a window cut this far from a frame leaves
    that frame's output unchanged."""
    return (2 * depth + 2) * (TEMPORAL_KERNEL // 2)


def _with_context(image: torch.Tensor, context: torch.Tensor | None, chans: int) -> torch.Tensor:
    """(frames, ny, nx) image and its context as (frames, 1 + chans, ny, nx) complex64."""
    if (context is None) != (chans == 0):
        given = "no" if context is None else "a"
        raise ValueError(f"CUNet built for {chans} context channels got {given} context")
    if context is None:
        return image.unsqueeze(1)
    context = context.to(torch.complex64)
    if context.dim() == 3:
        context = context.unsqueeze(0)
    if context.shape[-3] != chans or context.shape[-2:] != image.shape[-2:]:
        raise ValueError(f"CUNet context must be ({chans}, ny, nx), got {tuple(context.shape)}")
    return torch.cat([image.unsqueeze(1), context.expand(image.shape[0], -1, -1, -1)], dim=1)


def _padding(height: int, width: int, depth: int) -> tuple[int, int, int, int]:
    """F.pad widths (x left, x right, y top, y bottom) centring the image on a multiple of ``2**depth``."""
    factor = 2**depth

    def split(n: int) -> tuple[int, int]:
        extra = -(-n // factor) * factor - n
        return extra // 2, extra - extra // 2

    (top, bottom), (left, right) = split(height), split(width)
    return left, right, top, bottom

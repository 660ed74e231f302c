"""The ``ifr-net`` model: stages of reconstruction, shrinkage-CNN denoising and learned feature refinement."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from recon_cli.nn.complex import channels_to_image, image_to_channels
from recon_cli.nn.data_consistency import cartesian_operator, frame_scale, tikhonov_dc, zero_filled
from recon_cli.nn.dct import dct_filter_bank
from recon_cli.nn.positive import softplus_inverse
from recon_cli.nn.shrinkage import PiecewiseLinearShrink
from recon_cli.nn.slice_model import SliceModel
from recon_cli.ops.base import LinearOperator
from recon_cli.ops.cartesian import CartesianSense
from recon_plugins.ifr_net.config import IfrNetConfig

_DESCRIPTOR_BIAS = -2.0  # the descriptor starts at sigmoid(-2) = 0.12: mostly the denoised image


class DenoisingBlock(nn.Module):
    """u <- u + mu (W2 S(W1 u) - u): convolution, piecewise-linear shrinkage, convolution, mixing.

    Args:
        channels: Image channels (1 real, 2 real and imaginary).
        config: filters, points, threshold, init.
    """

    def __init__(self, channels: int, config: IfrNetConfig) -> None:
        super().__init__()
        features = channels * config.filters
        self.analysis = nn.Conv2d(channels, features, 3, padding=1, bias=False)
        self.synthesis = nn.Conv2d(features, channels, 3, padding=1, bias=False)
        dct = config.init == "dct"
        constant = [c * config.filters for c in range(channels)] if dct else []
        self.shrink = PiecewiseLinearShrink(features, config.points, config.threshold, constant)
        self.mix = nn.Parameter(torch.ones(()))
        if dct:
            self._dct_init(channels, config.filters)

    @torch.no_grad()
    def _dct_init(self, channels: int, filters: int) -> None:
        """W1: DCT filters / 3 per channel; W2: their adjoint. With all 9 filters W2 W1 = identity."""
        bank = dct_filter_bank(3, torch.float32)[:filters] / 3.0
        self.analysis.weight.zero_()
        self.synthesis.weight.zero_()
        for c in range(channels):
            rows = slice(c * filters, (c + 1) * filters)
            self.analysis.weight[rows, c] = bank
            self.synthesis.weight[c, rows] = bank.flip(-2, -1)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """u: (frames, channels, ny, nx) float32 -> same shape."""
        v = self.synthesis(self.shrink(self.analysis(u)))
        return u + self.mix * (v - u)


class FeatureRefinement(nn.Module):
    """z = d + D (x - d), D = sigmoid(conv(relu(conv([d, x - d])))) in (0, 1), one map for all channels.

    Args:
        channels: Image channels; hidden: hidden channels of the descriptor.
    """

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.features = nn.Conv2d(2 * channels, hidden, 3, padding=1)
        self.descriptor = nn.Conv2d(hidden, 1, 3, padding=1)
        nn.init.zeros_(self.descriptor.weight)
        nn.init.constant_(self.descriptor.bias, _DESCRIPTOR_BIAS)

    def forward(self, x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        """x: reconstruction, d: denoised; both (frames, channels, ny, nx) float32 -> same shape."""
        residual = x - d
        weight = torch.sigmoid(self.descriptor(F.relu(self.features(torch.cat([d, residual], dim=1)))))
        return d + weight * residual


class IfrStage(nn.Module):
    """Reconstruction module (learnable rho), denoising module (K blocks), feature-refinement module."""

    def __init__(self, channels: int, config: IfrNetConfig) -> None:
        super().__init__()
        self.rho_raw = nn.Parameter(torch.tensor(softplus_inverse(config.rho_init)))
        self.denoiser = nn.Sequential(*(DenoisingBlock(channels, config) for _ in range(config.blocks)))
        self.refine = FeatureRefinement(channels, config.descriptor_channels)


class IfrNet(SliceModel):
    """x_n = DC(z_{n-1}), d_n = denoise(x_n), z_n = d_n + D_n (x_n - d_n); output DC(z_N) (``IfrNetConfig``).

    Frames go through the network independently (as a batch); the k-space is scaled per frame by the
    zero-filled image's RMS level, so the network sees every image at the same level.
    """

    def __init__(self, config: IfrNetConfig) -> None:
        super().__init__()
        self.config = config
        # How the pipeline should treat coil maps: "required", "optional" (used when given) or "ignored".
        self.coil_maps = "required"
        self.channels = 2 if config.complex else 1
        self.stages = nn.ModuleList(IfrStage(self.channels, config) for _ in range(config.stages))
        self.final_rho_raw = nn.Parameter(torch.tensor(softplus_inverse(config.rho_init)))

    def reconstruct(self, kspace: torch.Tensor, op: LinearOperator, x0: torch.Tensor | None) -> torch.Tensor:
        """Cartesian data only: ``kspace`` zero where not sampled, ``op`` a ``CartesianSense`` with coil maps
        (or of a single coil without maps); x0 default: the zero-filled image. The
        imaginary part of the result is zero when ``complex`` is False.

        Raises:
            ModelError: non-Cartesian operator, or several coils without maps.
        """
        op = cartesian_operator(op, "ifr-net")
        gridded = zero_filled(kspace, op)
        scale = frame_scale(gridded)
        y = kspace / scale[:, None]
        z = self._project((gridded if x0 is None else x0.to(torch.complex64)) / scale)
        for stage in self.stages:
            x = self._reconstruct(z, y, op, stage.rho_raw)
            u = self._to_channels(x)
            d = stage.denoiser(u)
            z = self._from_channels(stage.refine(u, d))
        return self._reconstruct(z, y, op, self.final_rho_raw) * scale

    def _reconstruct(
        self, z: torch.Tensor, y: torch.Tensor, op: CartesianSense, rho_raw: torch.Tensor
    ) -> torch.Tensor:
        x = tikhonov_dc(z, y, op, F.softplus(rho_raw), cg_iterations=self.config.cg_iterations)
        return self._project(x.to(torch.complex64))

    def _project(self, x: torch.Tensor) -> torch.Tensor:
        """Real mode: drop the imaginary part. x: (frames, ny, nx) complex64 -> same."""
        return x if self.config.complex else torch.complex(x.real, torch.zeros_like(x.real))

    def _to_channels(self, x: torch.Tensor) -> torch.Tensor:
        """(frames, ny, nx) complex64 -> (frames, channels, ny, nx) float32."""
        return image_to_channels(x) if self.config.complex else x.real[:, None].float()

    def _from_channels(self, u: torch.Tensor) -> torch.Tensor:
        """(frames, channels, ny, nx) real -> (frames, ny, nx) complex64."""
        if self.config.complex:
            return channels_to_image(u)
        real = u[:, 0].float()
        return torch.complex(real, torch.zeros_like(real))

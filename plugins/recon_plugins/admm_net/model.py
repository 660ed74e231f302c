"""The ``admm-net`` model: reconstruction, convolution, nonlinear-transform and multiplier-update layers."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from recon_cli.nn.data_consistency import (
    cartesian_operator,
    frame_scale,
    single_coil_map,
    single_coil_mask,
    zero_filled,
)
from recon_cli.nn.dct import dct_filter_bank
from recon_cli.nn.shrinkage import PiecewiseLinearShrink
from recon_cli.ops.base import LinearOperator
from recon_cli.ops.cartesian import CartesianSense
from recon_cli.ops.functional import fft2c, ifft2c
from recon_cli.solvers.iterative import conjugate_gradient
from recon_plugins.admm_net.config import AdmmNetConfig

_EPS = 1e-6  # keeps the closed form finite where neither data nor filters say anything


def correlate(u: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Circular correlation with each filter, H_l u.

    Args:
        u: (B, 1, ny, nx) real images; weight: (L, 1, 3, 3) filters.

    Returns:
        (B, L, ny, nx).
    """
    return F.conv2d(F.pad(u, (1, 1, 1, 1), mode="circular"), weight)


def correlate_adjoint(c: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """sum_l H_l^T c_l (correlation with the flipped filters). c: (B, L, ny, nx) -> (B, 1, ny, nx)."""
    return F.conv2d(F.pad(c, (1, 1, 1, 1), mode="circular"), weight.flip(-2, -1).transpose(0, 1))


def gram_symbol(weight: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Eigenvalues of each H_l^T H_l on the centred k-space grid (circulant: diagonal in k-space).

    The impulse response g_l of H_l^T H_l at pixel (0, 0) has the DFT |H_l(k)|^2; fftshift puts it on
    ``fft2c``'s grid (a circulant commutes with ``fft2c``'s ifftshift). Returns (L, ny, nx) real.
    """
    impulse = torch.zeros(1, 1, *shape, dtype=weight.dtype, device=weight.device)
    impulse[..., 0, 0] = 1.0
    responses = F.conv2d(
        F.pad(correlate(impulse, weight), (1, 1, 1, 1), mode="circular"),
        weight.flip(-2, -1),
        groups=weight.shape[0],
    )[0]
    return torch.fft.fftshift(torch.fft.fft2(responses), dim=(-2, -1)).real


def _to_parts(x: torch.Tensor, complex_parts: bool) -> torch.Tensor:
    """(frames, ny, nx) complex -> real images (B, 1, ny, nx): the real parts, then (``complex_parts``)
    the imaginary parts (B = 2 frames), or only the real parts (B = frames)."""
    parts = torch.cat([x.real, x.imag]) if complex_parts else x.real
    return parts[:, None].float()


def _from_parts(u: torch.Tensor, complex_parts: bool) -> torch.Tensor:
    """Inverse of ``_to_parts``: (B, 1, ny, nx) real -> (frames, ny, nx) complex64."""
    if not complex_parts:
        return torch.complex(u[:, 0].float(), torch.zeros_like(u[:, 0].float()))
    half = u.shape[0] // 2
    return torch.complex(u[:half, 0].float(), u[half:, 0].float())


def _filters(count: int, init: str) -> torch.Tensor:
    """(count, 1, 3, 3) float32: the non-constant DCT basis filters, or Gaussian ones of unit mean energy."""
    if init == "dct":
        return dct_filter_bank(3, torch.float32)[1 : 1 + count, None].clone()
    return torch.randn(count, 1, 3, 3) / 3.0


class ReconstructionLayer(nn.Module):
    """x = argmin ||A x - y||^2 + sum_l rho_l ||H_l x - z_l + beta_l||^2 (learnable H_l, rho_l)."""

    def __init__(self, config: AdmmNetConfig) -> None:
        super().__init__()
        self.weight = nn.Parameter(_filters(config.filters, config.init))
        self.rho_raw = nn.Parameter(torch.full((config.filters,), math.log(math.expm1(config.rho_init))))
        self.cg_iterations = config.cg_iterations
        self.complex_parts = config.complex

    def forward(
        self, y: torch.Tensor, op: CartesianSense, z: torch.Tensor | None, beta: torch.Tensor | None
    ) -> torch.Tensor:
        """Solve the layer's problem.

        Args:
            y: (frames, coils, ny, nx) complex64 scaled k-space.
            op: Cartesian operator.
            z, beta: (B, L, ny, nx) float32 (B images as ``_to_parts`` makes them), or None (first
                stage: zero).

        Returns:
            (frames, ny, nx) complex64.
        """
        rho = F.softplus(self.rho_raw)
        reg = None
        if z is not None and beta is not None:
            reg = _from_parts(
                correlate_adjoint(rho[:, None, None] * (z - beta), self.weight), self.complex_parts
            )
        s = single_coil_map(op)
        if s is None or (isinstance(s, torch.Tensor) and bool(torch.all((s - 1).abs() < 1e-4))):
            mask = single_coil_mask(op)
            m = torch.ones((), device=y.device) if mask is None else mask.float()
            symbol = torch.sum(rho[:, None, None] * gram_symbol(self.weight, tuple(y.shape[-2:])), dim=0)
            k = m * y[:, 0] if reg is None else m * y[:, 0] + fft2c(reg)
            return ifft2c(k / (m + symbol + _EPS)).to(torch.complex64)

        def normal(x: torch.Tensor) -> torch.Tensor:
            parts = correlate(_to_parts(x, True), self.weight)  # complex-linear: both parts
            return op.normal(x) + _from_parts(
                correlate_adjoint(rho[:, None, None] * parts, self.weight), True
            )

        start = op.adjoint(y)
        rhs = start if reg is None else start + reg
        return conjugate_gradient(normal, rhs, start, max_iter=self.cg_iterations, tol=1e-7, batch_dims=1).x


class AdmmStage(nn.Module):
    """Reconstruction layer, convolution layer (D_l), nonlinear transform (S_l), multiplier update (eta_l)."""

    def __init__(self, config: AdmmNetConfig) -> None:
        super().__init__()
        self.reconstruction = ReconstructionLayer(config)
        self.weight = nn.Parameter(_filters(config.filters, config.init))
        self.shrink = PiecewiseLinearShrink(config.filters, config.points, config.threshold)
        self.eta = nn.Parameter(torch.full((config.filters,), float(config.eta_init)))


class AdmmNet(nn.Module):
    """Unrolled ADMM (see ``AdmmNetConfig``): ``stages`` stages and a last reconstruction layer.

    Frames go through the network independently (as a batch); the k-space is scaled per frame by the
    zero-filled image's RMS level, so the shrinkage functions see every image at the same level.
    """

    def __init__(self, config: AdmmNetConfig) -> None:
        super().__init__()
        self.config = config
        # How the pipeline should treat coil maps: "required", "optional" (used when given) or "ignored".
        self.coil_maps = "required"
        self.stages = nn.ModuleList(AdmmStage(config) for _ in range(config.stages))
        self.final = ReconstructionLayer(config)

    def forward(
        self, kspace: torch.Tensor, op: LinearOperator, x0: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Reconstruct one slice.

        Args:
            kspace: (frames, coils, ny, nx) complex64 Cartesian k-space, zero where not sampled.
            op: ``CartesianSense`` with coil maps (or of a single coil without maps).
            x0: Ignored: ADMM-Net starts from z = beta = 0 (accepted for the model contract).

        Returns:
            (frames, ny, nx) complex64 (zero imaginary part when ``complex`` is False).

        Raises:
            ModelError: non-Cartesian operator, or several coils without maps.
        """
        op = cartesian_operator(op, "admm-net")
        scale = frame_scale(zero_filled(kspace, op))
        y = kspace / scale[:, None]
        z = beta = None
        for stage in self.stages:
            x = self._project(stage.reconstruction(y, op, z, beta))
            c = correlate(_to_parts(x, self.config.complex), stage.weight)
            beta = torch.zeros_like(c) if beta is None else beta
            z = stage.shrink(c + beta)
            beta = beta + stage.eta[:, None, None] * (c - z)
        return self._project(self.final(y, op, z, beta)) * scale

    def _project(self, x: torch.Tensor) -> torch.Tensor:
        """Real mode: drop the imaginary part. x: (frames, ny, nx) complex64 -> same."""
        return x if self.config.complex else torch.complex(x.real, torch.zeros_like(x.real))

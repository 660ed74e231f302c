"""The compressed-sensing model: L1-wavelet (space) + temporal TV (time), solved by FISTA or ADMM."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from recon_cli.errors import ModelError
from recon_cli.ops.base import LinearOperator
from recon_cli.solvers.iterative import SolverResult, Splitting, admm, fista, power_iteration
from recon_cli.solvers.regularizers import (
    Wavelet2d,
    huber_tv_gradient,
    soft_threshold,
    temporal_difference,
    temporal_difference_adjoint,
    temporal_difference_gram,
    wavelet_soft_threshold,
)
from recon_plugins.cs.config import CsConfig

Operator = Callable[[torch.Tensor], torch.Tensor]
_LIPSCHITZ_MARGIN = 1.05
_SPIN_SEED = 0


def _pad(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Zero-pad the last two axes at their ends to ``shape``."""
    py, px = shape[0] - x.shape[-2], shape[1] - x.shape[-1]
    return x if py == px == 0 else F.pad(x, (0, px, 0, py))


def _crop(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Adjoint of ``_pad``: keep the first ``shape`` entries of the last two axes."""
    return x[..., : shape[0], : shape[1]]


def image_scale(image: torch.Tensor, quantile: float = 0.99) -> float:
    """The ``quantile`` of an image's magnitude (1.0 for an all-zero image). image: any shape, complex."""
    magnitude = image.abs().flatten()
    if magnitude.numel() > 2**24:  # torch.quantile's input limit
        magnitude = magnitude[:: magnitude.numel() // 2**24 + 1]
    scale = float(torch.quantile(magnitude.to(torch.float32), quantile))
    return scale if scale > 0 else 1.0


class CompressedSensing(nn.Module):
    """min_x 1/2 ||A x - y||_D^2 + lam_w ||W x||_1 + lam_t ||D_t x||_1 (see ``CsConfig``).

    W is an orthonormal wavelet transform applied to each frame (``recon_cli.solvers.regularizers.Wavelet2d``;
    images are zero-padded to a size it accepts and cropped back), D_t the finite difference between
    consecutive frames. FISTA uses the exact wavelet prox (with cycle spinning) and Huber-smoothed
    temporal TV, step 1 / (L + lam_t ||D_t||^2 / mu) with L = ||A^H D A|| from a power iteration; ADMM
    splits both terms exactly and solves its x-updates by a few warm-started CG steps. Both start from
    the gridding image. Where every coil map is zero the data say nothing, and the output is zero.
    """

    def __init__(self, config: CsConfig) -> None:
        super().__init__()
        self.config = config
        self.wavelet = Wavelet2d(config.wavelet, config.levels)
        # How the pipeline should treat coil maps: "required", "optional" (used when given) or "ignored".
        self.coil_maps = "required"
        self.last_result: SolverResult | None = None
        self.last_lipschitz = float("nan")

    def forward(
        self, kspace: torch.Tensor, op: LinearOperator, x0: torch.Tensor | None = None
    ) -> torch.Tensor:
        """kspace: (frames, coils, ...) complex64; x0: (frames, ny, nx) or None -> (frames, ny, nx)."""
        maps = getattr(op, "maps", None)
        if maps is None:
            raise ModelError("cs: needs coil maps (give --coils or let them be estimated)")
        weighted = self.config.density_weighted
        gridded = op.gridding(kspace)
        scale = image_scale(gridded) if self.config.scale_data else 1.0
        aty = (gridded if weighted else op.adjoint(kspace)) / scale
        shape = (int(aty.shape[-2]), int(aty.shape[-1]))
        padded = self.wavelet.padded_shape(shape)

        def normal(x: torch.Tensor) -> torch.Tensor:
            return _pad(op.normal(_crop(x, shape), weighted=weighted), padded)

        start = _pad((gridded if x0 is None else x0.to(aty.dtype)) / scale, padded)
        use_tv = self.config.lam_tv > 0 and aty.shape[0] > 1
        solve = self._fista if self.config.solver == "fista" else self._admm
        self.last_result = solve(normal, _pad(aty, padded), start, use_tv)
        support = torch.sum(maps.abs() ** 2, dim=-3) > 0
        return torch.where(support, _crop(self.last_result.x, shape) * scale, 0).to(kspace.dtype)

    def _fista(self, normal: Operator, aty: torch.Tensor, start: torch.Tensor, use_tv: bool) -> SolverResult:
        cfg = self.config
        lam_w, lam_t, mu = cfg.lam_wavelet, cfg.lam_tv, cfg.tv_smoothing
        # the power method approaches ||A^H D A|| from below: a margin keeps the step under 1 / L
        self.last_lipschitz = _LIPSCHITZ_MARGIN * power_iteration(
            normal, aty, iterations=cfg.power_iterations
        )
        step = 1.0 / (self.last_lipschitz + (4.0 * lam_t / mu if use_tv else 0.0))

        def gradient(x: torch.Tensor) -> torch.Tensor:
            grad = normal(x) - aty
            return grad + lam_t * huber_tv_gradient(x, mu) if use_tv else grad

        shifts = self._shifts(aty.shape[-2:])

        def prox(v: torch.Tensor, t: float) -> torch.Tensor:
            if lam_w == 0:
                return v
            return wavelet_soft_threshold(self.wavelet, v, t * lam_w, shift=next(shifts))

        return fista(gradient, prox, start, step=step, max_iter=cfg.iterations)

    def _shifts(self, shape: torch.Size) -> Iterator[tuple[int, int]]:
        """Cycle-spinning shifts, one per iteration, drawn from a seeded CPU generator ((0, 0) when off)."""
        gen = torch.Generator().manual_seed(_SPIN_SEED)
        block = 2**self.config.levels
        while True:
            if not self.config.cycle_spinning:
                yield (0, 0)
                continue
            sy, sx = torch.randint(0, block, (2,), generator=gen).tolist()
            yield (sy % shape[0], sx % shape[1])

    def _admm(self, normal: Operator, aty: torch.Tensor, start: torch.Tensor, use_tv: bool) -> SolverResult:
        cfg = self.config
        lam_w, lam_t = cfg.lam_wavelet, cfg.lam_tv
        detail = self.wavelet.detail_mask((int(aty.shape[-2]), int(aty.shape[-1])), aty.device)

        def wavelet_prox(v: torch.Tensor, t: float) -> torch.Tensor:
            return torch.where(detail, soft_threshold(v, t * lam_w), v)

        def tv_prox(v: torch.Tensor, t: float) -> torch.Tensor:
            return soft_threshold(v, t * lam_t)

        splittings = [Splitting(self.wavelet, self.wavelet.adjoint, wavelet_prox)]
        if use_tv:
            splittings.append(
                Splitting(temporal_difference, temporal_difference_adjoint, tv_prox, temporal_difference_gram)
            )
        return admm(
            normal,
            aty,
            start,
            splittings,
            rho=cfg.rho,
            max_iter=cfg.iterations,
            cg_iter=cfg.cg_iterations,
        )

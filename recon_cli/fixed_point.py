"""Fixed-point iterations x = f(x) (Picard and Anderson) and Jacobian-free backpropagation (JFB).

The solvers run without an autograd graph, so their memory does not depend on the number of iterations.
``jacobian_free_fixed_point`` then applies ``f`` once more, with gradients, to the detached fixed point:
the gradient of that last application is the JFB gradient of Fung et al. (2022), which replaces the
inverse (I - df/dx)^-1 of implicit differentiation by the identity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

FixedPointMap = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class FixedPointInfo:
    """How a fixed-point solve ended: iterations run and the last relative change ||x+ - x|| / ||x||."""

    iterations: int
    relative_change: float


def relative_change(new: torch.Tensor, old: torch.Tensor) -> float:
    """||new - old|| / ||old|| over all elements (the old norm floored at the smallest float32)."""
    return float(torch.linalg.vector_norm(new - old) / torch.linalg.vector_norm(old).clamp_min(1e-38))


@torch.no_grad()
def picard(
    f: FixedPointMap, x0: torch.Tensor, max_iter: int, tol: float
) -> tuple[torch.Tensor, FixedPointInfo]:
    """Iterate x_{k+1} = f(x_k) until the relative change is below ``tol`` or ``max_iter`` steps.

    Args:
        f: The map; same shape and dtype in and out.
        x0: Starting point, any shape, real or complex.
        max_iter: Most applications of ``f`` (>= 1).
        tol: Relative-change threshold (0 runs all ``max_iter`` steps).

    Returns:
        (the last iterate, detached; FixedPointInfo).
    """
    x, change, k = x0.detach(), float("inf"), 0
    while k < max_iter:
        k += 1
        x_new = f(x)
        change = relative_change(x_new, x)
        x = x_new
        if change < tol:
            break
    return x, FixedPointInfo(k, change)


@torch.no_grad()
def anderson(
    f: FixedPointMap,
    x0: torch.Tensor,
    max_iter: int,
    tol: float,
    memory: int = 5,
    damping: float = 1.0,
    regularisation: float = 1e-6,
) -> tuple[torch.Tensor, FixedPointInfo]:
    """Anderson-accelerated fixed-point iteration (type II, Walker and Ni 2011).

    The next iterate mixes the last ``memory`` evaluations, x+ = sum_i a_i (damping f(x_i) + (1 - damping)
    x_i), with weights a (summing to one) minimising ||sum_i a_i (f(x_i) - x_i)||, found from the
    regularised Gram matrix of the residuals.

    Args:
        f, x0, max_iter, tol: as in ``picard``.
        memory: Number of past iterates mixed.
        damping: Weight of f(x_i) against x_i in the mixture (1: undamped).
        regularisation: Relative Tikhonov term on the Gram matrix, for stability.

    Returns:
        (the last iterate, detached; FixedPointInfo).
    """
    x = x0.detach()
    xs: list[torch.Tensor] = []
    fs: list[torch.Tensor] = []
    change, k = float("inf"), 0
    while k < max_iter:
        k += 1
        xs.append(x)
        fs.append(f(x))
        xs, fs = xs[-memory:], fs[-memory:]
        x_new = _anderson_mix(xs, fs, damping, regularisation)
        change = relative_change(x_new, x)
        x = x_new
        if change < tol:
            break
    return x, FixedPointInfo(k, change)


def _anderson_mix(
    xs: list[torch.Tensor], fs: list[torch.Tensor], damping: float, regularisation: float
) -> torch.Tensor:
    """The Anderson mixture of iterates ``xs`` and their images ``fs`` (lists of equal-shape tensors)."""
    residuals = torch.stack([(fx - x).reshape(-1) for x, fx in zip(xs, fs, strict=True)], dim=1)
    residuals = residuals.to(torch.complex128 if residuals.is_complex() else torch.float64)
    gram = residuals.mH @ residuals
    scale = gram.diagonal().real.max().clamp_min(1e-30)
    gram = gram + regularisation * scale * torch.eye(len(xs), dtype=gram.dtype, device=gram.device)
    ones = torch.ones(len(xs), 1, dtype=gram.dtype, device=gram.device)
    weights = torch.linalg.solve(gram, ones)
    weights = (weights / weights.sum()).reshape(-1).to(xs[0].dtype)
    mixed_f = sum(w * fx for w, fx in zip(weights, fs, strict=True))
    mixed_x = sum(w * x for w, x in zip(weights, xs, strict=True))
    return damping * mixed_f + (1.0 - damping) * mixed_x


def jacobian_free_fixed_point(
    f: FixedPointMap,
    x0: torch.Tensor,
    max_iter: int,
    tol: float,
    use_anderson: bool = False,
    memory: int = 5,
    with_gradient: bool | None = None,
) -> tuple[torch.Tensor, FixedPointInfo]:
    """Solve x = f(x) without a graph, then (for training) apply ``f`` once with gradients.

    Args:
        f: The map, whose parameters are trained.
        x0: Starting point.
        max_iter, tol: as in ``picard``.
        use_anderson: Anderson acceleration instead of plain Picard iteration.
        memory: Past iterates mixed by Anderson acceleration.
        with_gradient: Add the final differentiable application; default: when grad mode is enabled.

    Returns:
        (the fixed point, with the JFB graph of one application of ``f`` when ``with_gradient``;
        FixedPointInfo of the graph-free solve).
    """
    if use_anderson:
        x, info = anderson(f, x0, max_iter, tol, memory=memory)
    else:
        x, info = picard(f, x0, max_iter, tol)
    if with_gradient if with_gradient is not None else torch.is_grad_enabled():
        x = f(x.detach())
    return x, info

"""Fixed-point iterations x = f(x) (Picard, Anderson, Broyden) and Jacobian-free backpropagation (JFB).

The solvers run without an autograd graph, so their memory does not depend on the number of iterations.
For training, ``jacobian_free_fixed_point`` makes the last of its iterations with gradients, on the
detached previous iterate: the gradient of that last application is the JFB gradient of Fung et al.
(2022), which replaces the inverse (I - df/dx)^-1 of implicit differentiation by the identity.
``broyden`` also returns its low-rank estimate of that inverse, which ``recon_cli.solvers.implicit``
reuses for SHINE gradients.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch

from recon_cli import progress
from recon_cli.solvers.convergence import relative_norm

FixedPointMap = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class FixedPointInfo:
    """How a fixed-point solve ended: iterations run and the last relative change ||x+ - x|| / ||x||."""

    iterations: int
    relative_change: float


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
    return _iterate(f, x0.detach(), max_iter, tol)


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
    xs: list[torch.Tensor] = []
    fs: list[torch.Tensor] = []

    def step(x: torch.Tensor) -> torch.Tensor:
        xs.append(x)
        fs.append(f(x))
        del xs[:-memory], fs[:-memory]
        return _anderson_mix(xs, fs, damping, regularisation)

    return _iterate(step, x0.detach(), max_iter, tol)


def _iterate(
    step: FixedPointMap, x: torch.Tensor, max_iter: int, tol: float
) -> tuple[torch.Tensor, FixedPointInfo]:
    """x <- step(x), reporting progress, until the relative change is below ``tol`` or ``max_iter`` steps.
    With ``tol`` 0 (a fixed count) only the last step's change is computed, for the report."""
    change, k = float("inf"), 0
    while k < max_iter:
        k += 1
        x_new = step(x)
        progress.iteration(k, max_iter)
        if tol > 0 or k == max_iter:
            change = relative_norm(x_new - x, x)
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
    """Solve x = f(x) without a graph; for training, make the last application of ``f`` with gradients.

    ``max_iter`` counts every application of ``f``, the differentiable one included, so a training
    forward with ``max_iter = K`` applies the map exactly as often as inference does (and as an unrolled
    network of K blocks), and only the last application is kept for the backward pass.

    Args:
        f: The map, whose parameters are trained.
        x0: Starting point.
        max_iter, tol: as in ``picard`` (``max_iter`` >= 1).
        use_anderson: Anderson acceleration instead of plain Picard iteration.
        memory: Past iterates mixed by Anderson acceleration.
        with_gradient: End with the differentiable application; default: when grad mode is enabled.

    Returns:
        (the fixed point, with the JFB graph of one application of ``f`` when ``with_gradient``;
        FixedPointInfo of the whole solve).
    """
    differentiable = with_gradient if with_gradient is not None else torch.is_grad_enabled()
    solve = functools.partial(anderson, memory=memory) if use_anderson else picard
    budget = max_iter - 1 if differentiable else max_iter
    if budget > 0:
        x, info = solve(f, x0, budget, tol)
    else:
        x, info = x0.detach(), FixedPointInfo(0, float("inf"))
    if differentiable:
        x_new = f(x.detach())
        info = FixedPointInfo(info.iterations + 1, relative_norm(x_new.detach() - x, x))
        x = x_new
    return x, info


@dataclass(frozen=True)
class LowRankInverse:
    """A low-rank estimate of (I - J_f)^-1 at a fixed point of f: I - U V^T, on real flattened vectors.

    Broyden's method on the residual g(x) = f(x) - x builds an estimate H = -I + U V^T of the inverse
    Jacobian (J_f - I)^-1, so -H = I - U V^T estimates (I - J_f)^-1, the matrix implicit differentiation
    needs. Complex tensors are viewed as real vectors (real and imaginary parts interleaved, as
    ``torch.view_as_real`` lays them out), because f need not be complex-linear.

    Attributes:
        u: (n, m) real, the secant-update columns (m <= memory; m = 0 before any update).
        v: (n, m) real, same dtype.
    """

    u: torch.Tensor
    v: torch.Tensor

    @property
    def rank(self) -> int:
        """Number of rank-one updates held."""
        return int(self.u.shape[1])

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """(I - U V^T) x for x of the solved tensor's shape and dtype (real or complex); same out."""
        flat = _as_real_flat(x)
        return _from_real_flat(flat - self.u @ (self.v.T @ flat), x)

    def apply_transpose(self, x: torch.Tensor) -> torch.Tensor:
        """(I - U V^T)^T x = x - V (U^T x): a vector-inverse-Jacobian product x^T (I - J_f)^-1."""
        flat = _as_real_flat(x)
        return _from_real_flat(flat - self.v @ (self.u.T @ flat), x)


def _as_real_flat(x: torch.Tensor) -> torch.Tensor:
    """Any tensor as a 1-D real tensor (complex: real and imaginary parts interleaved); may share memory."""
    return (torch.view_as_real(x) if x.is_complex() else x).reshape(-1)


def _from_real_flat(flat: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Inverse of ``_as_real_flat``: a tensor of ``like``'s shape and dtype."""
    if like.is_complex():
        return torch.view_as_complex(flat.reshape(*like.shape, 2).contiguous())
    return flat.reshape(like.shape)


@torch.no_grad()
def broyden(
    f: FixedPointMap, x0: torch.Tensor, max_iter: int, tol: float, memory: int = 30
) -> tuple[torch.Tensor, FixedPointInfo, LowRankInverse]:
    """Solve x = f(x) by limited-memory Broyden's method on g(x) = f(x) - x (as in Bai et al.'s DEQ).

    The inverse Jacobian of g is estimated as H = -I + U V^T (H_0 = -I: the first step is a Picard step);
    each step is x+ = x - H g(x), followed by Broyden's "good" rank-one update making H satisfy the secant
    condition H (g+ - g) = x+ - x. At most ``memory`` updates are kept (the oldest is dropped). Complex
    tensors are treated as real vectors of twice the length, since f need not be complex-linear.

    Args:
        f: The map; same shape and dtype in and out.
        x0: Starting point, any shape, real or complex.
        max_iter: Most applications of ``f`` (>= 1).
        tol: Stop when the relative residual ||f(x) - x|| / ||x|| is below this (0 runs all steps).
        memory: Most rank-one updates held (>= 1).

    Returns:
        (the iterate with the smallest residual, detached; FixedPointInfo with the evaluations made and
        that iterate's relative residual; LowRankInverse estimate of (I - J_f)^-1 from the last update).
    """
    x = _as_real_flat(x0.detach()).clone()
    like = x0.detach()

    def residual(flat: torch.Tensor) -> torch.Tensor:
        return _as_real_flat(f(_from_real_flat(flat, like))) - flat

    us: list[torch.Tensor] = []
    vs: list[torch.Tensor] = []
    g = residual(x)
    best_x, best_rel, k = x, _nan_as_inf(relative_norm(g, x)), 1
    while k < max_iter and best_rel >= tol:
        u_mat, v_mat = _stack(us, x), _stack(vs, x)
        dx = g - u_mat @ (v_mat.T @ g)  # -H g
        x_new = x + dx
        g_new = residual(x_new)
        k += 1
        dg = g_new - g
        h_dg = -dg + u_mat @ (v_mat.T @ dg)
        row = -dx + v_mat @ (u_mat.T @ dx)  # (dx^T H)^T
        denominator = torch.dot(row, dg)
        if torch.isfinite(denominator) and denominator.abs() > 1e-30 * dx.norm() * dg.norm():
            us.append((dx - h_dg) / denominator)
            vs.append(row)
            us, vs = us[-memory:], vs[-memory:]
        x, g = x_new, g_new
        rel = _nan_as_inf(relative_norm(g, x))
        if rel < best_rel:
            best_x, best_rel = x, rel
        elif not torch.isfinite(g).all():
            break
    inverse = LowRankInverse(_stack(us, x), _stack(vs, x))
    return _from_real_flat(best_x, like), FixedPointInfo(k, best_rel), inverse


def _nan_as_inf(value: float) -> float:
    """A NaN residual counts as infinitely large, so it is never the best and never below a tolerance."""
    return value if value == value else float("inf")


def _stack(columns: list[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    """Columns as an (n, m) matrix; (n, 0) when there are none."""
    if not columns:
        return like.new_zeros(like.shape[0], 0)
    return torch.stack(columns, dim=1)

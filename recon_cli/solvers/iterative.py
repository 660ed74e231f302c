"""Iterative solvers for classical reconstruction, in torch so they run wherever the operator runs.

Every solver takes its operators as callables on complex tensors (``normal(x)`` = A^H A x, a gradient, a
proximal map), so the same code serves Cartesian and non-Cartesian operators on CPU and GPU. Nothing here
creates tensors on a fixed device: new tensors follow the input's device and dtype.

* ``conjugate_gradient``: the normal equations (A^H A + lam I) x = A^H y, batched over leading axes.
* ``fista``: accelerated proximal gradient for f(x) + g(x), f smooth, g with a cheap proximal map.
* ADMM pieces (``admm_x_update``, ``admm_z_update``, ``admm_dual_update``) and the loop ``admm``, in
  scaled form, for objectives 1/2 ||A x - y||^2 + sum_i g_i(T_i x).
* ``power_iteration``: the largest eigenvalue of A^H A (the Lipschitz constant of the data term).

Fixed-point iterations with Anderson acceleration (deep equilibrium models) are in
``recon_cli.solvers.fixed_point``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from recon_cli import progress
from recon_cli.solvers.convergence import relative_norm

Operator = Callable[[torch.Tensor], torch.Tensor]
Prox = Callable[[torch.Tensor, float], torch.Tensor]


@dataclass
class SolverResult:
    """What an iterative solver returns.

    Attributes:
        x: The solution, same shape, dtype and device as the right-hand side or start.
        iterations: Iterations run (applications of the operator or of the update).
        residual: Final relative residual (CG: ||b - N x|| / ||b||, worst over the batch; FISTA/ADMM:
            relative change of x in the last iteration).
        residual_vector: CG only: b - N x as the iteration updated it (None for the other solvers); a
            solve continued on a changed system passes it on as ``r0``.
    """

    x: torch.Tensor
    iterations: int
    residual: float
    residual_vector: torch.Tensor | None = None


def _inner(a: torch.Tensor, b: torch.Tensor, batch_dims: int) -> torch.Tensor:
    """Real part of <a, b> summed over all but the leading ``batch_dims`` axes, kept for broadcasting."""
    dims = tuple(range(batch_dims, a.dim()))
    prod = a.conj() * b
    return torch.sum(prod.real, dim=dims, keepdim=True)


def conjugate_gradient(
    normal: Operator,
    rhs: torch.Tensor,
    x0: torch.Tensor | None = None,
    *,
    max_iter: int = 50,
    tol: float = 1e-6,
    batch_dims: int = 0,
    r0: torch.Tensor | None = None,
) -> SolverResult:
    """Solve N x = b for Hermitian positive (semi-)definite N by conjugate gradients.

    With ``batch_dims = k`` the leading k axes index independent systems (e.g. frames of a cine whose
    normal operator does not couple them): each gets its own step sizes and stops updating once it has
    converged; the loop ends when all have.

    Args:
        normal: x -> N x, e.g. ``lambda x: op.normal(x) + lam * x``; shape-preserving.
        rhs: b, e.g. A^H y: (*batch, ...) complex64/complex128.
        x0: Start, same shape as ``rhs``; None starts from zero (saving one application of N).
        max_iter: Largest number of applications of N.
        tol: Stop when ||b - N x|| <= tol * ||b|| (per system).
        batch_dims: Number of leading axes that index independent systems.
        r0: b - N x0 when the caller already has it (e.g. from the last solve's ``residual_vector``, updated
            for the change of N): saves the application of N that computes it. Only with ``x0``.

    Returns:
        ``SolverResult`` with x, the iterations used, the worst relative residual and the residual vector.
    """
    if r0 is not None and x0 is None:
        raise ValueError("conjugate_gradient: r0 is the residual of x0; pass x0 with it")
    x = torch.zeros_like(rhs) if x0 is None else x0.clone()
    if r0 is not None:
        r = r0.clone()
    else:
        r = rhs.clone() if x0 is None else rhs - normal(x)
    b_norm = _inner(rhs, rhs, batch_dims).sqrt()
    threshold = (tol * b_norm) ** 2
    rs = _inner(r, r, batch_dims)
    p = r.clone()
    iterations = 0
    active = rs > threshold
    while iterations < max_iter and bool(active.any()):
        ap = normal(p)
        curvature = _inner(p, ap, batch_dims)
        alpha = torch.where(active & (curvature > 0), rs / curvature.clamp_min(torch.finfo(rs.dtype).tiny), 0)
        x = x + alpha * p
        r = r - alpha * ap
        rs_new = _inner(r, r, batch_dims)
        beta = torch.where(active, rs_new / rs.clamp_min(torch.finfo(rs.dtype).tiny), 0)
        p = r + beta * p
        rs = torch.where(active, rs_new, rs)
        active = active & (rs > threshold)
        iterations += 1
    residual = (rs.sqrt() / b_norm.clamp_min(torch.finfo(b_norm.dtype).tiny)).max()
    return SolverResult(x, iterations, float(residual.detach()), r)


def power_iteration(normal: Operator, like: torch.Tensor, *, iterations: int = 20, seed: int = 0) -> float:
    """Largest eigenvalue of a Hermitian positive semi-definite operator, e.g. ||A^H A||.

    Starts from seeded complex Gaussian noise drawn on the CPU (the same start on every device), then
    applies ``normal`` ``iterations`` times. The estimate approaches the eigenvalue from below.

    Args:
        normal: x -> A^H A x.
        like: A tensor of the operator's domain shape, device and complex dtype.
        iterations: Applications of ``normal``.
        seed: Seed of the starting vector.

    Returns:
        The Rayleigh quotient <x, N x> / <x, x> at the last iterate, a Python float.
    """
    gen = torch.Generator().manual_seed(seed)
    real_dtype = like.real.dtype
    x = torch.randn((*like.shape, 2), generator=gen, dtype=real_dtype)
    x = torch.view_as_complex(x).to(like.device)
    eigenvalue = 0.0
    for _ in range(iterations):
        x = x / torch.linalg.vector_norm(x)
        nx = normal(x)
        eigenvalue = float(torch.sum((x.conj() * nx).real))
        x = nx
    return eigenvalue


def fista(
    gradient: Operator,
    prox: Prox,
    x0: torch.Tensor,
    *,
    step: float,
    max_iter: int = 50,
    tol: float = 0.0,
) -> SolverResult:
    """FISTA (Beck and Teboulle 2009) for min_x f(x) + g(x).

    Each iteration: x_k = prox_{step g}(v - step * grad f(v)), then momentum
    v = x_k + (t_{k-1} - 1) / t_k (x_k - x_{k-1}).

    Args:
        gradient: x -> grad f(x), e.g. ``lambda x: op.normal(x) - aty``.
        prox: (v, t) -> argmin_x t g(x) + 1/2 ||x - v||^2.
        x0: Start, (...) complex.
        step: Step size, at most 1 / L with L the Lipschitz constant of grad f.
        max_iter: Iterations.
        tol: Stop early when ||x_k - x_{k-1}|| <= tol ||x_k|| (0 runs all iterations, no syncs).

    Returns:
        ``SolverResult`` with the last x_k.
    """
    x_old, v, t_old = x0, x0, 1.0
    change = float("nan")
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        x = prox(v - step * gradient(v), step)
        progress.iteration(iterations, max_iter)
        t = (1.0 + (1.0 + 4.0 * t_old**2) ** 0.5) / 2.0
        v = x + ((t_old - 1.0) / t) * (x - x_old)
        converged = tol > 0 and (change := relative_norm(x - x_old, x)) <= tol
        x_old, t_old = x, t
        if converged:
            break
    return SolverResult(x_old, iterations, change)


@dataclass(frozen=True)
class Splitting:
    """One term g(T x) of an ADMM objective, split as z = T x.

    Attributes:
        forward: x -> T x.
        adjoint: z -> T^H z.
        prox: (v, t) -> argmin_z t g(z) + 1/2 ||z - v||^2.
        gram: x -> T^H T x; None when T^H T is the identity (an orthonormal transform).
    """

    forward: Operator
    adjoint: Operator
    prox: Prox
    gram: Operator | None = None


def admm_x_update(
    normal: Operator,
    aty: torch.Tensor,
    x: torch.Tensor,
    splittings: Sequence[Splitting],
    z: Sequence[torch.Tensor],
    u: Sequence[torch.Tensor],
    rho: float,
    *,
    cg_iter: int = 5,
) -> torch.Tensor:
    """x = argmin 1/2 ||A x - y||^2 + rho/2 sum_i ||T_i x - z_i + u_i||^2, by CG warm-started at ``x``.

    Solves (A^H A + rho sum_i T_i^H T_i) x = A^H y + rho sum_i T_i^H (z_i - u_i).
    """
    rhs = aty
    for split, zi, ui in zip(splittings, z, u, strict=True):
        rhs = rhs + rho * split.adjoint(zi - ui)

    def system(v: torch.Tensor) -> torch.Tensor:
        out = normal(v)
        for split in splittings:
            out = out + rho * (v if split.gram is None else split.gram(v))
        return out

    return conjugate_gradient(system, rhs, x, max_iter=cg_iter, tol=0.0).x


def admm_z_update(
    splittings: Sequence[Splitting], x: torch.Tensor, u: Sequence[torch.Tensor], rho: float
) -> list[torch.Tensor]:
    """z_i = prox_{g_i / rho}(T_i x + u_i)."""
    return [split.prox(split.forward(x) + ui, 1.0 / rho) for split, ui in zip(splittings, u, strict=True)]


def admm_dual_update(
    splittings: Sequence[Splitting], x: torch.Tensor, z: Sequence[torch.Tensor], u: Sequence[torch.Tensor]
) -> list[torch.Tensor]:
    """Scaled dual ascent: u_i = u_i + T_i x - z_i."""
    return [ui + split.forward(x) - zi for split, zi, ui in zip(splittings, z, u, strict=True)]


def admm(
    normal: Operator,
    aty: torch.Tensor,
    x0: torch.Tensor,
    splittings: Sequence[Splitting],
    *,
    rho: float,
    max_iter: int = 50,
    cg_iter: int = 5,
    tol: float = 0.0,
) -> SolverResult:
    """ADMM (scaled form) for min_x 1/2 ||A x - y||^2 + sum_i g_i(T_i x).

    Args:
        normal: x -> A^H A x.
        aty: A^H y, the shape of x.
        x0: Start (complex, the shape of x).
        splittings: The terms g_i(T_i x).
        rho: Penalty parameter (fixed).
        max_iter: Outer iterations.
        cg_iter: CG iterations of each x-update (warm-started).
        tol: Stop early when ||x_k - x_{k-1}|| <= tol ||x_k|| (0 runs all iterations).

    Returns:
        ``SolverResult`` with the last x.
    """
    x = x0
    z = [split.forward(x) for split in splittings]
    u = [torch.zeros_like(zi) for zi in z]
    change = float("nan")
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        x_new = admm_x_update(normal, aty, x, splittings, z, u, rho, cg_iter=cg_iter)
        z = admm_z_update(splittings, x_new, u, rho)
        u = admm_dual_update(splittings, x_new, z, u)
        progress.iteration(iterations, max_iter)
        converged = tol > 0 and (change := relative_norm(x_new - x, x_new)) <= tol
        x = x_new
        if converged:
            break
    return SolverResult(x, iterations, change)

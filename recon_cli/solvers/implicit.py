"""Gradients of a fixed point x* = f(x*, theta) for training implicit models: IFT, SHINE and JFB.

The loss gradient with respect to theta is  dL/dtheta = w^T df/dtheta (x*),  w^T = v^T (I - J)^-1,
where v = dL/dx* and J = df/dx (x*). All three modes apply f once, with a graph, to the detached fixed
point, y = f(x*) (equal to x* at convergence), and change only the vector w that enters that graph:

* ``ift``: implicit differentiation. w solves the backward fixed point w = v + J^T w, found to a
  tolerance by Broyden (or Anderson / Picard) iterations of vector-Jacobian products J^T g from
  ``torch.autograd.grad`` (Bai et al. 2019, "Deep Equilibrium Models").
* ``shine``: w = (I - U V^T)^T v with the low-rank inverse estimate the forward Broyden solve built, no
  backward solve (Ramzi et al. 2022, "SHINE: SHaring the INverse Estimate from the forward pass");
  optionally refined by a few backward iterations started from it, and with a fall-back to JFB when the
  estimate blows the gradient up.
* ``jfb``: w = v, the Jacobian-free gradient (Fung et al. 2022).

The change is a hook on y, so a training loop only calls ``loss.backward()``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from recon_cli.solvers.fixed_point import FixedPointMap, LowRankInverse, anderson, broyden, picard

BACKWARD_MODES = ("ift", "shine", "jfb")
BACKWARD_SOLVERS = ("broyden", "anderson", "picard")


@dataclass(frozen=True)
class BackwardOptions:
    """How the gradient of a fixed point is formed; no defaults here: the model's config holds them (one
    copy, e.g. ``DEQConfig``).

    Attributes:
        mode: "ift", "shine" or "jfb" (see the module docstring).
        solver: Backward fixed-point solver of ``ift`` and of SHINE's refinement: "broyden", "anderson" or
            "picard".
        iterations: Most vector-Jacobian products of the ``ift`` backward solve.
        tol: Relative residual ||v + J^T w - w|| / ||w|| at which the backward solve stops.
        memory: Rank-one updates (Broyden) or mixed iterates (Anderson) of the backward solver.
        refine: ``shine`` only: backward iterations started from SHINE's estimate (0: pure SHINE).
        fallback: ``shine`` only: use JFB's w = v instead when ||w|| > fallback * ||v|| or w is not
            finite (0: never).
    """

    mode: str
    solver: str
    iterations: int
    tol: float
    memory: int
    refine: int
    fallback: float


@dataclass
class BackwardInfo:
    """What the latest backward pass did: vector-Jacobian products made, final relative residual of the
    backward solve (nan when none ran), and whether SHINE fell back to JFB."""

    vjps: int = 0
    residual: float = float("nan")
    fell_back: bool = False


def differentiable_fixed_point(
    f: FixedPointMap,
    x_star: torch.Tensor,
    options: BackwardOptions,
    inverse: LowRankInverse | None = None,
    info: BackwardInfo | None = None,
) -> torch.Tensor:
    """y = f(x*) with a graph to f's parameters whose backward pass carries the chosen fixed-point gradient.

    Args:
        f: The map whose fixed point ``x_star`` is; its parameters receive the gradient.
        x_star: Fixed point (any shape, real or complex); it is detached here.
        options: Backward mode and solver settings.
        inverse: The forward Broyden solve's estimate of (I - J)^-1; required by ``shine``.
        info: Filled in by the backward pass (for logging and benchmarks), if given.

    Returns:
        f(x*), same shape and dtype as ``x_star``, differentiable with respect to f's parameters (not
        with respect to anything ``x_star`` was computed from).
    """
    if options.mode not in BACKWARD_MODES:
        raise ValueError(f"backward mode must be one of {', '.join(BACKWARD_MODES)}, got {options.mode!r}")
    if options.mode == "jfb":
        return f(x_star.detach())
    if options.mode == "shine" and inverse is None:
        raise ValueError("backward mode 'shine' needs the forward Broyden solve's inverse estimate")
    needs_vjp = options.mode == "ift" or options.refine > 0
    x_in = x_star.detach().requires_grad_(needs_vjp)
    y = f(x_in)
    if not y.requires_grad:
        return y
    info = info if info is not None else BackwardInfo()
    solving = [False]  # the VJPs backpropagate through y again: the hook must pass those through

    def vjp(g: torch.Tensor) -> torch.Tensor:
        """g^T J at x*: (same shape and dtype as x*)."""
        info.vjps += 1
        return torch.autograd.grad(y, x_in, g, retain_graph=True)[0]

    def hook(v: torch.Tensor) -> torch.Tensor:
        if solving[0]:
            return v
        solving[0] = True
        try:
            return _gradient(v)
        finally:
            solving[0] = False

    def _gradient(v: torch.Tensor) -> torch.Tensor:
        info.vjps, info.residual, info.fell_back = 0, float("nan"), False
        if options.mode == "ift":
            return _backward_solve(vjp, v, v, options.iterations, options, info)
        w = inverse.apply_transpose(v)  # type: ignore[union-attr]
        if options.fallback > 0 and not _acceptable(w, v, options.fallback):
            info.fell_back = True
            return v
        if options.refine > 0:
            w = _backward_solve(vjp, v, w, options.refine, options, info)
        return w

    y.register_hook(hook)
    return y


def _backward_solve(
    vjp: FixedPointMap,
    v: torch.Tensor,
    start: torch.Tensor,
    iterations: int,
    options: BackwardOptions,
    info: BackwardInfo,
) -> torch.Tensor:
    """Solve w = v + J^T w from ``start`` with ``options.solver``; at most ``iterations`` VJPs."""

    def step(w: torch.Tensor) -> torch.Tensor:
        return v + vjp(w)

    if options.solver == "broyden":
        w, result, _ = broyden(step, start, iterations, options.tol, options.memory)
    elif options.solver == "anderson":
        w, result = anderson(step, start, iterations, options.tol, memory=options.memory)
    else:
        w, result = picard(step, start, iterations, options.tol)
    info.residual = result.relative_change
    return w


def _acceptable(w: torch.Tensor, v: torch.Tensor, ratio: float) -> bool:
    """SHINE's estimate is used when finite and ||w|| <= ratio * ||v||."""
    norm_w = torch.linalg.vector_norm(w)
    return bool(torch.isfinite(norm_w)) and float(norm_w) <= ratio * float(torch.linalg.vector_norm(v))

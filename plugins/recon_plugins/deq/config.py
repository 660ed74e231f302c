"""Configuration of the ``deq`` model (the only copy of its defaults)."""

from __future__ import annotations

from dataclasses import dataclass

BACKWARD_CHOICES = ("ift", "shine", "jfb")
SOLVER_CHOICES = ("broyden", "anderson", "picard")


@dataclass(frozen=True)
class DEQConfig:
    """Options of ``deq``.

    Attributes:
        iterations: Most Broyden iterations (applications of the step) of the forward solve in training.
        tol: Forward stop: relative residual ||f(x) - x|| / ||x|| (0: run all iterations).
        memory: Rank-one updates the forward Broyden solve keeps (the rank of SHINE's inverse estimate).
        eval_iterations: Most forward iterations at inference (eval mode).
        eval_tol: Forward tolerance at inference.
        backward: Gradient of the fixed point: "ift" (implicit differentiation, a backward solve),
            "shine" (the forward solve's inverse estimate, no backward solve) or "jfb" (Jacobian-free).
        backward_solver: Solver of the "ift" backward fixed point: "broyden", "anderson" or "picard".
        backward_iterations: Most vector-Jacobian products of the "ift" backward solve.
        backward_tol: Relative residual at which the backward solve stops.
        shine_refine: "shine": backward iterations started from SHINE's estimate (0: none).
        shine_fallback: "shine": use the JFB gradient when SHINE's exceeds this times its norm (0: never).
        step_init: Initial data-consistency step eta (> 0), learned as softplus of a free parameter.
        lipschitz: Bound on the gain of the denoiser's CNN D (spectrally normalised weights, learned
            output gain below this).
        shrink_init: Initial excess of the denoiser's shrinkage mu over ``lipschitz``, in
            R(z) = (z - D(z)) / (1 + mu); mu > lipschitz keeps the step a contraction; learned.
        chans: Feature channels of the CNN denoiser.
        layers: Convolutions of the CNN denoiser (>= 2).
    """

    iterations: int = 30
    tol: float = 1e-4
    memory: int = 30
    eval_iterations: int = 50
    eval_tol: float = 1e-4
    backward: str = "ift"
    backward_solver: str = "broyden"
    backward_iterations: int = 30
    backward_tol: float = 1e-4
    shine_refine: int = 0
    shine_fallback: float = 0.0
    step_init: float = 1.0
    lipschitz: float = 0.5
    shrink_init: float = 0.05
    chans: int = 32
    layers: int = 5

    def __post_init__(self) -> None:
        from recon_cli.errors import ModelError

        if self.backward not in BACKWARD_CHOICES:
            raise ModelError(f"deq: backward must be one of {', '.join(BACKWARD_CHOICES)}")
        if self.backward_solver not in SOLVER_CHOICES:
            raise ModelError(f"deq: backward_solver must be one of {', '.join(SOLVER_CHOICES)}")
        counts = (self.iterations, self.memory, self.eval_iterations, self.backward_iterations)
        if min(counts) < 1 or self.shine_refine < 0:
            raise ModelError(
                "deq: iterations, memory, eval_iterations, backward_iterations >= 1, shine_refine >= 0"
            )
        if min(self.tol, self.eval_tol, self.backward_tol, self.shine_fallback) < 0:
            raise ModelError("deq: tolerances and shine_fallback must be >= 0")
        if min(self.step_init, self.shrink_init, self.lipschitz) <= 0 or self.chans < 1 or self.layers < 2:
            raise ModelError(
                "deq: step_init, lipschitz and shrink_init must be > 0, chans >= 1 and layers >= 2"
            )

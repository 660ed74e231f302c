"""Configuration of the compressed-sensing reconstruction (the only copy of its defaults)."""

from __future__ import annotations

from dataclasses import dataclass

SOLVERS = ("fista", "admm")


@dataclass(frozen=True)
class CsConfig:
    """Options of ``cs``: min_x 1/2 ||A x - y||_D^2 + lam_wavelet ||W x||_1 + lam_tv ||D_t x||_1.

    W is an orthonormal wavelet transform of each frame, D_t the difference between consecutive frames,
    and ||r||_D^2 = r^H D r with D the operator's density compensation (``density_weighted``; D = I for
    Cartesian data). With ``scale_data`` the k-space is first divided by the 99th percentile of the
    gridding image's magnitude, so the weights are fractions of the image's bright level whatever the
    data's scale (the result is scaled back). Without it, for Cartesian data and maps with
    sum |S|^2 = 1, this is the problem ``bart pics -w 1 -l1 -r lam_wavelet`` solves (BART: Daubechies-2
    with random shifts too, here with the coarse band left unpenalised).

    Attributes:
        lam_wavelet: Weight of the L1 norm of the wavelet detail coefficients (the coarse approximation
            is not penalised).
        lam_tv: Weight of temporal total variation (cine only; ignored for a single frame).
        iterations: FISTA iterations, or ADMM outer iterations.
        solver: "fista" (exact wavelet prox; temporal TV Huber-smoothed with ``tv_smoothing``; one
            normal-operator application per iteration) or "admm" (splits W x and D_t x, both exactly;
            ``cg_iterations`` normal-operator applications per iteration).
        wavelet: Orthogonal pywt wavelet name ("db2" as BART's default, "db4", "haar", "sym4", ...).
        levels: Wavelet decomposition levels; images are zero-padded to a multiple of 2**levels.
        cycle_spinning: FISTA only: shift the image by a random (seeded) offset below 2**levels before
            each wavelet soft-threshold, and back after (as ``bart pics`` does): an approximation of a
            shift-invariant wavelet penalty that removes the blocky artefacts of a fixed grid.
        rho: ADMM penalty parameter (in the units of the weights).
        cg_iterations: CG iterations per ADMM x-update (warm-started).
        tv_smoothing: Huber parameter mu of the smoothed TV (FISTA), in units of the scaled image.
        power_iterations: Iterations of the power method that estimates ||A^H D A|| for FISTA's step.
        scale_data: Normalise the data scale first (see above); off to solve the raw problem.
        density_weighted: Non-Cartesian only: weight the data term by the density compensation. It
            preconditions radial data (FISTA reaches in 50 iterations what the unweighted problem
            needs about 100 for); off solves the plain least-squares data term.
    """

    lam_wavelet: float = 0.002
    lam_tv: float = 0.03
    iterations: int = 50
    solver: str = "fista"
    wavelet: str = "db2"
    levels: int = 4
    cycle_spinning: bool = True
    rho: float = 0.5
    cg_iterations: int = 3
    tv_smoothing: float = 0.02
    power_iterations: int = 15
    scale_data: bool = True
    density_weighted: bool = True

    def __post_init__(self) -> None:
        from recon_cli.errors import ModelError

        if self.solver not in SOLVERS:
            raise ModelError(f"cs: solver must be one of {', '.join(SOLVERS)}, got {self.solver!r}")
        for name in ("lam_wavelet", "lam_tv"):
            if getattr(self, name) < 0:
                raise ModelError(f"cs: {name} must be >= 0, got {getattr(self, name)}")
        for name in ("iterations", "levels", "cg_iterations", "power_iterations"):
            if getattr(self, name) < 1:
                raise ModelError(f"cs: {name} must be >= 1, got {getattr(self, name)}")
        for name in ("rho", "tv_smoothing"):
            if getattr(self, name) <= 0:
                raise ModelError(f"cs: {name} must be > 0, got {getattr(self, name)}")
        _check_wavelet(self.wavelet)


def _check_wavelet(name: str) -> None:
    import pywt

    from recon_cli.errors import ModelError

    if name not in pywt.wavelist(kind="discrete") or not pywt.Wavelet(name).orthogonal:
        raise ModelError(f"cs: wavelet must be an orthogonal pywt wavelet (db4, haar, sym4...), got {name!r}")

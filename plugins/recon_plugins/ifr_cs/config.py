"""Configuration of ``ifr-cs`` (the only copy of its defaults)."""

from __future__ import annotations

from dataclasses import dataclass

DESCRIPTORS = ("gradient", "variance")


@dataclass(frozen=True)
class IfrCsConfig:
    """Options of ``ifr-cs``: iterative feature refinement (Sun, Liu et al.; Liu et al.'s IFR-CS).

    Each iteration takes three steps from the current image z:

    1. data consistency x = argmin ||A x - y||^2 + rho ||x - z||^2 (closed form in k-space for one coil,
       a few CG steps for several);
    2. sparsity-promoting denoising d = W^H soft(W x, lam) (orthonormal wavelet W, coarse band kept);
    3. feature refinement z = d + refine_weight * D(d) * (x - d), where the descriptor D in [0, 1] marks
       edges and texture of d, so the structure the threshold removed there is put back while the
       incoherent aliasing of flat regions stays removed.

    The result is a final data-consistency step on z. The k-space is first divided by the 99th
    percentile of the zero-filled image's magnitude, so ``lam`` and ``feature_threshold`` are fractions
    of the image's bright level (the result is scaled back).

    Attributes:
        iterations: Number of (1)-(3) iterations.
        rho: Weight of ||x - z||^2 against the data term; small values trust the measured samples.
        lam: Wavelet soft threshold at the first iteration.
        lam_decay: Factor applied to the threshold after every iteration (1: constant), a continuation
            that removes strong aliasing early and keeps fine detail late.
        wavelet: Orthogonal pywt wavelet name ("db2", "db4", "haar", "sym4", ...).
        levels: Wavelet decomposition levels.
        cycle_spinning: Shift the image by a seeded random offset below 2**levels before each threshold
            (and back), which removes the blocky artefacts of a fixed wavelet grid.
        descriptor: "gradient" (magnitude of the gradient of the 3x3-smoothed magnitude image) or
            "variance" (3x3 local variance of the complex image); D = v / (v + feature_threshold^2), v the
            squared gradient magnitude or the variance.
        feature_threshold: Where the descriptor reaches 1/2, in units of the scaled image.
        refine_weight: How much of the masked residual to add back (0 disables refinement).
        cg_iterations: CG steps of the data-consistency step for multi-coil data.
    """

    iterations: int = 100
    rho: float = 0.05
    lam: float = 0.05
    lam_decay: float = 0.97
    wavelet: str = "db2"
    levels: int = 3
    cycle_spinning: bool = True
    descriptor: str = "gradient"
    feature_threshold: float = 0.05
    refine_weight: float = 1.0
    cg_iterations: int = 10

    def __post_init__(self) -> None:
        from recon_cli.errors import ModelError

        if self.descriptor not in DESCRIPTORS:
            raise ModelError(
                f"ifr-cs: descriptor must be one of {', '.join(DESCRIPTORS)}, got {self.descriptor!r}"
            )
        for name in ("iterations", "levels", "cg_iterations"):
            if getattr(self, name) < 1:
                raise ModelError(f"ifr-cs: {name} must be >= 1, got {getattr(self, name)}")
        for name in ("rho", "feature_threshold"):
            if getattr(self, name) <= 0:
                raise ModelError(f"ifr-cs: {name} must be > 0, got {getattr(self, name)}")
        if self.lam < 0 or self.refine_weight < 0 or not 0 < self.lam_decay <= 1:
            raise ModelError("ifr-cs: lam and refine_weight must be >= 0 and lam_decay in (0, 1]")
        _check_wavelet(self.wavelet)


def _check_wavelet(name: str) -> None:
    import pywt

    from recon_cli.errors import ModelError

    if name not in pywt.wavelist(kind="discrete") or not pywt.Wavelet(name).orthogonal:
        raise ModelError(
            f"ifr-cs: wavelet must be an orthogonal pywt wavelet (db2, haar, sym4...), got {name!r}"
        )

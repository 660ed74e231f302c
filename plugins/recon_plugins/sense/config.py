"""Configuration of the CG-SENSE reconstruction (the only copy of its defaults)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SenseConfig:
    """Options of ``sense``.

    Attributes:
        lam: Tikhonov weight: solves (A^H A + lam I) x = A^H y, the problem ``bart pics -l2 -r lam``
            solves. A^H A is scaled as the operator is (orthonormal FFT, maps with sum |S|^2 = 1: its
            largest eigenvalue is about 1 for Cartesian data), so lam does not depend on the data scale.
        iterations: Largest number of CG iterations (each one application of A^H A).
        tol: Stop a frame once ||A^H y - (A^H A + lam I) x|| <= tol ||A^H y||.
        density_weighted: Non-Cartesian only: solve the density-weighted problem
            (A^H D A + lam I) x = A^H D y, D the operator's density compensation (its ``gridding``
            weights). D preconditions radial data (a 13-spoke 64 x 64 cine: 50 instead of 84 CG
            iterations to a 1e-5 residual); for Cartesian data D is the identity.
    """

    lam: float = 0.01
    iterations: int = 30
    tol: float = 1e-5
    density_weighted: bool = True

    def __post_init__(self) -> None:
        from recon_cli.errors import ModelError

        if self.lam < 0:
            raise ModelError(f"sense: lam must be >= 0, got {self.lam}")
        if self.iterations < 1:
            raise ModelError(f"sense: iterations must be >= 1, got {self.iterations}")
        if self.tol < 0:
            raise ModelError(f"sense: tol must be >= 0, got {self.tol}")

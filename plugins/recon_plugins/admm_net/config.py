"""Configuration of ``admm-net`` (the only copy of its defaults)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

INITS = ("dct", "random")


@dataclass(frozen=True)
class AdmmNetConfig:
    """Options of ``admm-net`` (Yang, Sun, Li, Xu, "Deep ADMM-Net for compressive sensing MRI", NeurIPS
    2016): ADMM on min_x 1/2 ||A x - y||^2 + sum_l g(H_l x), unrolled, with everything learnable.

    Stage n, with filters H_l, D_l (3x3), weights rho_l, step eta_l and shrinkage S_l of that stage:

    * reconstruction layer: x = argmin ||A x - y||^2 + sum_l rho_l ||H_l x - z_l + beta_l||^2, closed
      form in k-space for one coil (circular convolutions are diagonal there), CG for several coils;
    * convolution layer: c_l = D_l x;
    * nonlinear transform layer: z_l = S_l(c_l + beta_l), a piecewise-linear function (control points
      on [-1, 1]);
    * multiplier update layer: beta_l <- beta_l + eta_l (c_l - z_l).

    The first stage starts from z = beta = 0 (its reconstruction layer gives the zero-filled image), and
    a last reconstruction layer gives the output. Images are scaled by the zero-filled image's RMS level
    per frame first (and back at the end). The filters are real; complex images are filtered part by
    part (so every layer is complex-linear and the closed form holds).

    Attributes:
        stages: Number of stages.
        filters: Filters per layer (L).
        points: Control points of each shrinkage function.
        threshold: Initial soft threshold of the shrinkage functions.
        rho_init: Initial reconstruction-layer weights.
        eta_init: Initial multiplier-update steps.
        init: "dct" (H_l = D_l = the non-constant 3x3 DCT basis filters, at most 8) or "random".
        complex: False: the image is real (imaginary part dropped after each reconstruction layer).
            True: complex images, real and imaginary parts shrunk separately.
        cg_iterations: CG steps of the reconstruction layer for multi-coil data.
    """

    stages: int = 10
    filters: int = 8
    points: int = 101
    threshold: float = 0.05
    rho_init: float = 0.1
    eta_init: float = 1.0
    init: str = "dct"
    complex: bool = False
    cg_iterations: int = 10

    def __post_init__(self) -> None:
        check_shrinkage_network(
            "admm-net",
            self,
            ("stages", "filters", "cg_iterations"),
            dct_filters=8,
            dct_error=f"the 3x3 DCT basis has 8 non-constant filters; got {self.filters}",
        )


def check_shrinkage_network(
    model: str, config: Any, counts: tuple[str, ...], *, dct_filters: int, dct_error: str
) -> None:
    """The checks ``admm-net`` and ``ifr-net`` share (ModelError naming ``model``).

    Args:
        model: registry name, first word of every message.
        config: a config with ``init``, ``filters``, ``points``, ``threshold`` and ``rho_init``.
        counts: names of the fields that must be >= 1.
        dct_filters: most ``filters`` the DCT initialisation provides; ``dct_error`` says so.
    """
    from recon_cli.errors import ModelError

    if config.init not in INITS:
        raise ModelError(f"{model}: init must be one of {', '.join(INITS)}, got {config.init!r}")
    for name in counts:
        if getattr(config, name) < 1:
            raise ModelError(f"{model}: {name} must be >= 1, got {getattr(config, name)}")
    if config.init == "dct" and config.filters > dct_filters:
        raise ModelError(f"{model}: {dct_error}")
    if config.points < 2 or config.threshold < 0 or config.rho_init <= 0:
        raise ModelError(f"{model}: points must be >= 2, threshold >= 0 and rho_init > 0")

"""Configuration of the ``pdnet`` model (the only copy of its defaults)."""

from __future__ import annotations

from dataclasses import dataclass

DUAL_CHOICES = ("cnn", "residual")


@dataclass(frozen=True)
class PDNetConfig:
    """Options of ``pdnet``.

    Attributes:
        iterations: Unrolled primal-dual iterations (each with its own networks).
        n_primal: Complex images in the primal buffer.
        n_dual: Complex measurement arrays in the dual buffer (with ``dual="cnn"``).
        features: Channels of the hidden layers of the primal and dual CNNs.
        layers: Convolutions of each primal and dual CNN.
        dual: "cnn" (Adler & Oektem's learned dual step, a CNN in measurement space: 2D over (ky, kx)
            per coil for Cartesian data, 1D along the samples for non-Cartesian data) or "residual"
            (no dual network: the dual is A x - y).
    """

    iterations: int = 10
    n_primal: int = 5
    n_dual: int = 5
    features: int = 32
    layers: int = 3
    dual: str = "cnn"

    def __post_init__(self) -> None:
        from recon_cli.errors import ModelError

        if self.dual not in DUAL_CHOICES:
            raise ModelError(f"pdnet: dual must be one of {', '.join(DUAL_CHOICES)}")
        if self.iterations < 1 or self.n_primal < 1 or self.n_dual < 1:
            raise ModelError("pdnet: iterations, n_primal and n_dual must be >= 1")
        if self.features < 1 or self.layers < 2:
            raise ModelError("pdnet: features must be >= 1 and layers >= 2")

"""Configuration of the ``ncpdnet`` model (the only copy of its defaults)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NCPDNetConfig:
    """Options of ``ncpdnet``.

    Attributes:
        iterations: Unrolled iterations (each with its own image CNN).
        n_primal: Complex images in the primal buffer.
        features: Channels of the image CNNs' hidden layers.
        layers: Convolutions of each image CNN.
        density_compensation: Back-project (and start from) A^H D y with the operator's Pipe-Menon
            density compensation D (True), or with the plain adjoint A^H (False). No effect on
            Cartesian data, where D = I.
    """

    iterations: int = 10
    n_primal: int = 5
    features: int = 32
    layers: int = 3
    density_compensation: bool = True

    def __post_init__(self) -> None:
        from recon_cli.errors import ModelError

        if self.iterations < 1 or self.n_primal < 1 or self.features < 1 or self.layers < 2:
            raise ModelError("ncpdnet: iterations, n_primal and features must be >= 1 and layers >= 2")

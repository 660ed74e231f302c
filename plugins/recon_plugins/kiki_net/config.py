"""Configuration of the ``kiki-net`` model (the only copy of its defaults)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KIKINetConfig:
    """Options of ``kiki-net``.

    Attributes:
        iterations: Number of (k-space CNN, image CNN, data consistency) rounds; 2 gives KIKI.
        k_layers: Convolutions of each k-space CNN.
        i_layers: Convolutions of each image CNN.
        features: Channels of the CNNs' hidden layers.
        lambda_init: Initial data-consistency weight lambda (> 0), learned per round.
    """

    iterations: int = 2
    k_layers: int = 5
    i_layers: int = 5
    features: int = 32
    lambda_init: float = 10.0

    def __post_init__(self) -> None:
        from recon_cli.errors import ModelError

        if self.iterations < 1 or min(self.k_layers, self.i_layers) < 2 or self.features < 1:
            raise ModelError("kiki-net: iterations must be >= 1, k_layers and i_layers >= 2, features >= 1")
        if self.lambda_init <= 0:
            raise ModelError("kiki-net: lambda_init must be > 0")

"""Configuration of the ``cascade-net`` model (the only copy of its defaults)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CascadeNetConfig:
    """Options of ``cascade-net``.

    Attributes:
        cascades: Number of CNN + data-consistency blocks.
        layers: Convolutions of each block's CNN.
        features: Channels of the CNNs' hidden layers.
        lambda_init: Initial data-consistency weight lambda (> 0) of the sampled points; learned (as
            softplus of a free parameter), one per cascade. Large lambda approaches k-space replacement.
        shared: One CNN and one lambda for all cascades (True) or one per cascade.
    """

    cascades: int = 5
    layers: int = 5
    features: int = 32
    lambda_init: float = 10.0
    shared: bool = False

    def __post_init__(self) -> None:
        from recon_cli.errors import ModelError

        if self.cascades < 1 or self.layers < 2 or self.features < 1:
            raise ModelError("cascade-net: cascades must be >= 1, layers >= 2 and features >= 1")
        if self.lambda_init <= 0:
            raise ModelError("cascade-net: lambda_init must be > 0")

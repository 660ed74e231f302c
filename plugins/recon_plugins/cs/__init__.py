"""Compressed sensing: L1-wavelet sparsity in space plus temporal total variation (cine), FISTA or ADMM."""

from recon_cli.registry import ModelPlugin
from recon_plugins.cs.config import CsConfig


def _build(config: CsConfig):  # noqa: ANN202 - returns torch.nn.Module, imported lazily
    from recon_plugins.cs.model import CompressedSensing

    return CompressedSensing(config)


plugin = ModelPlugin(
    name="cs",
    description="Compressed sensing: L1-wavelet in space + temporal total variation, by FISTA or ADMM",
    config_cls=CsConfig,
    build=_build,
    trainable=False,
)

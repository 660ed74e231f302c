"""Compressed sensing: L1-wavelet sparsity in space plus temporal total variation (cine), FISTA or ADMM."""

from recon_cli.registry import ModelPlugin
from recon_plugins.cs.config import CsConfig

plugin = ModelPlugin(
    name="cs",
    description="Compressed sensing: L1-wavelet in space + temporal total variation, by FISTA or ADMM",
    config_cls=CsConfig,
    build="recon_plugins.cs.model:CompressedSensing",
    trainable=False,
)

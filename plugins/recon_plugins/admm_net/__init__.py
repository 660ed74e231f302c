"""ADMM-Net: unrolled ADMM with learned filters and shrinkage (Yang et al., NeurIPS 2016)."""

from recon_cli.registry import ModelPlugin
from recon_plugins.admm_net.config import AdmmNetConfig

plugin = ModelPlugin(
    name="admm-net",
    description="ADMM-Net: unrolled ADMM stages (reconstruction, convolution, piecewise-linear shrinkage, "
    "multiplier update) with learned filters (Cartesian; train it with `recon train --loss nmse`)",
    config_cls=AdmmNetConfig,
    build="recon_plugins.admm_net.model:AdmmNet",
    trainable=True,
    non_cartesian=False,
)

"""KIKI-net: alternating k-space and image-domain CNNs with data consistency (Eo et al., MRM 2018)."""

from recon_cli.registry import ModelPlugin
from recon_plugins.kiki_net.config import KIKINetConfig

plugin = ModelPlugin(
    name="kiki-net",
    description="KIKI-net: k-space CNN, inverse FFT, image CNN and data consistency, repeated; "
    "Cartesian only (train it with `recon train`)",
    config_cls=KIKINetConfig,
    build="recon_plugins.kiki_net.model:KIKINet",
    trainable=True,
    non_cartesian=False,
)

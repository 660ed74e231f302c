"""PD-Net: the learned primal-dual network of Adler & Oektem (IEEE TMI 2018) for MRI."""

from recon_cli.registry import ModelPlugin
from recon_plugins.pdnet.config import PDNetConfig

plugin = ModelPlugin(
    name="pdnet",
    description="Learned primal-dual network: CNN updates in image and measurement space, unrolled "
    "(train it with `recon train`)",
    config_cls=PDNetConfig,
    build="recon_plugins.pdnet.model:PDNet",
    trainable=True,
)

"""Deep cascade of CNNs with data-consistency layers (Schlemper et al., IEEE TMI 2018)."""

from recon_cli.registry import ModelPlugin
from recon_plugins.cascade_net.config import CascadeNetConfig

plugin = ModelPlugin(
    name="cascade-net",
    description="Deep cascade of residual CNNs and data-consistency layers with a learned weight "
    "(train it with `recon train`)",
    config_cls=CascadeNetConfig,
    build="recon_plugins.cascade_net.model:CascadeNet",
    trainable=True,
)

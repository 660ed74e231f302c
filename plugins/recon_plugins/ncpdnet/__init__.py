"""NC-PDNet: density-compensated primal-dual network for non-Cartesian MRI (Ramzi et al., IEEE TMI 2022)."""

from recon_cli.registry import ModelPlugin
from recon_plugins.ncpdnet.config import NCPDNetConfig

plugin = ModelPlugin(
    name="ncpdnet",
    description="Non-Cartesian primal-dual network: residual dual, density-compensated adjoint, CNN "
    "image updates (train it with `recon train`)",
    config_cls=NCPDNetConfig,
    build="recon_plugins.ncpdnet.model:NCPDNet",
    trainable=True,
)

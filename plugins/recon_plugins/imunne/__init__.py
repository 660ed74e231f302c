"""IMUNNE: an implicit network whose output is the fixed point of a learned gradient-step block."""

from recon_cli.registry import ModelPlugin
from recon_plugins.imunne.config import IMUNNEConfig

plugin = ModelPlugin(
    name="imunne",
    description="Implicit network: fixed point of a gradient step with a CU-Net regulariser, trained "
    "with Jacobian-free backpropagation (train it with `recon train`)",
    config_cls=IMUNNEConfig,
    build="recon_plugins.imunne.model:IMUNNE",
    trainable=True,
    default_weights=("recon_plugins.imunne", "weights.pt"),
)

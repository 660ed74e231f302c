"""DEQ: a deep-equilibrium reconstruction, the fixed point of a learned proximal-gradient step."""

from recon_cli.registry import ModelPlugin
from recon_plugins.deq.config import DEQConfig

plugin = ModelPlugin(
    name="deq",
    description="Deep equilibrium: fixed point of a CNN-denoised gradient step found by Broyden's method, "
    "trained by implicit differentiation, SHINE or JFB (train it with `recon train`)",
    config_cls=DEQConfig,
    build="recon_plugins.deq.model:DEQ",
    trainable=True,
)

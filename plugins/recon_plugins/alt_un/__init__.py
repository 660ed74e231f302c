"""Alt-UN: unrolled gradient steps with a CU-Net regulariser, the end-to-end baseline of ``imunne``."""

from recon_cli.registry import ModelPlugin
from recon_plugins.alt_un.config import AltUNConfig

plugin = ModelPlugin(
    name="alt-un",
    description="Unrolled network: K gradient steps on data consistency plus a CU-Net regulariser, "
    "trained end to end (train it with `recon train`)",
    config_cls=AltUNConfig,
    build="recon_plugins.alt_un.model:AltUN",
    trainable=True,
    default_weights=("recon_plugins.alt_un", "weights.pt"),
)

"""Alt-UN: unrolled gradient steps with a CU-Net regulariser, the end-to-end baseline of ``imunne``."""

from recon_cli.registry import ModelPlugin
from recon_plugins.alt_un.config import AltUNConfig


def _build(config: AltUNConfig):  # noqa: ANN202 - returns torch.nn.Module, imported lazily
    from recon_plugins.alt_un.model import AltUN

    return AltUN(config)


plugin = ModelPlugin(
    name="alt-un",
    description="Unrolled network: K gradient steps on data consistency plus a CU-Net regulariser, "
    "trained end to end (train it with `recon train`)",
    config_cls=AltUNConfig,
    build=_build,
    trainable=True,
    default_weights=("recon_plugins.alt_un", "weights.pt"),
)

"""KIKI-net: alternating k-space and image-domain CNNs with data consistency (Eo et al., MRM 2018)."""

from recon_cli.registry import ModelPlugin
from recon_plugins.kiki_net.config import KIKINetConfig


def _build(config: KIKINetConfig):  # noqa: ANN202 - returns torch.nn.Module, imported lazily
    from recon_plugins.kiki_net.model import KIKINet

    return KIKINet(config)


plugin = ModelPlugin(
    name="kiki-net",
    description="KIKI-net: k-space CNN, inverse FFT, image CNN and data consistency, repeated; "
    "Cartesian only (train it with `recon train`)",
    config_cls=KIKINetConfig,
    build=_build,
    trainable=True,
    non_cartesian=False,
)

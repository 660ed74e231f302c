"""ADMM-Net: unrolled ADMM with learned filters and shrinkage (Yang et al., NeurIPS 2016)."""

from recon_cli.registry import ModelPlugin
from recon_plugins.admm_net.config import AdmmNetConfig


def _build(config: AdmmNetConfig):  # noqa: ANN202 - returns torch.nn.Module, imported lazily
    from recon_plugins.admm_net.model import AdmmNet

    return AdmmNet(config)


plugin = ModelPlugin(
    name="admm-net",
    description="ADMM-Net: unrolled ADMM stages (reconstruction, convolution, piecewise-linear shrinkage, "
    "multiplier update) with learned filters (Cartesian; train it with `recon train --loss nmse`)",
    config_cls=AdmmNetConfig,
    build=_build,
    trainable=True,
    non_cartesian=False,
)

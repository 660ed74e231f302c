"""NC-PDNet: density-compensated primal-dual network for non-Cartesian MRI (Ramzi et al., IEEE TMI 2022)."""

from recon_cli.registry import ModelPlugin
from recon_plugins.ncpdnet.config import NCPDNetConfig


def _build(config: NCPDNetConfig):  # noqa: ANN202 - returns torch.nn.Module, imported lazily
    from recon_plugins.ncpdnet.model import NCPDNet

    return NCPDNet(config)


plugin = ModelPlugin(
    name="ncpdnet",
    description="Non-Cartesian primal-dual network: residual dual, density-compensated adjoint, CNN "
    "image updates (train it with `recon train`)",
    config_cls=NCPDNetConfig,
    build=_build,
    trainable=True,
)

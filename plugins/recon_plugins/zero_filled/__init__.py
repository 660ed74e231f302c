"""Zero-filled / gridding reconstruction: inverse FFT or density-compensated NUFFT adjoint."""

from recon_cli.registry import ModelPlugin
from recon_plugins.zero_filled.config import ZeroFilledConfig

plugin = ModelPlugin(
    name="zero-filled",
    description="Inverse FFT (Cartesian) or density-compensated gridding (non-Cartesian), "
    "coil-combined by root-sum-of-squares or with coil maps",
    config_cls=ZeroFilledConfig,
    build="recon_plugins.zero_filled.model:ZeroFilled",
    trainable=False,
)

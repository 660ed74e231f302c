"""Image-domain U-Net: a trainable residual network on the gridded (zero-filled) image."""

from recon_cli.registry import ModelPlugin
from recon_plugins.unet.config import UNetConfig


def _build(config: UNetConfig):  # noqa: ANN202 - returns torch.nn.Module, imported lazily
    from recon_plugins.unet.model import UNetRecon

    return UNetRecon(config)


plugin = ModelPlugin(
    name="unet",
    description="Residual 2D U-Net on the zero-filled / gridded image, frame by frame "
    "(train it with `recon train`)",
    config_cls=UNetConfig,
    build=_build,
    trainable=True,
)

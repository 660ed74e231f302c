"""Image-domain U-Net: a trainable residual network on the gridded (zero-filled) image."""

from recon_cli.registry import ModelPlugin
from recon_plugins.unet.config import UNetConfig

plugin = ModelPlugin(
    name="unet",
    description="Residual 2D U-Net on the zero-filled / gridded image, frame by frame "
    "(train it with `recon train`)",
    config_cls=UNetConfig,
    build="recon_plugins.unet.model:UNetRecon",
    trainable=True,
)

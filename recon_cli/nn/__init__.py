"""Shared network blocks for learned model plugins: complex/channel helpers and a 2D U-Net."""

from recon_cli.nn.complex import channels_to_image, image_to_channels, rms_scale
from recon_cli.nn.unet import ConvBlock, UNet

__all__ = ["ConvBlock", "UNet", "channels_to_image", "image_to_channels", "rms_scale"]

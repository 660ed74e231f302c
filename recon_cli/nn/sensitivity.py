"""Learned refinement of coil sensitivity maps, and operators rebuilt around new maps.

XPDNet-style networks (Ramzi et al. 2020) correct the estimated maps with a small U-Net applied to each
coil's map and renormalise them so that sum_c |S_c|^2 = 1 wherever the given maps cover the object; the
refined maps then replace the given ones in the forward model, and gradients reach the U-Net through it.
"""

from __future__ import annotations

import torch
from torch import nn

from recon_cli.errors import ModelError
from recon_cli.nn.complex import channels_to_image, image_to_channels
from recon_cli.nn.unet import UNet
from recon_cli.ops.base import LinearOperator
from recon_cli.ops.cartesian import CartesianSense
from recon_cli.ops.nufft import NonCartesianSense

SUPPORT_THRESHOLD = 1e-3  # where the given maps' root-sum-of-squares is below this share of its peak: outside


def with_maps(op: LinearOperator, maps: torch.Tensor) -> LinearOperator:
    """The same forward model with other coil maps.

    Args:
        op: A ``CartesianSense`` or ``NonCartesianSense`` holding coil maps.
        maps: (coils, ny, nx) complex, may require grad.

    Returns:
        A new operator sharing ``op``'s mask or trajectory, density compensation and cached Toeplitz
        kernels (they do not depend on the maps).

    Raises:
        ModelError: another kind of operator.
    """
    if isinstance(op, CartesianSense):
        coils, ny, nx = op.range_shape
        return CartesianSense((coils, ny, nx), mask=op.mask, maps=maps)
    if isinstance(op, NonCartesianSense):
        coils = op.range_shape[0]
        nc = NonCartesianSense(
            coils, op.im_size, op.traj, maps=maps, dcf=op.dcf, backend=op.backend, toeplitz=op.toeplitz
        )
        nc.toeplitz_kernel, nc.toeplitz_kernel_weighted = op.toeplitz_kernel, op.toeplitz_kernel_weighted
        nc._nufft = op._nufft
        return nc
    raise ModelError(f"cannot refine the coil maps of a {type(op).__name__}")


def normalise_maps(maps: torch.Tensor, support: torch.Tensor) -> torch.Tensor:
    """Scale maps so that sum_c |S_c|^2 = 1 on ``support`` and 0 outside.

    Args:
        maps: (coils, ny, nx) complex.
        support: (ny, nx) bool.

    Returns:
        (coils, ny, nx) complex64.
    """
    norm = torch.sqrt(torch.sum(maps.real.square() + maps.imag.square(), dim=0))
    scale = torch.where(support, 1.0 / norm.clamp_min(torch.finfo(torch.float32).eps), 0.0)
    return (maps * scale).to(torch.complex64)


class SensitivityRefinement(nn.Module):
    """S' = normalise(S + UNet(S)), the U-Net applied to every coil's map separately (coils as a batch).

    The U-Net's output layer starts at zero, so an untrained refinement returns the given maps
    (renormalised).

    Args:
        chans: Channels of the U-Net's first level.
        num_pools: Depth of the U-Net.
    """

    def __init__(self, chans: int = 8, num_pools: int = 2) -> None:
        super().__init__()
        self.unet = UNet(2, 2, chans=chans, num_pools=num_pools)
        head = self.unet.head
        assert head.bias is not None
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        """maps: (coils, ny, nx) complex -> refined (coils, ny, nx) complex64."""
        maps = maps.to(torch.complex64)
        rss = torch.sqrt(torch.sum(maps.abs().square(), dim=0))
        support = rss > SUPPORT_THRESHOLD * rss.amax().clamp_min(torch.finfo(torch.float32).tiny)
        refined = maps + channels_to_image(self.unet(image_to_channels(maps)))
        return normalise_maps(refined, support)

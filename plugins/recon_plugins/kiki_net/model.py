"""The ``kiki-net`` model: alternating k-space and image CNNs with data consistency (Eo et al. 2018).

Every round r (``iterations`` of them; two rounds are the paper's KIKI)::

    k <- k + KCNN_r(k)                      coil k-space (coils, ky, kx), each coil through the same CNN
    x <- S^H F^H k                          inverse FFT and coil combination with the maps
    x <- x + ICNN_r(x)                      image CNN
    x <- x + w_r (A^H y - A^H A x)          data consistency (``cascade-net``'s layer)
    k <- F S x                              back to coil k-space for the next round

starting from the measured (zero-filled) k-space. The k-space CNN needs a Cartesian grid: the model
refuses non-Cartesian operators (the plugin declares ``non_cartesian=False``, so ``recon`` says so before
reading any data). Coils share the k-space CNN, so a model works for any number of coils.
"""

from __future__ import annotations

import torch
from torch import nn

from recon_cli.errors import ModelError
from recon_cli.nn import channels_to_image, image_to_channels
from recon_cli.nn.cnn import ConvStack, apply_complex
from recon_cli.nn.primal_dual import normalised_start
from recon_cli.nn.slice_model import SliceModel
from recon_cli.nn.unrolled import require_maps
from recon_cli.ops.base import LinearOperator
from recon_cli.ops.cartesian import CartesianSense
from recon_cli.ops.functional import fft2c, ifft2c, sense_expand, sense_reduce
from recon_plugins.cascade_net.model import DataConsistency
from recon_plugins.kiki_net.config import KIKINetConfig


class KIKINet(SliceModel):
    """KIKI-net for Cartesian multi-coil (or single-coil) data."""

    def __init__(self, config: KIKINetConfig) -> None:
        super().__init__()
        self.config = config
        self.coil_maps = "required"
        n, f = config.iterations, config.features
        self.k_cnns = nn.ModuleList(ConvStack(2, 2, f, config.k_layers, out_init_scale=0.1) for _ in range(n))
        self.i_cnns = nn.ModuleList(ConvStack(2, 2, f, config.i_layers, out_init_scale=0.1) for _ in range(n))
        self.dcs = nn.ModuleList(DataConsistency(config.lambda_init) for _ in range(n))

    def reconstruct(self, kspace: torch.Tensor, op: LinearOperator, x0: torch.Tensor | None) -> torch.Tensor:
        """Cartesian data only: ``kspace`` zero where not sampled, ``op`` a ``CartesianSense`` with coil
        maps; the coil k-space of ``x0`` replaces the measured k-space as the first k-space CNN's input.

        Raises:
            ModelError: a non-Cartesian operator, or no coil maps.
        """
        if not isinstance(op, CartesianSense):
            raise ModelError(
                f"kiki-net: Cartesian data only (its k-space CNN needs a grid), got {type(op).__name__}"
            )
        require_maps(op, "kiki-net")
        maps = op.maps
        assert maps is not None
        y, gridded, scale = normalised_start(kspace, op)
        k = y if x0 is None else fft2c(sense_expand(x0.to(torch.complex64) / scale, maps))
        frames, coils = k.shape[:2]
        x = gridded
        for r in range(self.config.iterations):
            k = k + apply_complex(self.k_cnns[r], k.reshape(frames * coils, 1, *k.shape[-2:])).reshape(
                k.shape
            )
            x = sense_reduce(ifft2c(k), maps)
            x = x + channels_to_image(self.i_cnns[r](image_to_channels(x)))
            x = self.dcs[r](x, op, gridded)
            if r + 1 < self.config.iterations:
                k = fft2c(sense_expand(x, maps))
        return x * scale

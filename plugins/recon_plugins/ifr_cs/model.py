"""The ``ifr-cs`` model: data consistency, wavelet denoising and feature refinement, iterated."""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from recon_cli.nn.data_consistency import cartesian_operator, tikhonov_dc, zero_filled
from recon_cli.ops.base import LinearOperator
from recon_cli.solvers.regularizers import Wavelet2d, wavelet_soft_threshold
from recon_plugins.ifr_cs.config import IfrCsConfig

_SPIN_SEED = 0


def _pad(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Zero-pad the last two axes at their ends to ``shape``."""
    py, px = shape[0] - x.shape[-2], shape[1] - x.shape[-1]
    return x if py == px == 0 else F.pad(x, (0, px, 0, py))


def _box3(x: torch.Tensor) -> torch.Tensor:
    """3x3 moving average with reflected borders. x: (frames, ny, nx) real -> same shape."""
    return F.avg_pool2d(F.pad(x[:, None], (1, 1, 1, 1), mode="replicate"), 3, stride=1)[:, 0]


def gradient_energy(image: torch.Tensor) -> torch.Tensor:
    """Squared gradient magnitude of the 3x3-smoothed magnitude. image: (frames, ny, nx) complex -> real."""
    m = _box3(image.abs())
    padded = F.pad(m[:, None], (1, 1, 1, 1), mode="replicate")[:, 0]
    gy = (padded[:, 2:, 1:-1] - padded[:, :-2, 1:-1]) / 2
    gx = (padded[:, 1:-1, 2:] - padded[:, 1:-1, :-2]) / 2
    return gy**2 + gx**2


def local_variance(image: torch.Tensor) -> torch.Tensor:
    """3x3 local variance E|x|^2 - |E x|^2. image: (frames, ny, nx) complex -> (frames, ny, nx) real."""
    mean_re, mean_im = _box3(image.real), _box3(image.imag)
    power = _box3(image.real**2 + image.imag**2)
    return (power - mean_re**2 - mean_im**2).clamp_min(0.0)


def feature_descriptor(image: torch.Tensor, kind: str, threshold: float) -> torch.Tensor:
    """D = v / (v + threshold^2) in [0, 1): near 1 on edges and texture, near 0 in flat regions.

    Args:
        image: (frames, ny, nx) complex, the denoised image.
        kind: "gradient" (v = squared gradient magnitude) or "variance" (v = local variance).
        threshold: Where D = 1/2, in the image's units.

    Returns:
        (frames, ny, nx) real, the image's real dtype.
    """
    v = gradient_energy(image) if kind == "gradient" else local_variance(image)
    return v / (v + threshold**2)


class IterativeFeatureRefinement(nn.Module):
    """z <- d + beta D(d) (x - d), x = DC(z), d = W^H soft(W x, lam) (see ``IfrCsConfig``).

    Every frame is reconstructed on its own (the frames share nothing). Starts from the zero-filled
    image or ``x0``.
    """

    def __init__(self, config: IfrCsConfig) -> None:
        super().__init__()
        self.config = config
        self.wavelet = Wavelet2d(config.wavelet, config.levels)
        # How the pipeline should treat coil maps: "required", "optional" (used when given) or "ignored".
        self.coil_maps = "required"

    def forward(
        self, kspace: torch.Tensor, op: LinearOperator, x0: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Reconstruct one slice.

        Args:
            kspace: (frames, coils, ny, nx) complex64 Cartesian k-space, zero where not sampled.
            op: ``CartesianSense`` with coil maps (or of a single coil without maps).
            x0: (frames, ny, nx) complex starting image; default the zero-filled image.

        Returns:
            (frames, ny, nx) complex64.

        Raises:
            ModelError: non-Cartesian operator, or several coils without maps.
        """
        cfg = self.config
        op = cartesian_operator(op, "ifr-cs")
        gridded = zero_filled(kspace, op)
        scale = _image_scale(gridded)
        y = kspace / scale
        z = (gridded if x0 is None else x0.to(gridded.dtype)) / scale
        shifts = self._shifts()
        lam = cfg.lam
        for _ in range(cfg.iterations):
            x = tikhonov_dc(z, y, op, cfg.rho, cg_iterations=cfg.cg_iterations)
            d = self.denoise(x, lam, next(shifts))
            descriptor = feature_descriptor(d, cfg.descriptor, cfg.feature_threshold)
            z = d + cfg.refine_weight * descriptor * (x - d)
            lam *= cfg.lam_decay
        x = tikhonov_dc(z, y, op, cfg.rho, cg_iterations=cfg.cg_iterations)
        return (x * scale).to(torch.complex64)

    def denoise(self, x: torch.Tensor, lam: float, shift: tuple[int, int]) -> torch.Tensor:
        """Wavelet soft-thresholding of each frame (zero-padded to the transform's size and cropped back).

        Args:
            x: (frames, ny, nx) complex.
            lam: Threshold; shift: cycle-spinning offset.

        Returns:
            (frames, ny, nx) complex.
        """
        shape = (int(x.shape[-2]), int(x.shape[-1]))
        padded = _pad(x, self.wavelet.padded_shape(shape))
        out = wavelet_soft_threshold(self.wavelet, padded, lam, shift=shift)
        return out[..., : shape[0], : shape[1]]

    def _shifts(self) -> Iterator[tuple[int, int]]:
        """Cycle-spinning shifts from a seeded CPU generator ((0, 0) when off): the same for every call."""
        gen = torch.Generator().manual_seed(_SPIN_SEED)
        block = 2**self.config.levels
        while True:
            if not self.config.cycle_spinning:
                yield (0, 0)
                continue
            sy, sx = torch.randint(0, block, (2,), generator=gen).tolist()
            yield (sy, sx)


def _image_scale(image: torch.Tensor, quantile: float = 0.99) -> float:
    """The ``quantile`` of an image's magnitude (1.0 for an all-zero image). image: any shape, complex."""
    magnitude = image.abs().flatten().float()
    if magnitude.numel() > 2**24:  # torch.quantile's input limit
        magnitude = magnitude[:: magnitude.numel() // 2**24 + 1]
    scale = float(torch.quantile(magnitude, quantile))
    return scale if scale > 0 else 1.0

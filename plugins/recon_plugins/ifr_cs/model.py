"""The ``ifr-cs`` model: data consistency, wavelet denoising and feature refinement, iterated."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from recon_cli.nn.data_consistency import cartesian_operator, tikhonov_dc, zero_filled
from recon_cli.nn.slice_model import SliceModel
from recon_cli.ops.base import LinearOperator
from recon_cli.solvers.regularizers import (
    Wavelet2d,
    crop_top_left,
    cycle_spinning_shifts,
    pad_bottom_right,
    wavelet_soft_threshold,
)
from recon_plugins.cs.model import image_scale
from recon_plugins.ifr_cs.config import IfrCsConfig


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


class IterativeFeatureRefinement(SliceModel):
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

    def reconstruct(self, kspace: torch.Tensor, op: LinearOperator, x0: torch.Tensor | None) -> torch.Tensor:
        """Cartesian data only: ``kspace`` zero where not sampled, ``op`` a ``CartesianSense`` with coil maps
        (or of a single coil without maps); x0 default: the zero-filled image.

        Raises:
            ModelError: non-Cartesian operator, or several coils without maps.
        """
        cfg = self.config
        op = cartesian_operator(op, "ifr-cs")
        gridded = zero_filled(kspace, op)
        scale = image_scale(gridded)
        y = kspace / scale
        z = (gridded if x0 is None else x0.to(gridded.dtype)) / scale
        shifts = cycle_spinning_shifts(cfg.levels, cfg.cycle_spinning)  # the same for every call
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
        padded = pad_bottom_right(x, self.wavelet.padded_shape(shape))
        return crop_top_left(wavelet_soft_threshold(self.wavelet, padded, lam, shift=shift), shape)

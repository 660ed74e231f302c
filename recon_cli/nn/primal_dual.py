"""Learned primal-dual iterations (Adler & Oektem 2018) for any forward model, and their variants with a
residual dual step (XPDNet, NC-PDNet; Ramzi et al. 2020, 2022).

With a primal buffer h (P complex images) and a dual buffer g (D complex arrays in measurement space),
every iteration i reads

    g <- g + Gamma_i([g, A h[1], y])          learned dual step   (or  g <- A h[1] - y, the residual)
    h <- h + Lambda_i([h, B g[0]])            learned primal step, B = A^H or A^H D (density compensated)

and the image is h[0]. Gamma runs in measurement space: Cartesian k-space (coils, ky, kx) is convolved
over (ky, kx), coil by coil; non-Cartesian data (coils, samples) is seen as a 1 x samples image, so the
same 3 x 3 kernels act as 1D kernels (their middle row) along the samples (the readout of a spoke or an
interleave). Buffers are complex; networks see them as real channels (``recon_cli.nn.cnn``).
"""

from __future__ import annotations

import torch
from torch import nn

from recon_cli.nn.cnn import apply_complex
from recon_cli.ops.base import LinearOperator


def measurements_to_images(data: torch.Tensor) -> torch.Tensor:
    """Measurement buffers as 2D images per coil.

    Args:
        data: (frames, C, coils, ky, kx) or (frames, C, coils, samples) complex.

    Returns:
        (frames * coils, C, ky, kx) or (frames * coils, C, 1, samples) complex.
    """
    if data.dim() == 4:
        data = data.unsqueeze(-2)
    frames, chans, coils = data.shape[:3]
    return data.transpose(1, 2).reshape(frames * coils, chans, *data.shape[-2:])


def images_to_measurements(images: torch.Tensor, frames: int, range_shape: tuple[int, ...]) -> torch.Tensor:
    """Inverse of ``measurements_to_images``: (frames * coils, C, H, W) -> (frames, C, *range_shape)."""
    coils = range_shape[0]
    data = images.reshape(frames, coils, images.shape[1], *images.shape[-2:]).transpose(1, 2)
    return data.reshape(frames, images.shape[1], *range_shape)


class PrimalDualNet(nn.Module):
    """Unrolled learned primal-dual iterations.

    Args:
        primal_nets: One network per iteration (or one, shared), real channels
            (N, 2 (P + 1), ny, nx) -> (N, 2 P, ny, nx).
        dual_nets: None for the residual dual step, else one network per iteration (or one, shared),
            (N, 2 (D + 2), H, W) -> (N, 2 D, H, W).
        iterations: Number of unrolled iterations.
        n_primal: P, complex images in the primal buffer.
        n_dual: D, measurement arrays in the dual buffer (1 with the residual dual step).
        weighted_adjoint: Back-project with A^H D (the operator's density compensation) instead of A^H.
    """

    def __init__(
        self,
        primal_nets: nn.ModuleList,
        dual_nets: nn.ModuleList | None,
        iterations: int,
        n_primal: int,
        n_dual: int,
        weighted_adjoint: bool,
    ) -> None:
        super().__init__()
        self.primal_nets, self.dual_nets = primal_nets, dual_nets
        self.iterations, self.n_primal = iterations, n_primal
        self.n_dual = 1 if dual_nets is None else n_dual
        self.weighted_adjoint = weighted_adjoint

    def back_project(self, op: LinearOperator, data: torch.Tensor) -> torch.Tensor:
        """B y: (frames, *range) complex -> (frames, ny, nx) complex64, in full precision."""
        with torch.autocast(device_type=data.device.type, enabled=False):
            image = op.gridding(data) if self.weighted_adjoint else op.adjoint(data)
        return image.to(torch.complex64)

    def forward(self, kspace: torch.Tensor, op: LinearOperator, x0: torch.Tensor) -> torch.Tensor:
        """Run the iterations.

        Args:
            kspace: (frames, *op.range_shape) complex64 measured data y.
            op: Forward model with coil maps (image domain (frames, ny, nx)).
            x0: (frames, ny, nx) complex64, copied into every channel of the starting primal buffer.

        Returns:
            (frames, ny, nx) complex64, the first channel of the last primal buffer.
        """
        frames = kspace.shape[0]
        primal = x0.to(torch.complex64).unsqueeze(1).repeat(1, self.n_primal, 1, 1)
        dual = kspace.new_zeros((frames, self.n_dual, *kspace.shape[1:]))
        for i in range(self.iterations):
            with torch.autocast(device_type=kspace.device.type, enabled=False):
                predicted = op(primal[:, min(1, self.n_primal - 1)]).to(torch.complex64)
            if self.dual_nets is None:
                dual = (predicted - kspace).unsqueeze(1)
            else:
                net = self.dual_nets[i % len(self.dual_nets)]
                stacked = torch.cat([dual, predicted.unsqueeze(1), kspace.unsqueeze(1)], dim=1)
                update = apply_complex(net, measurements_to_images(stacked))
                dual = dual + images_to_measurements(update, frames, tuple(kspace.shape[1:]))
            back = self.back_project(op, dual[:, 0]).unsqueeze(1)
            net = self.primal_nets[i % len(self.primal_nets)]
            primal = primal + apply_complex(net, torch.cat([primal, back], dim=1))
        return primal[:, 0]


def normalised_start(
    kspace: torch.Tensor, op: LinearOperator, weighted: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The starting image and the data scaled to unit image level, so networks see intensity-free input.

    Args:
        kspace: (frames, *op.range_shape) complex64.
        op: Forward model with coil maps.
        weighted: Start from A^H D y (gridding) rather than A^H y.

    Returns:
        (kspace / s, x0 / s, s): x0 (frames, ny, nx) complex64, s a () float32 tensor, the RMS of x0.
    """
    from recon_cli.nn.complex import rms_scale

    with torch.autocast(device_type=kspace.device.type, enabled=False):
        x0 = (op.gridding(kspace) if weighted else op.adjoint(kspace)).to(torch.complex64)
    scale = rms_scale(x0)
    return kspace / scale, x0 / scale, scale

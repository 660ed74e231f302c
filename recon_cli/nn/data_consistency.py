"""Data consistency for Cartesian sampling: the Tikhonov step of IFR-CS, IFR-Net and ADMM-Net.

    x = argmin_x ||A x - y||^2 + rho ||x - z||^2,   A = M F S (mask, centred FFT, coil maps)

For one coil whose map has unit magnitude (or no map at all) the normal matrix is diagonal in k-space and
the solution is closed-form: k = (rho F S z + M y) / (rho + M), x = S^H F^H k (Liu et al.'s
"reconstruction module"). With several coils it is not; the same problem is then solved by a few
warm-started conjugate-gradient steps on (A^H A + rho) x = A^H y + rho z, which autograd differentiates
like any other layer.

Images are (frames, ny, nx) complex; k-space is (frames, coils, ny, nx) complex, zero where not sampled.
"""

from __future__ import annotations

import torch

from recon_cli.errors import ModelError
from recon_cli.ops.base import LinearOperator
from recon_cli.ops.cartesian import CartesianSense
from recon_cli.ops.functional import fft2c, ifft2c
from recon_cli.solvers.iterative import conjugate_gradient

_UNIT_TOLERANCE = 1e-4


def cartesian_operator(op: LinearOperator, model: str) -> CartesianSense:
    """``op`` itself if it is Cartesian; otherwise a ``ModelError`` naming ``model``.

    Raises:
        ModelError: non-Cartesian operator, or several coils without coil maps.
    """
    if not isinstance(op, CartesianSense):
        raise ModelError(
            f"{model}: needs Cartesian data (its data-consistency step is solved on the Cartesian grid); "
            f"got {type(op).__name__}"
        )
    if op.maps is None and op.range_shape[0] != 1:
        raise ModelError(
            f"{model}: multi-coil data needs coil maps (give --coils or let recon estimate them)"
        )
    return op


def single_coil_map(op: CartesianSense) -> torch.Tensor | None | bool:
    """The map of a single-coil operator, when the data-consistency step is closed-form.

    Returns:
        None (one coil, no map: S = I), the (ny, nx) complex map (one coil, |S| = 1 everywhere), or
        False (several coils, or a map of varying magnitude: no closed form).
    """
    if op.range_shape[0] != 1:
        return False
    if op.maps is None:
        return None
    s = op.maps[0]
    return s if bool(torch.all((s.abs() - 1).abs() < _UNIT_TOLERANCE)) else False


def single_coil_mask(op: CartesianSense) -> torch.Tensor | None:
    """The sampling mask of a single-coil operator as (frames or 1, ny or 1, nx or 1) bool, or None."""
    return None if op.mask is None else op.mask[:, 0]


def zero_filled(kspace: torch.Tensor, op: CartesianSense) -> torch.Tensor:
    """A^H y, coil-combined by the maps (or the single coil's image). Returns (frames, ny, nx) complex64.

    Args:
        kspace: (frames, coils, ny, nx) complex64.
        op: Cartesian operator (maps, or one coil).
    """
    with torch.autocast(device_type=kspace.device.type, enabled=False):
        image = op.adjoint(kspace)
    return (image if op.maps is not None else image[:, 0]).to(torch.complex64)


def frame_scale(image: torch.Tensor) -> torch.Tensor:
    """Root-mean-square magnitude of each frame. image: (frames, ny, nx) complex -> (frames, 1, 1) float32.

    Never below the smallest normal float32, so an empty frame divides safely.
    """
    level = torch.sqrt(torch.mean(image.real.float() ** 2 + image.imag.float() ** 2, dim=(-2, -1)))
    return level.clamp_min(torch.finfo(torch.float32).tiny)[:, None, None].detach()


def tikhonov_dc(
    z: torch.Tensor,
    kspace: torch.Tensor,
    op: CartesianSense,
    rho: torch.Tensor | float,
    *,
    cg_iterations: int = 10,
) -> torch.Tensor:
    """argmin_x ||A x - y||^2 + rho ||x - z||^2.

    Args:
        z: (frames, ny, nx) complex, the image to stay close to.
        kspace: (frames, coils, ny, nx) complex, the measured y (zero where not sampled).
        op: Cartesian operator (``cartesian_operator`` checked).
        rho: > 0, a float or a () tensor (learnable in the networks).
        cg_iterations: Conjugate-gradient steps when there is no closed form (several coils).

    Returns:
        (frames, ny, nx) complex, z's dtype.
    """
    with torch.autocast(device_type=z.device.type, enabled=False):
        s = single_coil_map(op)
        if s is False:
            rhs = op.adjoint(kspace) + rho * z

            def normal(x: torch.Tensor) -> torch.Tensor:
                return op.normal(x) + rho * x

            return conjugate_gradient(normal, rhs, z, max_iter=cg_iterations, tol=1e-7, batch_dims=1).x
        y = kspace[:, 0]
        k = fft2c(z if s is None else z * s)
        mask = single_coil_mask(op)
        if mask is None:  # fully sampled: k = (rho k + y) / (rho + 1)
            k = (rho * k + y) / (rho + 1.0)
        else:
            m = mask.to(k.real.dtype)
            k = (rho * k + m * y) / (rho + m)
        x = ifft2c(k)
        return x if s is None or isinstance(s, bool) else x * s.conj()

"""Receiver noise: covariance estimation and prewhitening of the coil dimension.

Definitions used throughout (plain, with no receiver-bandwidth correction):

* Noise samples ``n`` of shape ``(coils, N)`` give the covariance ``C = n n^H / N``. The mean is not
  subtracted (receiver noise is zero-mean; a DC offset is part of what whitening should see).
* The whitening matrix is ``W = L^{-1}`` with ``C = L L^H`` the Cholesky factorisation, so that
  ``W C W^H = I``: whitened coils have unit-variance, uncorrelated noise.
* Prewhitening applies ``W`` along the coil axis of k-space: ``y_c = sum_d W[c, d] x_d``.

Scanners sometimes sample noise with a different dwell time than the imaging data and scale by the
ratio of receiver bandwidths; that factor is deliberately left out here. It changes the overall noise
level only, not the correlations, so the whitened data keep their relative scaling between coils.
"""

from __future__ import annotations

import torch

__all__ = ["noise_covariance", "prewhiten", "whitening_matrix"]


def noise_covariance(samples: torch.Tensor) -> torch.Tensor:
    """Empirical noise covariance across coils.

    Args:
        samples: (coils, n) complex noise samples (any complex dtype; computed in complex128).

    Returns:
        (coils, coils) complex64 Hermitian matrix ``samples @ samples^H / n``.

    Raises:
        ValueError: if ``samples`` is not 2-D or holds no samples.
    """
    if samples.dim() != 2 or samples.shape[1] == 0:
        raise ValueError(f"noise samples must be (coils, n) with n > 0, got shape {tuple(samples.shape)}")
    x = samples.to(torch.complex128)
    cov = x @ x.conj().transpose(0, 1) / x.shape[1]
    cov = 0.5 * (cov + cov.conj().transpose(0, 1))  # exactly Hermitian
    return cov.to(torch.complex64)


def whitening_matrix(cov: torch.Tensor) -> torch.Tensor:
    """Whitening matrix ``W = L^{-1}`` for ``cov = L L^H`` (lower-triangular Cholesky factor ``L``).

    A covariance that is only positive semi-definite (fewer noise samples than coils, or a dead
    channel) gets a small diagonal loading (1e-6 of the mean coil variance) before factorisation.

    Args:
        cov: (coils, coils) complex Hermitian noise covariance.

    Returns:
        (coils, coils) complex64 lower-triangular matrix with ``W @ cov @ W^H`` = identity.

    Raises:
        ValueError: if ``cov`` is not square or not positive (semi-)definite.
    """
    if cov.dim() != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"noise covariance must be square (coils, coils), got {tuple(cov.shape)}")
    c = cov.to(torch.complex128)
    c = 0.5 * (c + c.conj().transpose(0, 1))
    eye = torch.eye(c.shape[0], dtype=c.dtype)
    factor, info = torch.linalg.cholesky_ex(c)
    if int(info) != 0:
        scale = float(torch.diagonal(c).real.mean())
        if not scale > 0:
            raise ValueError("noise covariance has no positive variance; cannot whiten")
        factor, info = torch.linalg.cholesky_ex(c + 1e-6 * scale * eye)
        if int(info) != 0:
            raise ValueError("noise covariance is not positive definite; cannot whiten")
    w = torch.linalg.solve_triangular(factor, eye, upper=False)
    return w.to(torch.complex64)


def prewhiten(kspace: torch.Tensor, whitening: torch.Tensor, coil_dim: int = 2) -> torch.Tensor:
    """Apply a whitening matrix along the coil axis.

    Args:
        kspace: (..., coils, ...) complex k-space, coils along ``coil_dim`` (2 for ``Scan.kspace``).
        whitening: (coils, coils) complex matrix, e.g. from ``whitening_matrix``.
        coil_dim: the coil axis of ``kspace``.

    Returns:
        Tensor shaped like ``kspace`` (dtype of ``kspace``) with ``y[c] = sum_d W[c, d] x[d]``.
    """
    n_coils = kspace.shape[coil_dim]
    if tuple(whitening.shape) != (n_coils, n_coils):
        raise ValueError(f"whitening matrix {tuple(whitening.shape)} does not match {n_coils} coils")
    moved = torch.movedim(kspace, coil_dim, -1)
    out = moved @ whitening.to(device=kspace.device, dtype=kspace.dtype).transpose(0, 1)
    return torch.movedim(out, -1, coil_dim)

"""The 2D DCT basis as a filter bank: the initial filters of ADMM-Net and IFR-Net.

Both networks start their convolution layers from the orthonormal ``size x size`` DCT-II basis (Yang et
al., NeurIPS 2016; Liu et al., IEEE TCI 2019): the filters form an orthonormal basis of ``size x size``
patches, so correlating an image with all of them and summing the adjoint correlations gives
``size**2`` times the image (a tight frame; divide both by ``size`` for the identity).
"""

from __future__ import annotations

import math

import torch


def dct_matrix(size: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The orthonormal 1D DCT-II matrix C: C[u, m] = a_u cos(pi (2 m + 1) u / (2 size)).

    Args:
        size: Length of the transform (>= 1).
        dtype: Floating dtype of the result.

    Returns:
        (size, size) with C @ C.T = I; row u is the frequency-u basis vector.
    """
    if size < 1:
        raise ValueError(f"DCT size must be >= 1, got {size}")
    m = torch.arange(size, dtype=torch.float64)
    u = m[:, None]
    basis = torch.cos(math.pi * (2 * m[None, :] + 1) * u / (2 * size))
    weights = torch.full((size, 1), math.sqrt(2.0 / size), dtype=torch.float64)
    weights[0] = math.sqrt(1.0 / size)
    return (weights * basis).to(dtype)


def dct_filter_bank(size: int = 3, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The orthonormal 2D DCT-II basis as ``size**2`` filters.

    Filter ``u * size + v`` is the outer product of 1D basis vectors u (along y) and v (along x), so
    ``sum(bank[u * size + v] * patch)`` equals ``scipy.fft.dctn(patch, norm="ortho")[u, v]``. Filter 0 is
    the constant (low-pass) one.

    Args:
        size: Filter side (3 in both papers).
        dtype: Floating dtype of the result.

    Returns:
        (size**2, size, size); reshaped to (size**2, size**2) an orthogonal matrix.
    """
    c = dct_matrix(size, torch.float64)
    bank = torch.einsum("um,vn->uvmn", c, c).reshape(size * size, size, size)
    return bank.to(dtype)

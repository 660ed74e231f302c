"""Pieces shared by the coil-map estimators: centred grids, periodic cubic resampling, box smoothing,
per-pixel dominant eigenvectors and BART's phase convention.

Grids follow ``fft2c``: along an axis of length n, index ``n // 2`` is k-space (or image) position 0, so
cropping, zero-padding and resampling keep that index fixed.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def crop_centre(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Central block of the last two axes, keeping index ``n // 2`` at ``m // 2``.

    Args:
        x: (..., ny, nx) tensor.
        shape: (my, mx), each no larger than the corresponding axis.

    Returns:
        (..., my, mx) view of ``x``.
    """
    (ny, nx), (my, mx) = x.shape[-2:], shape
    y0, x0 = ny // 2 - my // 2, nx // 2 - mx // 2
    return x[..., y0 : y0 + my, x0 : x0 + mx]


def pad_centre(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Zero-pad the last two axes around the centre (the inverse of ``crop_centre``).

    Args:
        x: (..., my, mx) tensor.
        shape: (ny, nx), each no smaller than the corresponding axis.

    Returns:
        (..., ny, nx) tensor of ``x``'s dtype and device.
    """
    out = x.new_zeros((*x.shape[:-2], *shape))
    crop_centre(out, x.shape[-2:]).copy_(x)
    return out


def fit_centre(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Crop or zero-pad each of the last two axes around the centre to ``shape``."""
    inner = (min(x.shape[-2], shape[0]), min(x.shape[-1], shape[1]))
    return pad_centre(crop_centre(x, inner), shape)


def coil_norm(x: torch.Tensor) -> torch.Tensor:
    """Euclidean norm over the coil axis. x: (..., C, ny, nx) complex -> (..., 1, ny, nx) real.

    Through the real view: torch's complex ``abs`` and ``vector_norm`` are not vectorised on the CPU.
    """
    return torch.view_as_real(x).square().sum(dim=(-1, -4)).sqrt().unsqueeze(-3)


def scale_complex(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``x * scale`` for complex ``x`` and a real, broadcastable ``scale``, through the real view."""
    return torch.view_as_complex(torch.view_as_real(x) * scale.unsqueeze(-1))


def _cubic_weights(n_out: int, n_in: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(n_out, n_in) periodic Keys cubic (a = -0.5) interpolation matrix between centred grids."""
    rows = torch.arange(n_out, dtype=torch.float64, device=device)
    pos = (rows - n_out // 2) * (n_in / n_out) + n_in // 2  # output sample in input-index units
    base = torch.floor(pos)
    frac = pos - base
    weights = torch.zeros(n_out, n_in, dtype=torch.float64, device=device)
    for offset in (-1, 0, 1, 2):
        d = (frac - offset).abs()
        near = (1.5 * d - 2.5) * d * d + 1
        far = ((-0.5 * d + 2.5) * d - 4) * d + 2
        w = torch.where(d <= 1, near, torch.where(d < 2, far, torch.zeros_like(d)))
        cols = (base.long() + offset) % n_in
        weights.index_put_((rows.long(), cols), w, accumulate=True)
    return weights.to(dtype)


def cubic_resample(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Resample the last two axes of a periodic image to ``shape`` with separable cubic interpolation.

    Local (4 taps), so a discontinuity far away does not ring into the result as it would with
    Fourier interpolation.

    Args:
        x: (..., my, mx) real or complex tensor on a centred grid.
        shape: (ny, nx) of the output grid covering the same field of view.

    Returns:
        (..., ny, nx) tensor of ``x``'s dtype.
    """
    ny, nx = (int(n) for n in shape)
    my, mx = x.shape[-2:]
    if (my, mx) == (ny, nx):
        return x
    real = x.real.dtype if x.is_complex() else x.dtype
    wy = _cubic_weights(ny, my, real, x.device)
    wx = _cubic_weights(nx, mx, real, x.device)
    if not x.is_complex():
        return wy @ x @ wx.mT
    parts = torch.view_as_real(x).movedim(-1, -3)  # (..., 2, my, mx)
    out = wy @ parts @ wx.mT
    return torch.view_as_complex(out.movedim(-3, -1).contiguous())


def box_smooth(x: torch.Tensor, width: int) -> torch.Tensor:
    """Periodic moving average over ``width`` x ``width`` pixels of the last two axes.

    Args:
        x: (..., ny, nx) real or complex tensor.
        width: odd window size in pixels (1 returns ``x``).

    Returns:
        Tensor of ``x``'s shape and dtype.
    """
    if width % 2 != 1 or width < 1:
        raise ValueError(f"smoothing width must be odd and positive, got {width}")
    if width == 1:
        return x
    planes = torch.view_as_real(x).movedim(-1, -3) if x.is_complex() else x
    shape = planes.shape
    flat = planes.reshape(-1, 1, *shape[-2:])
    half = width // 2
    flat = F.pad(flat, (half, half, half, half), mode="circular")
    flat = F.avg_pool2d(flat, width, stride=1)
    out = flat.reshape(shape)
    return torch.view_as_complex(out.movedim(-3, -1).contiguous()) if x.is_complex() else out


def _normalised(power: torch.Tensor) -> torch.Tensor:
    """Scale each (C, C) positive semidefinite matrix to unit trace (keeps repeated products finite)."""
    trace = torch.diagonal(power, dim1=-2, dim2=-1).real.sum(-1)
    scale = 1.0 / trace.clamp_min(torch.finfo(trace.dtype).tiny)
    return power * scale[..., None, None].to(power.dtype)


def dominant_eigenvector(
    cov: torch.Tensor, iterations: int, start: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Power iteration per pixel: ``cov**iterations @ start``, normalised, by repeated squaring.

    The same vector as ``iterations`` steps of the normalised power method (BART's ``ecalib`` runs 30
    from the first coil's unit vector), in about ``2 log2(iterations)`` batched matrix products.

    Args:
        cov: (..., C, C) complex Hermitian positive semidefinite matrices.
        iterations: number of power-method steps, >= 1.
        start: (..., C) or (C,) start vector; None for the first unit vector.

    Returns:
        ``(u, lam)``: u (..., C) unit vectors (zero where ``cov`` is zero) and lam (...) real, the
        norm ``|cov u|`` (the dominant eigenvalue once converged).
    """
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    power: torch.Tensor | None = None
    square, n = cov, int(iterations)
    while n:
        if n & 1:
            power = square if power is None else _normalised(power @ square)
        n >>= 1
        if n:
            square = _normalised(square @ square)
    assert power is not None
    v = power[..., :, 0] if start is None else (power * start.unsqueeze(-2).to(power.dtype)).sum(-1)
    u = v / torch.linalg.vector_norm(v, dim=-1, keepdim=True).clamp_min(torch.finfo(v.real.dtype).tiny)
    lam = torch.linalg.vector_norm((cov * u.unsqueeze(-2)).sum(-1), dim=-1)
    return u, lam


def principal_component(data: torch.Tensor) -> torch.Tensor:
    """First principal component over samples. data: (..., C, samples) complex -> (..., C) unit vector."""
    _, vectors = torch.linalg.eigh(data @ data.mH)
    return vectors[..., -1]


def align_phase(maps: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Rotate each pixel's coil vector so its projection on ``reference`` is real and positive.

    BART's ``ecalib`` convention with ``reference`` the first principal component of the calibration
    data; removes the arbitrary per-pixel phase of eigenvectors.

    Args:
        maps: (..., C, ny, nx) complex.
        reference: (..., C) complex.

    Returns:
        (..., C, ny, nx) complex.
    """
    proj = torch.einsum("...cyx,...c->...yx", maps, reference.conj().to(maps.dtype))
    phase = proj.conj() / proj.abs().clamp_min(torch.finfo(proj.real.dtype).tiny)
    return maps * phase.unsqueeze(-3)

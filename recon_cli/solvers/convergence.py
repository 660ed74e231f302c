"""The stopping measure of every solver in ``recon_cli.solvers``: a norm relative to another."""

from __future__ import annotations

import torch


def relative_norm(numerator: torch.Tensor, reference: torch.Tensor) -> float:
    """||numerator|| / ||reference|| over all elements, real or complex.

    The reference norm is floored at the smallest normal number of its dtype, so a zero reference gives
    a large finite value (or inf) instead of a division by zero; NaN inputs give NaN.

    Examples: the relative change of an iterate is ``relative_norm(x_new - x, x)``; the relative residual
    of a fixed point is ``relative_norm(f(x) - x, x)``.
    """
    norm = torch.linalg.vector_norm(reference)
    return float(torch.linalg.vector_norm(numerator) / norm.clamp_min(torch.finfo(norm.dtype).tiny))

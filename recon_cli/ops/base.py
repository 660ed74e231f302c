"""The operator contract: ``forward`` = A, ``adjoint`` = A^H, ``normal`` = A^H A (or A^H D A).

Public methods check their input and name the operator in errors; subclasses implement the private
``_forward``/``_adjoint`` (and ``_normal`` where a faster form exists, ``_weight`` where the data carry
weights D such as a density compensation). Tensors are buffers, sizes are Python ints, and new tensors
follow the input's device and dtype. The contract is tested for every operator in
``tests/ops/test_operator_contract.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from recon_cli.errors import ModelError


class LinearOperator(nn.Module):
    """Base class for the forward models every reconstruction receives.

    Subclasses set ``domain_shape`` (image) and ``range_shape`` (k-space) trailing shapes, without the
    leading frame axis.
    """

    domain_shape: tuple[int, ...]
    range_shape: tuple[int, ...]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """A x. x: (frames, *domain_shape) complex -> (frames, *range_shape)."""
        self._check(x, self.domain_shape, "image")
        return self._forward(x)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """A^H y. y: (frames, *range_shape) complex -> (frames, *domain_shape)."""
        self._check(y, self.range_shape, "k-space")
        return self._adjoint(y)

    def normal(self, x: torch.Tensor, weighted: bool = False) -> torch.Tensor:
        """A^H A x, or A^H D A x when ``weighted`` (D: the data weights ``gridding`` uses).

        x: (frames, *domain_shape) complex -> same shape. ``normal(x, weighted=True)`` equals
        ``gridding(forward(x))``; without data weights (Cartesian) both forms are A^H A.
        """
        self._check(x, self.domain_shape, "image")
        return self._normal(x, weighted)

    def gridding(self, y: torch.Tensor) -> torch.Tensor:
        """A starting image from data: A^H D y, the density-compensated adjoint (plain when Cartesian)."""
        self._check(y, self.range_shape, "k-space")
        return self._gridding(y)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _weight(self, y: torch.Tensor) -> torch.Tensor:
        """D y: the data weights (none by default)."""
        return y

    def _normal(self, x: torch.Tensor, weighted: bool = False) -> torch.Tensor:
        y = self._forward(x)
        return self._adjoint(self._weight(y) if weighted else y)

    def _gridding(self, y: torch.Tensor) -> torch.Tensor:
        return self._adjoint(self._weight(y))

    def _check(self, t: torch.Tensor, trailing: tuple[int, ...], what: str) -> None:
        name = type(self).__name__
        if t.dtype not in (torch.complex64, torch.complex128):
            raise ModelError(f"{name}: {what} must be complex64 or complex128, got {t.dtype}")
        if tuple(t.shape[-len(trailing) :]) != tuple(trailing) or t.dim() != len(trailing) + 1:
            raise ModelError(
                f"{name}: {what} must have shape (frames, {', '.join(map(str, trailing))}), "
                f"got {tuple(t.shape)}"
            )


def coil_ranges(coils: int, chunk: int | None) -> list[slice]:
    """The coil index ranges of chunks of ``chunk`` coils (one range of all coils when None or >= coils)."""
    if chunk is None or chunk >= coils:
        return [slice(0, coils)]
    if chunk < 1:
        raise ModelError(f"coil_chunk must be >= 1, got {chunk}")
    return [slice(start, min(start + chunk, coils)) for start in range(0, coils, chunk)]


def accumulate(part: Callable[[slice], torch.Tensor], chunks: list[slice]) -> torch.Tensor:
    """sum over ``chunks`` of ``part(chunk)``, holding one partial result at a time (in place after the
    first, out of place when autograd records, so gradients stay correct)."""
    total = part(chunks[0])
    for chunk in chunks[1:]:
        value = part(chunk)
        total = (
            total + value
            if torch.is_grad_enabled() and (total.requires_grad or value.requires_grad)
            else total.add_(value)
        )
    return total

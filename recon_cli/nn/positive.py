"""Positive learned scalars (steps, weights, thresholds) kept as softplus of a free parameter."""

from __future__ import annotations

import math


def softplus_inverse(value: float) -> float:
    """The free parameter r with softplus(r) = log(1 + exp(r)) = ``value`` (> 0).

    Computed as value + log(1 - exp(-value)), which does not overflow for large values.
    """
    if value <= 0:
        raise ValueError(f"softplus takes only positive values, got {value}")
    return value + math.log(-math.expm1(-value))

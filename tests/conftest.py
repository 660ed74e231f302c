"""Shared fixtures: seeded randomness, devices (CPU, plus CUDA when present)."""

from __future__ import annotations

import pytest
import torch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> torch.device:
    """Every device this machine has; CUDA cases carry the ``gpu`` marker."""
    if request.param == "cuda":
        request.node.add_marker(pytest.mark.gpu)
    return torch.device(request.param)


@pytest.fixture
def rng() -> torch.Generator:
    """A seeded torch generator (tests never use global random state)."""
    return torch.Generator().manual_seed(1234)

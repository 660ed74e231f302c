"""Shared fixtures: seeded randomness, devices (CPU, plus CUDA when present)."""

from __future__ import annotations

from pathlib import Path

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


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def radial_sample(repo_root: Path) -> Path:
    """The bundled multi-coil radial real-time cine ISMRMRD file."""
    path = repo_root / "sample_data" / "radial_cine.h5"
    assert path.exists(), "run `python sample_data/make_sample_data.py`"
    return path


@pytest.fixture(scope="session")
def fastmri_sample(repo_root: Path) -> Path:
    """The bundled fastMRI-layout multi-coil brain phantom."""
    path = repo_root / "sample_data" / "fastmri_brain_phantom_multicoil.h5"
    assert path.exists(), "run `python sample_data/make_sample_data.py`"
    return path

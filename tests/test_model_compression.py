"""The learned cine models reconstruct SVD-compressed virtual coils (``virtual_coils``), and say so.

The compressed forward model must be the physical one followed by the compression matrix (checked with
numpy against the operator on the physical coils), the kept energy must be the top eigenvalues' share of
the coil covariance (numpy's ``eigvalsh``), and ``recon reconstruct`` must report the compression on
stderr and in run.json, and reconstruct all coils when told to.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from recon_cli.cli.main import app
from recon_cli.reconstruct import build_operator
from recon_cli.scan_coil_maps import model_compression
from tests.helpers import nrmse, small_cine

runner = CliRunner()


def _model(virtual_coils: int) -> Any:
    return SimpleNamespace(config=SimpleNamespace(virtual_coils=virtual_coils))


def test_compressed_operator_is_the_physical_one_times_the_matrix() -> None:
    _, maps, scan = small_cine("radial", n=32, frames=3, coils=8, seed=11)
    maps = maps.unsqueeze(0).to(torch.complex64)
    small, small_maps, record = model_compression(scan, maps, _model(3))
    assert record is not None and small.n_coils == 3 and small_maps is not None
    assert small_maps.shape == (1, 3, 32, 32)

    data = scan.kspace[0].numpy()  # (frames, coils, samples)
    flat = data.transpose(1, 0, 2).reshape(8, -1).astype(np.complex128)
    eigen = np.linalg.eigvalsh(flat @ flat.conj().T)  # ascending
    assert record == {"coils": 8, "virtual_coils": 3, "energy": pytest.approx(eigen[-3:].sum() / eigen.sum())}

    # the virtual data are M y, and the virtual operator is M A: both from the same M
    matrix = np.linalg.lstsq(flat.T, small.kspace[0].numpy().transpose(1, 0, 2).reshape(3, -1).T, rcond=None)[
        0
    ].T
    assert np.allclose(matrix @ matrix.conj().T, np.eye(3), atol=1e-4)
    x = torch.randn(3, 32, 32, dtype=torch.complex64, generator=torch.Generator().manual_seed(2))
    physical = build_operator(scan, 0, maps[0]).forward(x).numpy()
    virtual = build_operator(small, 0, small_maps[0]).forward(x).numpy()
    expected = np.einsum("vc,fcs->fvs", matrix, physical)
    assert nrmse(virtual, expected) < 1e-4


def test_fewer_coils_than_the_setting_or_no_maps_are_left_alone() -> None:
    _, maps, scan = small_cine("radial", n=32, frames=3, coils=4, seed=11)
    maps = maps.unsqueeze(0).to(torch.complex64)
    for model, given in ((_model(4), maps), (_model(0), maps), (_model(2), None)):
        same, same_maps, record = model_compression(scan, given, model)
        assert same is scan and same_maps is given and record is None


def test_reconstruct_says_it_compressed_and_can_use_all_coils(tmp_path: Path) -> None:
    from recon_cli.io.ismrmrd_write import write_ismrmrd

    _, _, scan = small_cine("radial", n=32, frames=4, coils=8, seed=3)
    raw = tmp_path / "scan.h5"
    write_ismrmrd(raw, scan)
    images = {}
    for setting in ("4", "0"):
        out = tmp_path / setting
        options = ["--set", f"virtual_coils={setting}", "--out", str(out), "--format", "h5"]
        result = runner.invoke(app, ["reconstruct", str(raw), "--model", "imunne", *options])
        assert result.exit_code == 0, result.stderr
        text = " ".join(result.stderr.split())
        record = json.loads((out / "scan" / "scan.run.json").read_text())
        compression = record["coil_compression"]
        if setting == "4":
            assert "imunne reconstructed 8 coils compressed to 4 virtual coils" in text
            assert compression["coils"] == 8 and compression["virtual_coils"] == 4
            assert 0.9 < compression["energy"] <= 1.0
        else:
            assert "virtual coils" not in text and compression is None
        with h5py.File(out / "scan" / "scan.h5") as f:
            images[setting] = np.abs(f["images"][()])
    assert nrmse(images["4"], images["0"]) < 0.05  # four of eight coils: nearly the same images


def test_training_examples_on_virtual_coils_are_the_physical_ones_compressed() -> None:
    from recon_cli.train.config import DataConfig
    from recon_cli.train.examples import operator_for
    from recon_cli.train.synthetic import SyntheticCine

    def example(virtual_coils: int) -> dict[str, Any]:
        config = DataConfig(matrix=32, frames=3, coils=8, spokes=6, virtual_coils=virtual_coils)
        return SyntheticCine("radial", config, seed=4, needs_maps=True)[(0, 0)]

    physical, virtual = example(0), example(3)
    assert physical["kspace"].shape[1] == 8 and virtual["kspace"].shape[1] == 3
    assert virtual["maps"].shape == (3, 32, 32) and torch.equal(virtual["target"], physical["target"])
    flat = physical["kspace"].numpy().transpose(1, 0, 2).reshape(8, -1)
    small = virtual["kspace"].numpy().transpose(1, 0, 2).reshape(3, -1)
    matrix = np.linalg.lstsq(flat.T, small.T, rcond=None)[0].T  # virtual data = M y
    assert np.allclose(matrix @ matrix.conj().T, np.eye(3), atol=1e-4)
    x = torch.randn(3, 32, 32, dtype=torch.complex64, generator=torch.Generator().manual_seed(1))
    expected = np.einsum("vc,fcs->fvs", matrix, operator_for(physical).forward(x).numpy())
    assert nrmse(operator_for(virtual).forward(x).numpy(), expected) < 1e-4

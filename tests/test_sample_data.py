"""The bundled sample data: reproducible from its seeded script, small, and readable by the readers."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import h5py
import numpy as np
import pytest
import torch

from recon_cli.io.detect import detect_format, read_scan
from recon_cli.ops.functional import center_crop, ifft2c, rss
from recon_cli.ops.nufft import nufft_adjoint, ramp_dcf

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "sample_data"
FILES = ("radial_cine.h5", "fastmri_brain_phantom_multicoil.h5")


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_sample_data", SAMPLE_DIR / "make_sample_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample_data")
    assert _load_script().main(["--out", str(out)]) == 0
    return out


def _assert_same(a: h5py.Group, b: h5py.Group, where: str = "/") -> None:
    """Same tree, attributes and values (floats to 1e-5 of each array's largest magnitude)."""
    assert set(a) == set(b), where
    assert set(a.attrs) == set(b.attrs), where
    for key in a.attrs:
        _assert_values(np.asarray(a.attrs[key]), np.asarray(b.attrs[key]), f"{where}@{key}")
    for name in a:
        if isinstance(a[name], h5py.Group):
            _assert_same(a[name], b[name], f"{where}{name}/")
        else:
            _assert_values(np.asarray(a[name][()]), np.asarray(b[name][()]), f"{where}{name}")


def _assert_values(x: np.ndarray, y: np.ndarray, where: str) -> None:
    assert x.dtype == y.dtype and x.shape == y.shape, where
    if x.dtype.names:  # compound (ISMRMRD acquisitions): compare field by field
        for field in x.dtype.names:
            _assert_values(x[field], y[field], f"{where}.{field}")
    elif x.dtype == object:  # variable-length arrays or strings
        for u, v in zip(x.ravel(), y.ravel(), strict=True):
            _assert_values(np.asarray(u), np.asarray(v), where)
    elif np.issubdtype(x.dtype, np.inexact) and x.size:
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-5 * float(np.abs(y).max() or 1.0), err_msg=where)
    else:
        np.testing.assert_array_equal(x, y, err_msg=where)


@pytest.mark.parametrize("name", FILES)
def test_regenerated_matches_committed(regenerated: Path, name: str) -> None:
    committed = SAMPLE_DIR / name
    assert committed.exists(), f"{committed} missing: run python sample_data/make_sample_data.py"
    with h5py.File(committed, "r") as a, h5py.File(regenerated / name, "r") as b:
        _assert_same(a, b)


def test_sizes() -> None:
    sizes = {name: (SAMPLE_DIR / name).stat().st_size for name in FILES}
    assert sum(sizes.values()) < 10e6, sizes


def test_radial_cine_is_readable_and_matches_its_reference() -> None:
    path = SAMPLE_DIR / "radial_cine.h5"
    assert detect_format(path) == "ismrmrd"
    scan = read_scan(path)
    assert scan.kspace.shape == (1, 20, 8, 13 * 256) and scan.kspace.dtype == torch.complex64
    assert scan.traj.shape == (1, 20, 2, 13 * 256) and scan.readout_length == 256
    assert scan.header.trajectory == "radial" and scan.header.recon_matrix == (128, 128)
    assert scan.header.frame_time_ms == pytest.approx(40.0)
    assert scan.noise is not None and scan.noise.shape == (8, 8) and scan.noise_samples > 0
    reference = scan.reference  # dataset/reference, the ground-truth magnitude
    assert reference is not None and reference.shape == (1, 20, 128, 128) and reference.dtype == torch.float32
    # all 260 spokes gridded together look like the time-averaged ground truth
    k = scan.kspace[0].permute(1, 0, 2).reshape(1, 8, -1)
    traj = scan.traj[0].permute(1, 0, 2).reshape(1, 2, -1)
    image = rss(nufft_adjoint(k, traj, (128, 128), ramp_dcf(traj, (128, 128))), dim=1)[0]
    corr = np.corrcoef(image.ravel().numpy(), reference[0].mean(0).ravel().numpy())[0, 1]
    assert corr > 0.95, corr


def test_fastmri_phantom_is_readable_and_matches_its_rss() -> None:
    path = SAMPLE_DIR / "fastmri_brain_phantom_multicoil.h5"
    assert detect_format(path) == "fastmri"
    scan = read_scan(path)
    assert scan.kspace.shape == (3, 1, 4, 128, 144) and scan.header.recon_matrix == (128, 128)
    assert scan.header.fov_mm == pytest.approx((220.0, 220.0, 5.0)) and scan.mask is None
    assert scan.fastmri_info.attrs["patient_id"] == "synthetic-0001"
    assert len(scan.guesses) == 1 and "no slice geometry" in scan.guesses[0]  # fastMRI has no geometry
    image = center_crop(rss(ifft2c(scan.kspace), dim=2), scan.header.recon_matrix)
    assert float((image - scan.reference).norm() / scan.reference.norm()) < 1e-5

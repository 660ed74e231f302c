"""docs/formats.md keeps up with the writers: every HDF5 attribute, DICOM attribute and run.json key that
recon writes is named there (a new field without documentation fails here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import numpy as np
import pydicom
import pytest
from typer.testing import CliRunner

from recon_cli.cli.main import app
from recon_cli.io.dicom import write_dicom_series
from recon_cli.io.h5image import write_h5_images
from recon_cli.io.scan import ScanHeader, SliceGeometry
from tests.helpers import run_tool


@pytest.fixture(scope="module")
def documented(repo_root: Path) -> set[str]:
    """Names in docs/formats.md: the words of its tables and of its `code` spans."""
    text = (repo_root / "docs" / "formats.md").read_text()
    tables = "\n".join(line for line in text.splitlines() if line.startswith("|"))
    spans = " ".join(re.findall(r"`([^`]+)`", text))
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", tables + " " + spans))


def _header() -> ScanHeader:
    geometry = [
        SliceGeometry((0.0, 0.0, 5.0 * s), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
        for s in range(2)
    ]
    return ScanHeader(
        recon_matrix=(8, 12),
        encoded_matrix=(8, 12),
        fov_mm=(16.0, 24.0, 5.0),
        frame_time_ms=40.0,
        geometry=geometry,
        patient={"name": "Doe^Jane", "id": "P1", "birth_date": "1970-01-02", "sex": "F", "weight_kg": "61"},
        study={"date": "2024-05-06", "time": "12:00:00", "description": "d", "institution": "I", "id": "S"},
        series={"description": "s", "protocol_name": "p", "date": "2024-05-06", "time": "12:00:00"},
        sequence={"TR_ms": 3.0, "TE_ms": 1.5, "flip_deg": 10.0, "field_T": 3.0, "TI_ms": 100.0},
    )


def _images() -> np.ndarray:
    return np.random.default_rng(3).uniform(1, 2, (2, 3, 8, 12)).astype(np.float32)


def test_every_hdf5_attribute_is_documented(tmp_path: Path, documented: set[str]) -> None:
    attrs = {"model": "cs", "config": "{}", "input_file": "x.h5", "weights": None}
    path = write_h5_images(tmp_path / "x.h5", _images(), _header(), attrs=attrs, magnitude=True)
    with h5py.File(path) as f:
        names = set(f.attrs) | set(f) | {a for name in f for a in f[name].attrs}
    assert names - documented == set()


@pytest.mark.parametrize("anonymize", [False, True])
def test_every_dicom_attribute_is_documented(tmp_path: Path, documented: set[str], anonymize: bool) -> None:
    files = write_dicom_series(tmp_path / "d", _images(), _header(), anonymize=anonymize)
    ds = pydicom.dcmread(files[0])
    keywords = {el.keyword for el in ds if el.keyword not in ("PixelData",)}
    assert keywords - documented == set()


def test_every_run_record_key_is_documented(tmp_path: Path, documented: set[str]) -> None:
    raw = tmp_path / "shepp.h5"
    run_tool("ismrmrd_generate_cartesian_shepp_logan", "-m", "32", "-c", "2", "-n", "0", "-o", raw)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["reconstruct", str(raw), "--out", str(out), "--format", "h5"])
    assert result.exit_code == 0, result.stderr
    (record_path,) = out.rglob("*.run.json")
    record = json.loads(record_path.read_text())
    assert set(record) - documented == set()
    assert (
        set(record["timings"]) | set(record["peak_memory"]) | set(record["versions"])
    ) - documented == set()

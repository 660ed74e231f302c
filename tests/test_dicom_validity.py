"""recon's DICOM series against independent references: dciodvfy (dicom3tools) validates every instance
against the MR Image IOD, dcm2niix converts the cine to 4D NIfTI with the true frame time, and the
de-identified series is checked attribute by attribute against DICOM PS3.15 Table E.1-1 (basic profile),
transcribed here independently of ``recon_cli.io.deidentify``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from recon_cli.io.dicom import write_dicom_series
from recon_cli.io.scan import ScanHeader, SliceGeometry
from tests.helpers import PATIENT, STUDY, require_tool

SLICES, FRAMES, NY, NX = 2, 5, 24, 32
FRAME_TIME_MS, TR_MS = 40.0, 3.08
SECRETS = (b"Doe", b"P12345", b"19700102", b"St Elsewhere", b"20240506", b"ST-4711X", b"cine_sa")

# PS3.15 Table E.1-1, basic profile column, for the attributes recon writes (D/Z/X/U as in the standard)
PROFILE = {
    "AccessionNumber": "Z",
    "ContentDate": "Z/D",
    "ContentTime": "Z/D",
    "DerivationDescription": "X",
    "FrameOfReferenceUID": "U",
    "ImageComments": "X",
    "InstitutionName": "X/Z/D",
    "PatientBirthDate": "Z",
    "PatientID": "Z",
    "PatientName": "Z",
    "PatientSex": "Z",
    "PatientWeight": "X",
    "ProtocolName": "X/D",
    "ReferringPhysicianName": "Z",
    "SeriesDate": "X/D",
    "SeriesDescription": "X",
    "SeriesInstanceUID": "U",
    "SeriesTime": "X/D",
    "SOPInstanceUID": "U",
    "SoftwareVersions": "X",
    "StudyDate": "Z",
    "StudyDescription": "X",
    "StudyID": "Z",
    "StudyInstanceUID": "U",
    "StudyTime": "Z",
}


def _header() -> ScanHeader:
    """A two-slice oblique cine with identity fields everywhere recon copies them from."""
    read, phase = np.array([0.8, 0.6, 0.0]), np.array([0.0, 0.0, -1.0])
    normal = np.cross(read, phase)
    geometry = [
        SliceGeometry(tuple(10.0 * s * normal), tuple(read), tuple(phase), tuple(normal))  # type: ignore[arg-type]
        for s in range(SLICES)
    ]
    return ScanHeader(
        recon_matrix=(NY, NX),
        encoded_matrix=(NY, NX),
        fov_mm=(NY * 2.0, NX * 2.0, 8.0),
        trajectory="radial",
        frame_time_ms=FRAME_TIME_MS,
        geometry=geometry,
        patient=dict(PATIENT),
        study={**STUDY, "id": "ST-4711X"},
        series={
            "description": "cine_sa",
            "protocol_name": "cine_sa",
            "date": "2024-05-06",
            "time": "12:40:00",
        },
        sequence={"TR_ms": TR_MS, "TE_ms": 1.5, "flip_deg": 50.0, "field_T": 1.5},
    )


@pytest.fixture(scope="module")
def cine() -> np.ndarray:
    """(slices, frames, ny, nx) float32 magnitudes, seeded."""
    return np.random.default_rng(7).uniform(0.5, 2.0, (SLICES, FRAMES, NY, NX)).astype(np.float32)


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory, cine: np.ndarray) -> list[Path]:
    return write_dicom_series(tmp_path_factory.mktemp("dcm") / "cine_dicom", cine, _header())


@pytest.fixture(scope="module")
def anonymous(tmp_path_factory: pytest.TempPathFactory, cine: np.ndarray) -> list[Path]:
    return write_dicom_series(tmp_path_factory.mktemp("anon") / "cine_dicom", cine, _header(), anonymize=True)


def _dciodvfy_errors(files: list[Path]) -> list[str]:
    exe = require_tool("dciodvfy")
    errors = []
    for path in files:
        proc = subprocess.run([exe, str(path)], capture_output=True, text=True)
        errors += [
            f"{path.name}: {ln}" for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith("Error")
        ]
    return errors


def test_dciodvfy_reports_no_errors_on_the_cine(series: list[Path]) -> None:
    assert len(series) == SLICES * FRAMES
    assert _dciodvfy_errors(series) == []


def test_dciodvfy_reports_no_rescale_or_image_type_warnings(series: list[Path]) -> None:
    proc = subprocess.run([require_tool("dciodvfy"), str(series[0])], capture_output=True, text=True)
    text = proc.stdout + proc.stderr
    assert "Rescale" not in text and "Image Type" not in text and "TriggerTime" not in text


def test_dcm2niix_gets_the_frame_time_of_the_cine(
    series: list[Path], tmp_path: Path, cine: np.ndarray
) -> None:
    exe = require_tool("dcm2niix")
    out = tmp_path / "nii"
    out.mkdir()
    proc = subprocess.run(
        [exe, "-b", "y", "-z", "n", "-f", "cine", "-o", str(out), str(series[0].parent)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    img = nib.load(out / "cine.nii")
    assert img.shape == (NX, NY, SLICES, FRAMES)
    assert img.header["pixdim"][4] == pytest.approx(FRAME_TIME_MS / 1000, rel=1e-6)
    assert img.header.get_xyzt_units() == ("mm", "sec")
    sidecar = json.loads((out / "cine.json").read_text())
    assert sidecar["RepetitionTime"] == pytest.approx(FRAME_TIME_MS / 1000, rel=1e-6)
    # dcm2niix keeps the stored integers; the Real World Value Mapping slope turns them into magnitudes
    slope = float(pydicom.dcmread(series[0]).RealWorldValueMappingSequence[0].RealWorldValueSlope)
    stored = np.asarray(img.dataobj, dtype=np.float64)
    assert np.sort(stored.ravel() * slope) == pytest.approx(np.sort(cine.ravel()), abs=slope)


def test_pixels_times_real_world_slope_give_the_magnitude(series: list[Path], cine: np.ndarray) -> None:
    for path in series:
        ds = pydicom.dcmread(path)
        assert "RescaleSlope" not in ds and "TriggerTime" not in ds
        mapping = ds.RealWorldValueMappingSequence[0]
        assert mapping.MeasurementUnitsCodeSequence[0].CodeValue == "1"
        s, f = divmod(int(ds.InstanceNumber) - 1, FRAMES)
        values = ds.pixel_array * float(mapping.RealWorldValueSlope) + float(mapping.RealWorldValueIntercept)
        np.testing.assert_allclose(values, cine[s, f], atol=float(mapping.RealWorldValueSlope), rtol=0)
        assert int(ds.TemporalPositionIdentifier) == f + 1 and int(ds.NumberOfTemporalPositions) == FRAMES
        assert float(ds.TemporalResolution) == FRAME_TIME_MS
        assert str(TR_MS) in ds.ImageComments


def test_anonymised_series_follows_the_basic_profile(
    series: list[Path], anonymous: list[Path], cine: np.ndarray
) -> None:
    identified = [pydicom.dcmread(p) for p in series]
    datasets = [pydicom.dcmread(p) for p in anonymous]
    assert all(k in identified[0] for k in PROFILE), sorted(k for k in PROFILE if k not in identified[0])
    for ds in datasets:
        for keyword, action in PROFILE.items():
            if action.startswith("X"):
                assert keyword not in ds, keyword
            elif action.startswith("Z"):
                assert keyword in ds, keyword
                if keyword not in ("PatientName", "PatientID"):  # Z allows a dummy value for these two
                    assert ds.data_element(keyword).is_empty, keyword
        assert ds.PatientIdentityRemoved == "YES"
        assert 0 < len(ds.DeidentificationMethod) <= 64
        code = ds.DeidentificationMethodCodeSequence[0]
        assert (code.CodeValue, code.CodingSchemeDesignator) == ("113100", "DCM")
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID", "PatientID"):
        values = {getattr(ds, keyword) for ds in datasets}
        assert len(values) == 1, keyword  # consistent within the series
        assert values.isdisjoint({getattr(ds, keyword) for ds in identified}), keyword
    sops = {ds.SOPInstanceUID for ds in datasets}
    assert len(sops) == len(datasets) and sops.isdisjoint({ds.SOPInstanceUID for ds in identified})
    assert {ds.file_meta.MediaStorageSOPInstanceUID for ds in datasets} == sops
    for path in anonymous:
        raw = path.read_bytes()
        assert not [s for s in SECRETS if s in raw]
    assert _dciodvfy_errors(anonymous) == []

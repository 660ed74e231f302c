"""Output writers, checked with independent readers: nibabel, pydicom, dcmtk's dcmdump, h5py, Pillow.

Geometry is checked against positions computed here from the ISMRMRD convention (slice centre, read and
phase directions, LPS mm), not against ``recon_cli.io.geometry``.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from PIL import Image

from recon_cli.errors import OutputExistsError, UsageError
from recon_cli.io.dicom import write_dicom_series
from recon_cli.io.h5image import read_h5_images, write_h5_images
from recon_cli.io.nifti import write_nifti
from recon_cli.io.previews import montage, write_gif, write_png_preview
from recon_cli.io.scan import ScanHeader, SliceGeometry
from recon_cli.io.writers import OUTPUT_FORMATS, write_outputs
from tests.helpers import PATIENT, STUDY, require_tool

SLICES, FRAMES, NY, NX = 2, 3, 24, 32
DY, DX = 2.0, 1.25  # row spacing, column spacing (fov / matrix below)
THICKNESS, SPACING = 5.0, 6.0
FRAME_TIME = 40.0
LPS_TO_RAS = np.array([-1.0, -1.0, 1.0])


def _rotation() -> np.ndarray:
    """A proper rotation with no zero entries: a double-oblique slice."""
    a, b, c = np.deg2rad([30.0, 20.0, -15.0])
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rx = np.array([[1, 0, 0], [0, np.cos(c), -np.sin(c)], [0, np.sin(c), np.cos(c)]])
    return rz @ ry @ rx


READ, PHASE, NORMAL = _rotation().T
CENTRE0 = np.array([12.5, -30.0, 41.0])
CENTRES = [CENTRE0 + s * SPACING * NORMAL for s in range(SLICES)]


def _header(**changes: object) -> ScanHeader:
    geometry = [
        SliceGeometry(tuple(c), tuple(READ), tuple(PHASE), tuple(NORMAL))  # type: ignore[arg-type]
        for c in CENTRES
    ]
    fields: dict[str, object] = dict(
        recon_matrix=(NY, NX),
        encoded_matrix=(NY, NX),
        fov_mm=(NY * DY, NX * DX, THICKNESS),
        frame_time_ms=FRAME_TIME,
        geometry=geometry,
        patient=dict(PATIENT),
        study=dict(STUDY),
        sequence={"TR_ms": 3.1, "TE_ms": 1.4, "flip_deg": 50.0, "field_T": 1.5},
    )
    fields.update(changes)
    return ScanHeader(**fields)  # type: ignore[arg-type]


def _world(s: int, row: float, col: float) -> np.ndarray:
    """LPS mm of pixel (row, col) of slice s: ISMRMRD centre plus offsets along read (x) and phase (y)."""
    return CENTRES[s] + (col - (NX - 1) / 2) * DX * READ + (row - (NY - 1) / 2) * DY * PHASE


@pytest.fixture
def images() -> torch.Tensor:
    """(slices, frames, ny, nx) complex64, seeded."""
    gen = torch.Generator().manual_seed(0)
    return torch.randn(SLICES, FRAMES, NY, NX, generator=gen, dtype=torch.complex64) + 3.0


@pytest.fixture
def mag(images: torch.Tensor) -> np.ndarray:
    return images.abs().numpy()


def _voxel_to_ras(img: nib.Nifti1Image, i: float, j: float, k: float) -> np.ndarray:
    return (img.affine @ np.array([i, j, k, 1.0]))[:3]


def test_nifti_cine_shape_zooms_affine_values(tmp_path: Path, images: torch.Tensor, mag: np.ndarray) -> None:
    path = write_nifti(tmp_path / "cine.nii.gz", images, _header())
    img = nib.load(path)
    assert img.shape == (NX, NY, SLICES, FRAMES)
    assert img.get_data_dtype() == np.float32
    np.testing.assert_allclose(img.header.get_zooms(), (DX, DY, SPACING, FRAME_TIME), rtol=1e-5)
    assert img.header.get_xyzt_units() == ("mm", "msec")
    assert int(img.header["sform_code"]) == 1 and int(img.header["qform_code"]) == 1
    np.testing.assert_allclose(img.header.get_qform(), img.header.get_sform(), atol=1e-4)
    rng = np.random.default_rng(0)
    for s in range(SLICES):
        for row, col in [(0, 0), (NY - 1, NX - 1), *rng.integers(0, [NY, NX], size=(3, 2))]:
            expected = LPS_TO_RAS * _world(s, row, col)
            np.testing.assert_allclose(_voxel_to_ras(img, col, row, s), expected, atol=1e-4)
    data = np.asarray(img.dataobj)
    np.testing.assert_allclose(data, mag.transpose(3, 2, 0, 1), rtol=1e-6)


def test_nifti_says_what_it_holds(tmp_path: Path, mag: np.ndarray) -> None:
    img = nib.load(write_nifti(tmp_path / "d.nii.gz", mag, _header()))
    assert img.header["descrip"].tobytes().rstrip(b"\0").startswith(b"recon ")
    assert img.header["intent_code"] == 0 and img.header.get_xyzt_units() == ("mm", "msec")


def test_nifti_without_geometry_is_3d_and_transverse_as_displayed(tmp_path: Path, mag: np.ndarray) -> None:
    """fastMRI-like header: no geometry, readout along the rows, one frame, stack centred at the origin."""
    header = _header(geometry=[], readout_axis=-2, frame_time_ms=None, slice_spacing_mm=None)
    path = write_nifti(tmp_path / "static.nii.gz", mag[:, :1], header)
    img = nib.load(path)
    assert img.shape == (NX, NY, SLICES)
    np.testing.assert_allclose(img.header.get_qform(), img.header.get_sform(), atol=1e-5)  # left-handed
    np.testing.assert_allclose(img.header.get_zooms(), (DX, DY, THICKNESS), rtol=1e-6)
    assert nib.aff2axcodes(img.affine) == ("L", "P", "S")  # the array as displayed, whatever the readout
    assert img.header.get_dim_info() == (1, 0, 2)  # the readout (frequency) axis is y here
    # LPS: columns step towards patient left (+x), rows towards posterior (+y), slices along +z.
    for s, row, col in [(0, 0, 0), (1, 5, 7), (0, NY - 1, 3)]:
        lps = np.array(
            [
                (col - (NX - 1) / 2) * DX,
                (row - (NY - 1) / 2) * DY,
                (s - (SLICES - 1) / 2) * THICKNESS,
            ]
        )
        np.testing.assert_allclose(_voxel_to_ras(img, col, row, s), LPS_TO_RAS * lps, atol=1e-5)
    np.testing.assert_allclose(np.asarray(img.dataobj), mag[:, 0].transpose(2, 1, 0), rtol=1e-6)


def test_nifti_puts_reversed_slices_in_spatial_order(tmp_path: Path, mag: np.ndarray) -> None:
    header = _header()
    header = dataclasses.replace(header, geometry=header.geometry[::-1])  # input slice 0 now at CENTRES[1]
    img = nib.load(write_nifti(tmp_path / "rev.nii.gz", mag, header))
    data = np.asarray(img.dataobj)
    inverse = np.linalg.inv(img.affine)
    for s, centre in enumerate(CENTRES[::-1]):
        ijk = inverse @ np.append(LPS_TO_RAS * centre, 1.0)
        np.testing.assert_allclose(ijk[:2], [(NX - 1) / 2, (NY - 1) / 2], atol=1e-4)
        k = int(round(ijk[2]))
        np.testing.assert_allclose(data[:, :, k], mag[s].transpose(2, 1, 0), rtol=1e-6)


def _read_series(files: list[Path]) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(f) for f in files]


def _quantum(slope: float, mag: np.ndarray) -> float:
    """Largest error of 16-bit quantisation: half a step, plus float32 rounding of |z| (torch vs NumPy)."""
    return slope / 2 + 4 * float(np.finfo(np.float32).eps) * float(mag.max())


def _dcmdump_clean(files: list[Path]) -> None:
    """dcmdump parses every file as a DICOM file (with meta header) and reports no error."""
    exe = require_tool("dcmdump")
    proc = subprocess.run([exe, "+fo", "+U8", *map(str, files)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    bad = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith(("E:", "F:"))]
    assert not bad, bad


def test_dicom_series_geometry_values_and_uids(tmp_path: Path, images: torch.Tensor, mag: np.ndarray) -> None:
    files = write_dicom_series(tmp_path / "series", images, _header(), series_description="unit test")
    assert len(files) == SLICES * FRAMES and all(f.is_file() for f in files)
    assert sorted(p.name for p in (tmp_path / "series").iterdir()) == sorted(f.name for f in files)
    _dcmdump_clean(files)
    datasets = _read_series(files)
    slopes = {float(ds.RealWorldValueMappingSequence[0].RealWorldValueSlope) for ds in datasets}
    assert len(slopes) == 1
    slope = slopes.pop()
    for path, ds in zip(files, datasets, strict=True):
        s, f = divmod(int(ds.InstanceNumber) - 1, FRAMES)
        assert path.name == f"IM_{ds.InstanceNumber:04d}_s{s:03d}_f{f:03d}.dcm"
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.4" and ds.Modality == "MR"
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        assert (ds.Rows, ds.Columns, ds.BitsAllocated, ds.PixelRepresentation) == (NY, NX, 16, 0)
        assert ds.PhotometricInterpretation == "MONOCHROME2"
        np.testing.assert_allclose([float(v) for v in ds.PixelSpacing], [DY, DX])
        np.testing.assert_allclose([float(v) for v in ds.ImageOrientationPatient], [*READ, *PHASE], atol=1e-8)
        ipp = np.array([float(v) for v in ds.ImagePositionPatient])
        np.testing.assert_allclose(ipp, _world(s, 0, 0), atol=1e-4)
        # Any pixel via the DICOM equation (PixelSpacing = row spacing, column spacing).
        iop = np.array([float(v) for v in ds.ImageOrientationPatient])
        row, col = 17, 29
        pos = ipp + col * float(ds.PixelSpacing[1]) * iop[:3] + row * float(ds.PixelSpacing[0]) * iop[3:]
        np.testing.assert_allclose(pos, _world(s, row, col), atol=1e-4)
        assert float(ds.SliceThickness) == THICKNESS and float(ds.SpacingBetweenSlices) == SPACING
        assert float(ds.SliceLocation) == pytest.approx(float(CENTRES[s] @ NORMAL), abs=1e-4)
        values = ds.pixel_array * slope + float(ds.RealWorldValueMappingSequence[0].RealWorldValueIntercept)
        assert values.shape == (NY, NX)
        np.testing.assert_allclose(values, mag[s, f], atol=_quantum(slope, mag), rtol=0)
        assert int(ds.TemporalPositionIdentifier) == f + 1 and int(ds.NumberOfTemporalPositions) == FRAMES
        assert float(ds.TemporalResolution) == FRAME_TIME and "TriggerTime" not in ds
        assert str(ds.PatientName) == "Doe^Jane" and ds.PatientID == "P12345"
        assert ds.PatientBirthDate == "19700102" and ds.StudyDate == "20240506"
        assert ds.SeriesDescription == "unit test"
        assert float(ds.RepetitionTime) == FRAME_TIME and "3.1 ms" in ds.ImageComments  # frame time; TR
        assert float(ds.FlipAngle) == 50.0
    assert len({ds.SOPInstanceUID for ds in datasets}) == len(datasets)
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
        assert len({getattr(ds, keyword) for ds in datasets}) == 1
    assert int(max(ds.pixel_array.max() for ds in datasets)) == 65535  # the 16-bit range is used


def test_dicom_uids_are_reproducible_and_differ_when_anonymised(tmp_path: Path, mag: np.ndarray) -> None:
    def uids(folder: str, **kwargs: bool) -> list[tuple[str, str, str]]:
        files = write_dicom_series(tmp_path / folder, mag, _header(), **kwargs)
        return [(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID) for ds in _read_series(files)]

    first = uids("a")
    assert uids("b") == first
    anonymous = uids("c", anonymize=True)
    assert not {u for t in anonymous for u in t} & {u for t in first for u in t}


def test_dicom_anonymize_removes_identity(tmp_path: Path, mag: np.ndarray) -> None:
    files = write_dicom_series(tmp_path / "anon", mag, _header(), anonymize=True)
    _dcmdump_clean(files)
    for path, ds in zip(files, _read_series(files), strict=True):
        assert str(ds.PatientName) == "ANONYMOUS"
        assert ds.PatientID and ds.PatientID != "P12345"
        assert not ds.get("PatientBirthDate") and not ds.get("PatientSex") and "PatientWeight" not in ds
        assert not ds.get("StudyDate") and not ds.get("InstitutionName")
        assert ds.PatientIdentityRemoved == "YES" and len(ds.DeidentificationMethod) <= 64
        raw = path.read_bytes()
        for secret in (b"Doe", b"P12345", b"19700102", b"St Elsewhere", b"20240506"):
            assert secret not in raw


def test_dicom_small_magnitudes_keep_precision_and_valid_window(tmp_path: Path, mag: np.ndarray) -> None:
    tiny = mag * 1e-7
    files = write_dicom_series(tmp_path / "tiny", tiny, _header())
    _dcmdump_clean(files[:1])
    ds = pydicom.dcmread(files[0])
    slope = float(ds.RealWorldValueMappingSequence[0].RealWorldValueSlope)
    values = ds.pixel_array * slope
    np.testing.assert_allclose(values, tiny[0, 0], atol=_quantum(slope, tiny), rtol=0)
    assert float(ds.WindowWidth) >= 1  # in stored pixel values, so LINEAR applies
    assert float(ds.WindowWidth) * slope == pytest.approx(np.percentile(tiny, 99.5), rel=1e-6)


def test_dicom_folder_with_files_is_not_clobbered(tmp_path: Path, mag: np.ndarray) -> None:
    folder = tmp_path / "series"
    folder.mkdir()
    (folder / "keep.txt").write_text("precious")
    with pytest.raises(OutputExistsError):
        write_dicom_series(folder, mag, _header())
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]
    assert (folder / "keep.txt").read_text() == "precious"
    files = write_dicom_series(folder, mag, _header(), overwrite=True)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f.name for f in files)
    assert [p.name for p in tmp_path.iterdir()] == ["series"]  # no temporary folders left behind


def test_write_outputs_writes_every_format(tmp_path: Path, images: torch.Tensor) -> None:
    written = write_outputs(
        tmp_path, "scan", images, _header(), formats=OUTPUT_FORMATS, attrs={"model": "zf"}
    )
    assert written["nifti"] == [tmp_path / "scan.nii.gz"]
    assert len(written["dicom"]) == SLICES * FRAMES
    assert all(f.parent == tmp_path / "scan_dicom" for f in written["dicom"])
    assert written["h5"] == [tmp_path / "scan.h5"]
    assert written["png"] == [tmp_path / "scan.png", tmp_path / "scan.gif"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "scan.gif",
        "scan.h5",
        "scan.nii.gz",
        "scan.png",
        "scan_dicom",
    ]


def test_write_outputs_static_scan_has_no_gif(tmp_path: Path, images: torch.Tensor) -> None:
    written = write_outputs(tmp_path, "static", images[:, :1], _header(), formats=["png", "nifti"])
    assert written == {"png": [tmp_path / "static.png"], "nifti": [tmp_path / "static.nii.gz"]}
    assert nib.load(written["nifti"][0]).shape == (NX, NY, SLICES)


def test_write_outputs_refuses_before_writing_anything(tmp_path: Path, images: torch.Tensor) -> None:
    existing = tmp_path / "scan.png"
    existing.write_bytes(b"keep me")
    with pytest.raises(OutputExistsError):
        write_outputs(tmp_path, "scan", images, _header(), formats=OUTPUT_FORMATS)
    assert existing.read_bytes() == b"keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["scan.png"]
    written = write_outputs(tmp_path, "scan", images, _header(), formats=["png"], overwrite=True)
    with Image.open(written["png"][0]) as png:
        assert png.format == "PNG"


def test_write_outputs_rejects_unknown_format(tmp_path: Path, images: torch.Tensor) -> None:
    with pytest.raises(UsageError, match="Unknown output format 'tiff'. Available: nifti, dicom, h5, png"):
        write_outputs(tmp_path, "scan", images, _header(), formats=["nifti", "tiff"])
    assert not any(tmp_path.iterdir())


def test_single_file_writers_refuse_then_overwrite(tmp_path: Path, mag: np.ndarray) -> None:
    path = tmp_path / "x.nii.gz"
    path.write_bytes(b"old")
    with pytest.raises(OutputExistsError):
        write_nifti(path, mag, _header())
    assert path.read_bytes() == b"old"
    write_nifti(path, mag, _header(), overwrite=True)
    assert nib.load(path).shape == (NX, NY, SLICES, FRAMES)


def test_h5_round_trip(tmp_path: Path, images: torch.Tensor) -> None:
    config = {"iterations": 8, "lambda": 0.01, "name": "imunne"}
    path = write_h5_images(tmp_path / "x.h5", images, _header(), attrs={"model": "imunne", "config": config})
    with h5py.File(path, "r") as f:  # the layout other tools see
        assert f["images"].dtype == np.complex64 and f["images"].shape == (SLICES, FRAMES, NY, NX)
        assert f["images"].attrs["axes"] == "slice,frame,y,x" and f.attrs["axes"] == "slice,frame,y,x"
        assert (
            f.attrs["length_units"] == "mm" and f.attrs["time_units"] == "ms" and f["images"].attrs["units"]
        )
        assert f.attrs["recon_version"] and f.attrs["coordinate_system"] == "LPS"
        # DICOM's words: the column index (x) increases along the row direction (ISMRMRD: read)
        np.testing.assert_allclose(f.attrs["row_direction"], READ, atol=1e-12)
        np.testing.assert_allclose(f.attrs["column_direction"], PHASE, atol=1e-12)
    data, attrs = read_h5_images(path)
    np.testing.assert_array_equal(data, images.numpy())
    assert attrs["model"] == "imunne" and attrs["config"] == config
    np.testing.assert_allclose(attrs["pixel_spacing_mm"], [DY, DX])
    np.testing.assert_array_equal(attrs["matrix"], [NY, NX])
    assert attrs["frame_time_ms"] == FRAME_TIME and attrs["slice_thickness_mm"] == THICKNESS
    np.testing.assert_allclose(attrs["slice_positions"], np.stack(CENTRES), atol=1e-9)
    corner = attrs["affine_lps"] @ np.array([NX - 1, NY - 1, 1, 1.0])
    np.testing.assert_allclose(corner[:3], _world(1, NY - 1, NX - 1), atol=1e-6)
    with pytest.raises(ValueError, match="clash"):
        write_h5_images(tmp_path / "y.h5", images, _header(), attrs={"matrix": 1})


def test_montage_layout() -> None:
    tiles = np.arange(5)[:, None, None] * np.ones((5, 2, 3))
    grid = montage(tiles)
    assert grid.shape == (2 * 2, 3 * 3)  # 3 columns, 2 rows
    assert grid[0, 0] == 0 and grid[0, 3] == 1 and grid[0, 6] == 2 and grid[2, 0] == 3 and grid[2, 3] == 4
    assert grid[2, 6] == 0  # padding


def test_png_and_gif_previews(tmp_path: Path, images: torch.Tensor) -> None:
    with Image.open(write_png_preview(tmp_path / "x.png", images)) as png:
        assert png.format == "PNG" and png.mode == "L" and png.size == (2 * NX, NY)  # 2 slices side by side
        assert np.asarray(png).max() == 255
    with Image.open(write_gif(tmp_path / "x.gif", images, frame_time_ms=FRAME_TIME)) as gif:
        assert gif.format == "GIF" and gif.n_frames == FRAMES and gif.size == (2 * NX, NY)
        assert gif.info["duration"] == FRAME_TIME and gif.info.get("loop") == 0

"""``Scan`` is a checked, frozen value: wrong shapes and dtypes are refused when it is built, nothing can
be changed afterwards, and every reader returns one that meets DESIGN.md section 2 (checked here against
that text with torch's own broadcasting rules, not with the class's checks).
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from recon_cli.io.detect import read_scan
from recon_cli.io.fastmri import fastmri_header_xml, write_fastmri
from recon_cli.io.ismrmrd import write_ismrmrd
from recon_cli.io.scan import (
    FastmriInfo,
    InvalidScanError,
    IsmrmrdInfo,
    Metadata,
    Scan,
    ScanHeader,
    Simulation,
    SliceGeometry,
)
from tests.helpers import run_tool, small_cine

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "sample_data"


def _cartesian(**fields: Any) -> Scan:
    """A valid 2-slice, 3-frame, 4-coil 8 x 6 Cartesian scan, with ``fields`` replaced."""
    gen = torch.Generator().manual_seed(0)
    kspace = torch.randn(2, 3, 4, 8, 6, dtype=torch.complex64, generator=gen)
    header = ScanHeader(recon_matrix=(8, 6), encoded_matrix=(8, 6), fov_mm=(80.0, 60.0, 5.0))
    base: dict[str, Any] = {"kspace": kspace, "header": header, "source": Path("x.h5"), "format": "ismrmrd"}
    return Scan(**{**base, **fields})


def _radial(**fields: Any) -> Scan:
    """A valid 1-slice, 2-frame, 3-coil radial scan of 4 spokes of 16 samples, with ``fields`` replaced."""
    gen = torch.Generator().manual_seed(1)
    header = ScanHeader(
        recon_matrix=(8, 8), encoded_matrix=(8, 8), fov_mm=(80.0, 80.0, 5.0), trajectory="radial"
    )
    base: dict[str, Any] = {
        "kspace": torch.randn(1, 2, 3, 64, dtype=torch.complex64, generator=gen),
        "header": header,
        "source": Path("r.h5"),
        "format": "ismrmrd",
        "traj": torch.rand(1, 2, 2, 64, generator=gen) * 6 - 3,
        "readout_length": 16,
    }
    return Scan(**{**base, **fields})


def test_valid_scans_build() -> None:
    gen = torch.Generator().manual_seed(2)
    scan = _cartesian(
        mask=torch.ones(1, 3, 1, 8, 1, dtype=torch.bool),
        noise=torch.eye(4, dtype=torch.complex64),
        acs=torch.randn(2, 1, 4, 8, 6, dtype=torch.complex64, generator=gen),
        reference=torch.rand(2, 3, 8, 6, generator=gen),
        guesses=["one assumption"],
    )
    assert scan.guesses == ("one assumption",) and scan.n_coils == 4
    assert _radial().readout_length == 16 and not _radial().is_cartesian


@pytest.mark.parametrize(
    ("make", "fields", "message"),
    [
        (_cartesian, {"kspace": torch.zeros(2, 3, 4, 8, 6, dtype=torch.complex128)}, "kspace has dtype"),
        (_cartesian, {"kspace": torch.zeros(2, 3, 4, 8, 6)}, "kspace has dtype torch.float32"),
        (_cartesian, {"kspace": torch.zeros(3, 4, 8, 6, dtype=torch.complex64)}, "kspace has shape"),
        (_cartesian, {"kspace": np.zeros((2, 3, 4, 8, 6), np.complex64)}, "kspace must be a torch.Tensor"),
        (_cartesian, {"mask": torch.ones(1, 3, 1, 8, 1)}, "mask has dtype torch.float32"),
        (_cartesian, {"mask": torch.ones(1, 2, 1, 8, 1, dtype=torch.bool)}, "does not broadcast"),
        (_cartesian, {"mask": torch.ones(3, 1, 8, 1, dtype=torch.bool)}, "mask has shape"),
        (_cartesian, {"noise": torch.eye(3, dtype=torch.complex64)}, "noise covariance has shape"),
        (_cartesian, {"noise": torch.eye(4)}, "noise has dtype"),
        (_cartesian, {"acs": torch.zeros(2, 1, 4, 8, 5, dtype=torch.complex64)}, "acs has shape"),
        (_cartesian, {"reference": torch.zeros(1, 3, 8, 6)}, "reference has shape"),
        (_cartesian, {"reference": torch.zeros(2, 3, 8, 6, dtype=torch.float64)}, "reference has dtype"),
        (_cartesian, {"format": "dicom"}, "format 'dicom' is not one of"),
        (_cartesian, {"source": "x.h5"}, "source must be a pathlib.Path"),
        (_cartesian, {"readout_length": 6}, "readout_length is for non-Cartesian"),
        (_cartesian, {"noise_samples": -1}, "noise_samples must be a count"),
        (_cartesian, {"guesses": "a sentence"}, "Scan.guesses must be a sequence"),
        (_cartesian, {"format": "fastmri", "ismrmrd_info": IsmrmrdInfo("phase")}, "ismrmrd_info given"),
        (
            _cartesian,
            {"ismrmrd_info": IsmrmrdInfo("phase", acs_mask=torch.ones(2, 1, 1, 8, 1))},
            "ismrmrd_info.acs_mask has dtype torch.float32",
        ),
        (
            _cartesian,
            {"fastmri_info": FastmriInfo("multicoil", None, (2, 4, 8, 6), (8, 6))},
            "fastmri_info given",
        ),
        (_cartesian, {"traj": torch.zeros(1, 3, 2, 6)}, "header.trajectory is 'cartesian' but traj is given"),
        (_radial, {"traj": None}, "header.trajectory is 'radial' but traj is absent"),
        (_radial, {"traj": torch.zeros(1, 2, 2, 63)}, "traj has shape (1, 2, 2, 63)"),
        (_radial, {"traj": torch.zeros(2, 2, 2, 64)}, "traj has shape (2, 2, 2, 64)"),
        (_radial, {"traj": torch.zeros(1, 2, 2, 64, dtype=torch.float64)}, "traj has dtype torch.float64"),
        (_radial, {"readout_length": 15}, "readout_length 15 does not divide the 64 samples"),
        (_radial, {"mask": torch.ones(1, 2, 1, 1, dtype=torch.bool)}, "for Cartesian scans only"),
        (
            _radial,
            {"simulation": Simulation(None, 0.1, torch.zeros(3, 10))},
            "simulation.noise_samples has dtype torch.float32",
        ),
    ],
)
def test_invalid_scans_are_refused_naming_the_field(make: Any, fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidScanError, match="^Scan") as info:
        make(**fields)
    assert message in str(info.value)


def test_an_unknown_trajectory_is_refused() -> None:
    rosette: Any = "rosette"
    with pytest.raises(InvalidScanError, match="^ScanHeader: trajectory 'rosette' is not one of cartesian"):
        ScanHeader(recon_matrix=(8, 8), encoded_matrix=(8, 8), fov_mm=(1.0, 1.0, 1.0), trajectory=rosette)


def _header(**fields: Any) -> ScanHeader:
    """A valid 2-slice header with every mapping filled, with ``fields`` replaced."""
    values: dict[str, Any] = {
        "recon_matrix": (8, 6),
        "encoded_matrix": (16, 6),
        "fov_mm": (80.0, 60.0, 5.0),
        "slice_spacing_mm": 6.0,
        "frame_time_ms": 40.0,
        "geometry": [SliceGeometry(position=(0.0, 0.0, 6.0 * s)) for s in range(2)],
        "patient": {"name": "Doe^Jane", "id": "P001"},
        "study": {"date": "2024-01-02"},
        "series": {"description": "cine"},
        "sequence": {"TR_ms": 3.2, "sequence_type": "TrueFISP"},
        "xml": "<ismrmrdHeader/>",
    }
    return ScanHeader(**{**values, **fields})


def test_a_header_cannot_be_changed() -> None:
    header = _header()
    for name, value in (("fov_mm", (1.0, 1.0, 1.0)), ("frame_time_ms", 1.0), ("geometry", ())):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(header, name, value)
    for name in ("patient", "study", "series", "sequence"):
        mapping = getattr(header, name)
        assert isinstance(mapping, Metadata) and not hasattr(mapping, "update")
        with pytest.raises(TypeError):
            mapping["description"] = "changed"
    assert isinstance(header.geometry, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        header.geometry[0].position = (1.0, 2.0, 3.0)  # type: ignore[misc]


def test_a_header_copies_its_mappings_and_derives_by_replace() -> None:
    series = {"description": "cine"}
    header = _header(series=series)
    series["description"] = "changed"  # the caller's dict is not the header's
    assert header.series == {"description": "cine"}
    derived = dataclasses.replace(header, series={**header.series, "description": "other"})
    assert derived.series == {"description": "other"} and header.series == {"description": "cine"}
    assert derived.patient == header.patient and derived.geometry == header.geometry


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"recon_matrix": (0, 6)}, "recon_matrix must be 2 whole numbers >= 1, not (0, 6)"),
        ({"encoded_matrix": (8.5, 6)}, "encoded_matrix must be 2 whole numbers >= 1"),
        ({"acceleration": (True, 1)}, "acceleration must be 2 whole numbers >= 1"),
        ({"fov_mm": (80.0, 60.0)}, "fov_mm must be 3 finite numbers in mm"),
        ({"fov_mm": (80.0, float("nan"), 5.0)}, "fov_mm must be 3 finite numbers in mm"),
        ({"fov_mm": (80.0, -60.0, 5.0)}, "fov_mm (80.0, -60.0, 5.0) must be positive in-plane"),
        ({"readout_axis": 0}, "readout_axis must be -1 or -2, not 0"),
        ({"frame_time_ms": float("inf")}, "frame_time_ms must be a finite number or None, not inf"),
        ({"slice_spacing_mm": "6"}, "slice_spacing_mm must be a finite number or None"),
        ({"geometry": [(0.0, 0.0, 0.0)]}, "geometry entries must be SliceGeometry, not tuple"),
        ({"patient": ["Doe"]}, "patient must be a mapping with str keys"),
        ({"sequence": {"TR_ms": float("nan")}}, "sequence values must be text or finite numbers"),
        ({"xml": b"<x/>"}, "xml must be text or None, not bytes"),
    ],
)
def test_invalid_headers_are_refused_naming_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidScanError, match="^ScanHeader: ") as info:
        _header(**fields)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"position": (0.0, 0.0)}, "SliceGeometry.position must be 3 finite numbers"),
        ({"read_dir": (1.0, float("nan"), 0.0)}, "SliceGeometry.read_dir must be 3 finite numbers"),
        ({"slice_dir": "xyz"}, "SliceGeometry.slice_dir must be 3 finite numbers"),
    ],
)
def test_invalid_slice_geometry_is_refused_naming_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidScanError, match=message):
        SliceGeometry(**fields)


def test_a_header_pickles_and_deep_copies() -> None:
    header = _header()
    for copied in (pickle.loads(pickle.dumps(header)), copy.deepcopy(header), copy.copy(header)):
        assert copied == header
        assert isinstance(copied.patient, Metadata) and isinstance(copied.geometry[0], SliceGeometry)
        assert copied.pixel_spacing_mm == header.pixel_spacing_mm
    assert dataclasses.replace(header) == header


def test_a_scan_cannot_be_changed() -> None:
    scan = _cartesian(guesses=["g"], fastmri_info=None, format="fastmri")
    for name, value in (("kspace", scan.kspace * 2), ("mask", None), ("guesses", ()), ("format", "ismrmrd")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(scan, name, value)
    assert not hasattr(scan.guesses, "append")
    info = FastmriInfo("multicoil", "reconstruction_rss", (2, 4, 16, 6), (16, 6), 2.0, {"max": 1.0})
    with pytest.raises(TypeError):
        info.attrs["max"] = 2.0  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.layout = "singlecoil"  # type: ignore[misc]


def test_a_scan_pickles_and_copies(tmp_path: Path) -> None:
    scan = read_scan(SAMPLE_DIR / "fastmri_brain_phantom_multicoil.h5")
    for back in (pickle.loads(pickle.dumps(scan)), copy.deepcopy(scan)):
        assert torch.equal(back.kspace, scan.kspace) and back.guesses == scan.guesses
        assert back.fastmri_info == scan.fastmri_info and dict(back.fastmri_info.attrs) == dict(
            scan.fastmri_info.attrs
        )  # type: ignore[union-attr]


def test_replace_derives_a_checked_scan() -> None:
    scan = _cartesian()
    doubled = dataclasses.replace(scan, kspace=scan.kspace * 2)
    assert doubled is not scan and torch.equal(doubled.kspace, scan.kspace * 2)
    with pytest.raises(InvalidScanError, match="kspace has dtype torch.complex128"):
        dataclasses.replace(scan, kspace=scan.kspace.to(torch.complex128))


# ------------------------------------------------------------------------ every reader, every file kind


def _assert_design_scan(scan: Scan) -> None:
    """DESIGN.md section 2, checked independently of ``Scan``'s own checks."""
    assert type(scan) is Scan and isinstance(scan.header, ScanHeader) and isinstance(scan.guesses, tuple)
    assert scan.kspace.dtype == torch.complex64 and all(isinstance(g, str) for g in scan.guesses)
    s, f, c = (int(n) for n in scan.kspace.shape[:3])
    if scan.traj is None:
        assert scan.kspace.ndim == 5 and scan.header.trajectory == "cartesian"
        if scan.mask is not None:
            assert scan.mask.dtype == torch.bool
            assert torch.broadcast_shapes(scan.mask.shape, scan.kspace.shape) == scan.kspace.shape
        if scan.acs is not None:
            assert scan.acs.shape == (s, 1, c, *scan.kspace.shape[-2:]) and scan.acs.dtype == torch.complex64
    else:
        assert scan.kspace.ndim == 4 and scan.header.trajectory != "cartesian" and scan.mask is None
        assert scan.traj.dtype == torch.float32 and scan.traj.shape[0] in (1, s)
        assert scan.traj.shape[1:] == (f, 2, scan.kspace.shape[-1])
        assert float(scan.traj.abs().max()) <= np.pi * (1 + 1e-5)
        assert scan.readout_length is not None and scan.kspace.shape[-1] % scan.readout_length == 0
    if scan.noise is not None:
        assert scan.noise.shape == (c, c) and scan.noise.is_complex()
    if scan.reference is not None:
        assert scan.reference.shape == (s, f, *scan.header.recon_matrix)
    info = {"ismrmrd": scan.ismrmrd_info, "fastmri": scan.fastmri_info}[scan.format]
    assert info is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        scan.kspace = scan.kspace  # type: ignore[misc]


@pytest.mark.parametrize("name", ["radial_cine.h5", "fastmri_brain_phantom_multicoil.h5"])
def test_sample_data_reads_as_valid_scans(name: str) -> None:
    _assert_design_scan(read_scan(SAMPLE_DIR / name))


def test_generated_files_read_as_valid_scans(tmp_path: Path) -> None:
    files = []
    for kind in ("cartesian", "radial"):
        _, _, scan = small_cine(kind, n=16, frames=2, coils=2, seed=4)
        files.append(write_ismrmrd(tmp_path / f"{kind}.h5", scan))
    gen = np.random.default_rng(5)
    for layout, shape in (("multi", (2, 3, 32, 12)), ("single", (2, 32, 12))):
        kspace = (gen.standard_normal(shape) + 1j * gen.standard_normal(shape)).astype(np.complex64)
        xml = fastmri_header_xml((32, 12), (16, 12), (200.0, 75.0, 4.0), (100.0, 75.0, 4.0), n_coils=3)
        reference = np.abs(gen.standard_normal((2, 16, 12))).astype(np.float32)
        files.append(write_fastmri(tmp_path / f"{layout}.h5", kspace, reference=reference, header_xml=xml))
    shepp = tmp_path / "shepp.h5"  # ISMRMRD's own generator: oversampling, noise scans, calibration lines
    run_tool("ismrmrd_generate_cartesian_shepp_logan", "-m", "32", "-c", "2", "-a", "2", "-o", shepp)
    files.append(shepp)
    for path in files:
        scan = read_scan(path)
        _assert_design_scan(scan)
        assert scan.source == path
    assert read_scan(files[-1]).ismrmrd_info.frame_counter == "repetition"  # type: ignore[union-attr]
    assert read_scan(files[2]).fastmri_info.layout == "multicoil"  # type: ignore[union-attr]
    assert read_scan(files[3]).fastmri_info.layout == "singlecoil"  # type: ignore[union-attr]

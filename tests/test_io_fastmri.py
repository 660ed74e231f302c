"""fastMRI reader/writer against a numpy re-implementation of fastMRI's own recipe.

Test files are written here with h5py directly (not with ``write_fastmri``); the reference image is
``center_crop(rss(ifft2c(kspace)), recon)`` computed with numpy's FFT as the fastMRI package does.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from recon_cli.errors import InputDataError, OutputExistsError
from recon_cli.io.detect import read_scan
from recon_cli.io.fastmri import read_fastmri, write_fastmri
from recon_cli.ops.functional import center_crop, ifft2c, rss

_XML = """<?xml version="1.0" encoding="utf-8"?>
<ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD">
  <subjectInformation><patientID>{pid}</patientID></subjectInformation>
  <acquisitionSystemInformation><systemFieldStrength_T>2.89362</systemFieldStrength_T>
    <institutionName>Test Hospital</institutionName></acquisitionSystemInformation>
  <experimentalConditions><H1resonanceFrequency_Hz>123251815</H1resonanceFrequency_Hz></experimentalConditions>
  <encoding>
    <encodedSpace><matrixSize><x>{ex}</x><y>{ey}</y><z>1</z></matrixSize>
      <fieldOfView_mm><x>{efx}</x><y>{efy}</y><z>5</z></fieldOfView_mm></encodedSpace>
    <reconSpace><matrixSize><x>{rx}</x><y>{ry}</y><z>1</z></matrixSize>
      <fieldOfView_mm><x>{rfx}</x><y>{rfy}</y><z>5</z></fieldOfView_mm></reconSpace>
    <encodingLimits><kspace_encoding_step_1><minimum>0</minimum><maximum>{eym1}</maximum>
      <center>{eyc}</center></kspace_encoding_step_1></encodingLimits>
    <trajectory>cartesian</trajectory>
  </encoding>
  <sequenceParameters><TR>2750</TR><TE>113</TE><flipAngle_deg>150</flipAngle_deg></sequenceParameters>
</ismrmrdHeader>
"""


def np_fft2c(x: np.ndarray) -> np.ndarray:
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))


def np_ifft2c(k: np.ndarray) -> np.ndarray:
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))


def fastmri_center_crop(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """fastMRI's ``center_crop``: from (n - target) // 2 along each of the last two axes."""
    r0, c0 = (x.shape[-2] - shape[0]) // 2, (x.shape[-1] - shape[1]) // 2
    return x[..., r0 : r0 + shape[0], c0 : c0 + shape[1]]


def header_xml(enc: tuple[int, int], recon: tuple[int, int], fov_x: float = 220.0, pid: str = "p0") -> str:
    """XML with encoded FOV 2x the recon FOV along x (the readout, rows), as fastMRI's 640 -> 320."""
    fy = fov_x * enc[1] / recon[1]
    return _XML.format(pid=pid, ex=enc[0], ey=enc[1], efx=2 * fov_x, efy=fy, rx=recon[0], ry=recon[1],
                       rfx=fov_x, rfy=fov_x, eym1=enc[1] - 1, eyc=enc[1] // 2)  # fmt: skip


def make_kspace(shape: tuple[int, int], coils: int, slices: int, seed: int = 0) -> np.ndarray:
    """Seeded object filling the central half of the rows, times smooth coil phases/magnitudes."""
    rng = np.random.default_rng(seed)
    rows, cols = shape
    img = np.zeros((slices, rows, cols), np.complex128)
    core = rng.standard_normal((slices, rows // 2, cols - 8)) + 1j * rng.standard_normal(
        (slices, rows // 2, cols - 8)
    )
    img[:, rows // 4 : rows // 4 + rows // 2, 4 : cols - 4] = core
    y, x = np.meshgrid(np.linspace(-1, 1, rows), np.linspace(-1, 1, cols), indexing="ij")
    maps = np.stack([np.exp(-((x - np.cos(a)) ** 2 + (y - np.sin(a)) ** 2)) * np.exp(1j * (a + x * c))
                     for c, a in enumerate(np.linspace(0, 2 * np.pi, coils, endpoint=False))])  # fmt: skip
    return np_fft2c(img[:, None] * maps[None]).astype(np.complex64)


def write_file(path: Path, kspace: np.ndarray, **datasets: object) -> Path:
    attrs = datasets.pop("attrs", {})
    with h5py.File(path, "w") as f:
        f.create_dataset("kspace", data=kspace)
        for name, value in datasets.items():
            if value is not None:
                f.create_dataset(name, data=value)
        for key, value in dict(attrs).items():
            f.attrs[key] = value
    return path


def pipeline_image(scan) -> np.ndarray:
    """What recon's pipeline does to fully sampled data: ifft2c, rss over coils, crop to recon size."""
    return center_crop(rss(ifft2c(scan.kspace), dim=2), scan.header.recon_matrix).numpy()


@pytest.mark.parametrize(("enc", "recon"), [((64, 48), (32, 32)), ((70, 45), (35, 30))])
def test_multicoil_matches_fastmri_rss(tmp_path: Path, enc: tuple[int, int], recon: tuple[int, int]) -> None:
    kspace = make_kspace(enc, coils=4, slices=3)
    ref = fastmri_center_crop(np.sqrt((np.abs(np_ifft2c(kspace)) ** 2).sum(axis=1)), recon).astype(np.float32)
    attrs = {"acquisition": "AXT2", "patient_id": "abc123", "max": float(ref.max()), "norm": 1.5}
    xml = header_xml(enc, recon)
    path = write_file(tmp_path / "mc.h5", kspace, reconstruction_rss=ref, ismrmrd_header=xml, attrs=attrs)
    scan = read_fastmri(path)
    assert scan.kspace.shape == (3, 1, 4, recon[0], enc[1]) and scan.kspace.dtype == torch.complex64
    assert scan.format == "fastmri" and scan.header.readout_axis == -2 and scan.is_cartesian
    assert scan.header.recon_matrix == recon and scan.header.encoded_matrix == (recon[0], enc[1])
    assert scan.header.fov_mm == pytest.approx((220.0, 220.0, 5.0))
    assert scan.mask is None and len(scan.guesses) == 1 and "no slice geometry" in scan.guesses[0]
    img = pipeline_image(scan)
    assert img.shape == (3, 1, *recon)
    err = np.linalg.norm(img[:, 0] - ref) / np.linalg.norm(ref)
    assert err < 1e-5, err
    assert scan.reference.shape == (3, 1, *recon) and scan.reference.dtype == torch.float32
    np.testing.assert_array_equal(scan.reference[:, 0].numpy(), ref)
    assert (
        scan.fastmri_info.attrs["acquisition"] == "AXT2"
        and scan.fastmri_info.reference_name == "reconstruction_rss"
    )
    assert scan.header.patient["id"] == "abc123" and scan.header.study["institution"] == "Test Hospital"
    assert scan.header.sequence["TR_ms"] == 2750.0 and scan.header.sequence["field_T"] == pytest.approx(
        2.89362
    )
    assert scan.fastmri_info.readout_oversampling == pytest.approx(2.0)


def test_singlecoil_matches_fastmri_esc(tmp_path: Path) -> None:
    kspace = make_kspace((64, 48), coils=1, slices=2, seed=1)[:, 0]
    esc = fastmri_center_crop(np.abs(np_ifft2c(kspace)), (32, 32)).astype(np.float32)
    path = write_file(
        tmp_path / "sc.h5", kspace, reconstruction_esc=esc, ismrmrd_header=header_xml((64, 48), (32, 32))
    )
    scan = read_scan(path)  # through format detection
    assert scan.kspace.shape == (2, 1, 1, 32, 48)
    assert (
        scan.fastmri_info.layout == "singlecoil" and scan.fastmri_info.reference_name == "reconstruction_esc"
    )
    img = pipeline_image(scan)[:, 0]
    assert np.linalg.norm(img - esc) / np.linalg.norm(esc) < 1e-5


def test_mask_from_dataset_and_from_zero_columns(tmp_path: Path) -> None:
    kspace = make_kspace((64, 48), coils=2, slices=1, seed=2)
    mask = np.zeros(48, bool)
    mask[::4] = True
    mask[20:28] = True
    under = kspace * mask
    xml = header_xml((64, 48), (32, 32))
    given = read_fastmri(write_file(tmp_path / "m1.h5", under, mask=mask, ismrmrd_header=xml,
                                    attrs={"acceleration": 4, "num_low_frequency": 8}))  # fmt: skip
    assert given.mask.shape == (1, 1, 1, 1, 48) and given.mask.dtype == torch.bool
    np.testing.assert_array_equal(given.mask.reshape(-1).numpy(), mask)
    assert given.header.acceleration == (4, 1) and given.fastmri_info.attrs["num_low_frequency"] == 8
    detected = read_fastmri(write_file(tmp_path / "m2.h5", under, ismrmrd_header=xml))
    np.testing.assert_array_equal(detected.mask.reshape(-1).numpy(), mask)
    assert detected.acceleration_estimate() == pytest.approx(48 / mask.sum())
    # the readout crop mixes rows only: unsampled columns stay exactly zero
    assert detected.kspace[..., ~torch.from_numpy(mask)].abs().max() == 0


def test_missing_header_assumes_array_geometry(tmp_path: Path) -> None:
    kspace = make_kspace((40, 30), coils=2, slices=1, seed=3)
    scan = read_fastmri(write_file(tmp_path / "nohdr.h5", kspace))
    assert scan.kspace.shape == (1, 1, 2, 40, 30)
    assert scan.header.recon_matrix == (40, 30) and scan.header.fov_mm == (40.0, 30.0, 1.0)
    assert scan.reference is None and any("ismrmrd_header" in w for w in scan.guesses)
    np.testing.assert_array_equal(scan.kspace[:, 0].numpy(), kspace)


def test_slice_selection(tmp_path: Path) -> None:
    kspace = make_kspace((64, 48), coils=2, slices=4, seed=4)
    ref = np.arange(4 * 32 * 32, dtype=np.float32).reshape(4, 32, 32)
    path = write_file(
        tmp_path / "s.h5", kspace, reconstruction_rss=ref, ismrmrd_header=header_xml((64, 48), (32, 32))
    )
    full, part = read_fastmri(path), read_fastmri(path, slices=[1, 3])
    torch.testing.assert_close(part.kspace, full.kspace[[1, 3]])
    torch.testing.assert_close(part.reference, full.reference[[1, 3]])


def test_write_fastmri_roundtrip(tmp_path: Path) -> None:
    kspace = make_kspace((64, 48), coils=3, slices=2, seed=5)
    ref = fastmri_center_crop(np.sqrt((np.abs(np_ifft2c(kspace)) ** 2).sum(axis=1)), (32, 32)).astype(
        np.float32
    )
    path = tmp_path / "w.h5"
    write_fastmri(path, kspace, reference=ref, header_xml=header_xml((64, 48), (32, 32)),
                  attrs={"patient_id": "x", "max": float(ref.max())}, compression="gzip")  # fmt: skip
    with h5py.File(path, "r") as f:
        assert f["kspace"].dtype == np.complex64 and f["kspace"].shape == kspace.shape
        np.testing.assert_array_equal(f["kspace"][()], kspace)
        assert set(f) == {"kspace", "reconstruction_rss", "ismrmrd_header"}
    scan = read_fastmri(path)
    assert np.linalg.norm(pipeline_image(scan)[:, 0] - ref) / np.linalg.norm(ref) < 1e-5
    with pytest.raises(OutputExistsError):
        write_fastmri(path, kspace)
    write_fastmri(path, kspace[:1], overwrite=True)
    assert read_fastmri(path).n_slices == 1


def _bad_files(tmp: Path) -> dict[str, Path]:
    good = make_kspace((16, 12), coils=2, slices=1)
    nan = good.copy()
    nan[0, 0, 3, 3] = np.nan
    inf = good.copy()
    inf[0, 1, 2, 2] = np.inf
    files = {
        "real-valued": write_file(tmp / "real.h5", np.abs(good)),
        "rank 2": write_file(tmp / "rank2.h5", good[0, 0]),
        "rank 5": write_file(tmp / "rank5.h5", good[None]),
        "NaN": write_file(tmp / "nan.h5", nan),
        "Inf": write_file(tmp / "inf.h5", inf),
        "empty": write_file(tmp / "empty.h5", np.zeros((0, 2, 16, 12), np.complex64)),
        "unparsable ISMRMRD XML": write_file(tmp / "xml.h5", good, ismrmrd_header="<ismrmrdHeader><encoding"),
        "mask has": write_file(tmp / "mask.h5", good, mask=np.ones(5, bool)),
        "no 'kspace'": write_file(tmp / "nok.h5", good),
    }
    with h5py.File(files["no 'kspace'"], "a") as f:
        del f["kspace"]
    files["prewhitening"] = write_file(tmp / "prewhiten.h5", good)  # a valid file; read with prewhiten=True
    (tmp / "trunc.h5").write_bytes(files["NaN"].read_bytes()[:600])
    files["unreadable"] = tmp / "trunc.h5"
    return files


def test_bad_inputs_raise_input_data_error(tmp_path: Path) -> None:
    for expected, path in _bad_files(tmp_path).items():
        with pytest.raises(InputDataError) as info:
            read_fastmri(path, prewhiten=expected == "prewhitening")
        assert expected in info.value.problem, (path.name, info.value.problem)
        assert info.value.path == str(path) and "\n" not in str(info.value)

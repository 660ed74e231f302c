"""ISMRMRD reading and writing, checked against independent references.

* Cartesian: files from ISMRMRD's own ``ismrmrd_generate_cartesian_shepp_logan`` (2x readout
  oversampling, noise scans, interleaved acceleration with calibration lines), which carry their ground
  truth (``dataset/phantom``) and coil maps (``dataset/csm``).
* Radial: BART's analytic k-space (``bart phantom -k -s 8 -t traj``) written into ISMRMRD files here with
  the ``ismrmrd`` package directly (not with ``write_ismrmrd``), compared with BART's image-domain
  phantom and with BART's analytic Cartesian k-space of the same object.
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import h5py
import ismrmrd
import ismrmrd.xsd as xsd
import numpy as np
import pytest
import torch

from recon_cli.errors import InputDataError, OutputExistsError, UsageError
from recon_cli.io.ismrmrd import read_ismrmrd, write_ismrmrd
from recon_cli.io.scan import Scan, ScanHeader, SliceGeometry
from recon_cli.noise import prewhiten, whitening_matrix
from recon_cli.ops.functional import ifft2c, rss
from recon_cli.ops.nufft import nufft_adjoint, pipe_menon_dcf
from tests.helpers import (
    bart,
    correlation,
    ismrmrd_header_xml,
    nrmse,
    read_cfl,
    require_tool,
    run_tool,
    write_ismrmrd_file,
)

MATRIX = 128
COILS = 8
NOISE = 0.05


# ------------------------------------------------------------------------------------------ references


@pytest.fixture(scope="session")
def shepp(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """ISMRMRD's Shepp-Logan files: fully sampled and R=2 interleaved, noise-free and noisy."""
    folder = tmp_path_factory.mktemp("shepp")
    cases = {
        "full_clean": ["-a", "1", "-n", "0"],
        "full_noisy": ["-a", "1", "-n", str(NOISE)],
        "r2_clean": ["-a", "2", "-w", "24", "-n", "0"],
        "r2_noisy": ["-a", "2", "-w", "24", "-n", str(NOISE)],
    }
    paths = {}
    for name, args in cases.items():
        paths[name] = folder / f"{name}.h5"
        run_tool(
            "ismrmrd_generate_cartesian_shepp_logan",
            *("-m", MATRIX, "-c", COILS, "-O", "2", "-C", *args, "-o", paths[name]),
        )
    return paths


def _truth(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The generator's phantom (ny, nx) and coil maps (coils, ny, nx), complex."""
    with h5py.File(path, "r") as f:
        phantom, csm = f["dataset/phantom"][0], f["dataset/csm"][0]
    return phantom["real"] + 1j * phantom["imag"], csm["real"] + 1j * csm["imag"]


def _fit_error(x: np.ndarray, ref: np.ndarray) -> tuple[float, complex]:
    """NRMSE of ``x`` against ``ref`` after a least-squares complex scale, and that scale."""
    scale = np.vdot(x, ref) / np.vdot(x, x)
    return nrmse(scale * x, ref), complex(scale)


def _combined_kspace(scan: Scan) -> torch.Tensor:
    """Average the frames' acquired lines: (slices, coils, ny, nx)."""
    mask = scan.mask.to(torch.complex64)
    return (scan.kspace * mask).sum(1) / mask.sum(1).real.clamp_min(1)


# ------------------------------------------------------------------------------------ Cartesian reading


def test_cartesian_matches_generator_phantom_and_coils(shepp: dict[str, Path]) -> None:
    scan = read_ismrmrd(shepp["full_clean"])
    assert scan.kspace.shape == (1, 1, COILS, MATRIX, MATRIX)  # readout oversampling (256) removed
    assert scan.kspace.dtype == torch.complex64 and scan.is_cartesian
    assert scan.header.recon_matrix == (MATRIX, MATRIX) and scan.header.encoded_matrix == (MATRIX, MATRIX)
    assert scan.header.fov_mm == (300.0, 300.0, 6.0) and scan.header.readout_axis == -1
    assert scan.ismrmrd_info.readout_oversampling == 2.0
    assert bool(scan.mask.all()) and scan.mask.shape == (1, 1, 1, MATRIX, 1)
    phantom, csm = _truth(shepp["full_clean"])
    coil_images = ifft2c(scan.kspace)[0, 0].numpy()
    err, scale = _fit_error(coil_images, phantom * csm)
    assert err < 1e-5 and abs(scale - 1) < 1e-4  # same orientation, per-coil scaling and FFT scaling
    image = rss(ifft2c(scan.kspace))[0, 0].numpy()
    reference = np.abs(phantom) * np.sqrt((np.abs(csm) ** 2).sum(0))
    assert _fit_error(image, reference)[0] < 1e-5
    for wrong in (image.T, image[::-1], image[:, ::-1]):
        assert _fit_error(wrong, reference)[0] > 0.5


def test_noise_scans_give_covariance_at_generator_level(shepp: dict[str, Path]) -> None:
    scan = read_ismrmrd(shepp["full_noisy"])
    assert scan.noise is not None and scan.noise.shape == (COILS, COILS) and scan.noise_samples == 256
    cov = scan.noise.numpy()
    # Independent reference: the noise readouts read with the ismrmrd package, covariance in numpy.
    dset = ismrmrd.Dataset(str(shepp["full_noisy"]), "dataset", create_if_needed=False)
    acq = dset.read_acquisition(0)
    dset.close()
    assert acq.is_flag_set(ismrmrd.ACQ_IS_NOISE_MEASUREMENT)
    x = acq.data.astype(np.complex128)
    np.testing.assert_allclose(cov, x @ x.conj().T / x.shape[1], rtol=1e-4, atol=1e-7)
    diag = np.diag(cov).real
    assert np.allclose(diag, 2 * NOISE**2, rtol=0.2)  # real and imaginary parts each have sd NOISE
    assert np.abs(cov - np.diag(np.diag(cov))).max() < 0.25 * diag.mean()
    # The image error matches what that noise level predicts (noise power over signal power).
    phantom, csm = _truth(shepp["full_noisy"])
    reference = phantom * csm
    err, _ = _fit_error(ifft2c(scan.kspace)[0, 0].numpy(), reference)
    ratio = math.sqrt(np.trace(cov).real * MATRIX * MATRIX) / np.linalg.norm(reference)
    assert err == pytest.approx(ratio / math.sqrt(1 + ratio**2), rel=0.1)


def test_prewhitening_matches_numpy_cholesky(shepp: dict[str, Path]) -> None:
    plain = read_ismrmrd(shepp["r2_noisy"])
    white = read_ismrmrd(shepp["r2_noisy"], prewhiten=True)
    assert white.prewhitened and not plain.prewhitened
    w_ref = np.linalg.inv(np.linalg.cholesky(plain.noise.numpy().astype(np.complex128)))
    expected = np.einsum("cd,sfdyx->sfcyx", w_ref, plain.kspace.numpy())
    np.testing.assert_allclose(white.kspace.numpy(), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        white.acs.numpy(), np.einsum("cd,sfdyx->sfcyx", w_ref, plain.acs.numpy()), rtol=1e-4, atol=1e-4
    )
    w = whitening_matrix(plain.noise)
    torch.testing.assert_close(white.kspace, prewhiten(plain.kspace, w))


def test_interleaved_acceleration_gives_r2_frames_and_acs(shepp: dict[str, Path]) -> None:
    scan = read_ismrmrd(shepp["r2_clean"])
    # The generator writes R=2 as two repetitions with complementary line sets: two frames.
    assert scan.ismrmrd_info.frame_counter == "repetition"
    assert scan.kspace.shape == (1, 2, COILS, MATRIX, MATRIX) and scan.header.acceleration == (2, 1)
    lines = scan.mask[0, :, 0, :, 0]
    assert lines.float().mean(dim=1).tolist() == [0.5, 0.5]
    assert bool((lines[0] ^ lines[1]).all())  # complementary: together fully sampled
    assert scan.acceleration_estimate() == pytest.approx(2.0)
    phantom, csm = _truth(shepp["r2_clean"])
    combined = ifft2c(_combined_kspace(scan))[0].numpy()
    assert _fit_error(combined, phantom * csm)[0] < 1e-5
    one_frame = ifft2c(scan.kspace[0, 0] * scan.mask[0, 0]).numpy()
    assert _fit_error(one_frame, phantom * csm)[0] > 0.3  # R=2 aliasing in a single frame
    # Separate calibration: the 24 central lines, equal to the fully sampled data there.
    acs_lines = scan.ismrmrd_info.acs_mask[0, 0, 0, :, 0]
    assert scan.acs.shape == (1, 1, COILS, MATRIX, MATRIX)
    assert torch.nonzero(acs_lines).ravel().tolist() == list(range(52, 76))
    full = read_ismrmrd(shepp["full_clean"]).kspace[0, 0]
    acs = scan.acs[0, 0]
    assert nrmse(acs[:, acs_lines].numpy(), full[:, acs_lines].numpy()) < 1e-5
    assert float(acs[:, ~acs_lines].abs().max()) == 0.0


# ------------------------------------------------------------------------------------------ radial (BART)


@pytest.fixture(scope="session")
def bart_radial(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """BART radial trajectory (201 spokes, 2x oversampled readout), analytic k-space and phantoms."""
    folder = tmp_path_factory.mktemp("bart")
    bart("traj", "-r", "-x", MATRIX, "-o", "2", "-y", "201", folder / "t")
    bart("phantom", "-k", "-s", COILS, "-t", folder / "t", folder / "k")
    bart("phantom", "-x", MATRIX, folder / "img")
    bart("phantom", "-x", MATRIX, "-s", COILS, folder / "coil_img")
    bart("phantom", "-k", "-x", MATRIX, "-s", COILS, folder / "cart_k")
    bart("traj", "-r", "-G", "-x", MATRIX, "-o", "2", "-y", "60", folder / "tg")
    bart("phantom", "-k", "-s", COILS, "-t", folder / "tg", folder / "kg")
    bart("traj", "-r", "-x", 2 * MATRIX, "-y", "64", folder / "t_wide")
    bart("phantom", "-k", "-s", COILS, "-t", folder / "t_wide", folder / "k_wide")
    return {
        name: read_cfl(folder / name)
        for name in ("t", "k", "img", "coil_img", "cart_k", "tg", "kg", "t_wide", "k_wide")
    }


def _spokes(traj: np.ndarray, kspace: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BART (3, samples, spokes) and (1, samples, spokes, coils) -> (spokes, samples, 2) kx,ky and
    (spokes, coils, samples). BART dimension 0 of the trajectory is x (readout of the image grid)."""
    points = np.ascontiguousarray(traj.real[:2].transpose(2, 1, 0), dtype=np.float32)
    data = np.ascontiguousarray(kspace[0].transpose(1, 2, 0), dtype=np.complex64)
    return points, data


def _write_radial(
    path: Path, points: np.ndarray | None, data: np.ndarray, frames: np.ndarray | None = None
) -> Path:
    """An ISMRMRD radial file written with the ismrmrd package (one acquisition per spoke)."""

    def spokes() -> Iterator[object]:
        for i in range(data.shape[0]):
            acq = ismrmrd.Acquisition.from_array(data[i], None if points is None else points[i])
            acq.idx.kspace_encode_step_1 = i
            acq.idx.phase = 0 if frames is None else int(frames[i])
            yield acq

    xml = ismrmrd_header_xml((MATRIX, MATRIX, 1), (256.0, 256.0, 8.0), "radial")
    return write_ismrmrd_file(path, xml, spokes())


def _grid_rss(scan: Scan, frame: int = 0) -> tuple[np.ndarray, torch.Tensor]:
    """Gridded RSS image (ny, nx) and coil images (coils, ny, nx) of one frame (Pipe-Menon DCF)."""
    traj = scan.traj[0, frame][None]
    dcf = pipe_menon_dcf(traj, scan.image_shape)
    coils = nufft_adjoint(scan.kspace[0, frame][None], traj, scan.image_shape, dcf)[0]
    return rss(coils).numpy(), coils


def _cartesian_bart_coils(cart_k: np.ndarray) -> np.ndarray:
    """BART's analytic Cartesian k-space (x, y, 1, coils) -> band-limited coil images (coils, y, x)."""
    k = torch.from_numpy(np.ascontiguousarray(cart_k[:, :, 0, :].transpose(2, 1, 0)))
    return ifft2c(k).numpy()


def test_radial_bart_sample_units_matches_bart_phantoms(
    bart_radial: dict[str, np.ndarray], tmp_path: Path
) -> None:
    points, data = _spokes(bart_radial["t"], bart_radial["k"])
    scan = read_ismrmrd(_write_radial(tmp_path / "radial.h5", points, data))
    assert not scan.is_cartesian and scan.header.trajectory == "radial"
    assert scan.ismrmrd_info.traj_units == "samples" and scan.readout_length == 256
    assert scan.kspace.shape == (1, 1, COILS, 201 * 256) and scan.traj.shape == (1, 1, 2, 201 * 256)
    # traj is (ky, kx) in radians/voxel: BART's y and x coordinates times 2 pi / N.
    expected = np.stack([points[..., 1].ravel(), points[..., 0].ravel()]) * 2 * math.pi / MATRIX
    np.testing.assert_allclose(scan.traj[0, 0].numpy(), expected, atol=1e-5)
    image, coils = _grid_rss(scan)
    # Against BART's band-limited truth (its analytic Cartesian k-space): coil by coil and RSS.
    cart_coils = _cartesian_bart_coils(bart_radial["cart_k"])
    err, scale = _fit_error(coils.numpy(), cart_coils)
    assert err < 0.12 and abs(scale - 1) < 0.05
    assert correlation(image, rss(torch.from_numpy(cart_coils)).numpy()) > 0.99
    # Against BART's image-domain phantoms: our image (y, x) is BART's (x, y) transposed.
    coil_rss = np.sqrt((np.abs(bart_radial["coil_img"]) ** 2).sum(axis=-1))[:, :, 0].T
    plain = np.abs(bart_radial["img"]).T
    assert correlation(image, coil_rss) > 0.95 and correlation(image, plain) > 0.9
    for wrong in (coil_rss.T, coil_rss[::-1], coil_rss[:, ::-1]):
        assert correlation(image, wrong) < 0.8


def test_radial_normalised_units_equal_sample_units(
    bart_radial: dict[str, np.ndarray], tmp_path: Path
) -> None:
    points, data = _spokes(bart_radial["t"], bart_radial["k"])
    in_samples = read_ismrmrd(_write_radial(tmp_path / "samples.h5", points, data))
    normalised = read_ismrmrd(_write_radial(tmp_path / "normalised.h5", points / MATRIX, data))
    assert normalised.ismrmrd_info.traj_units == "normalised"
    torch.testing.assert_close(normalised.traj, in_samples.traj, atol=1e-5, rtol=0)
    torch.testing.assert_close(normalised.kspace, in_samples.kspace)
    forced = read_ismrmrd(tmp_path / "normalised.h5", traj_units="normalised")
    torch.testing.assert_close(forced.traj, normalised.traj, rtol=0, atol=0)
    with pytest.raises(UsageError):
        read_ismrmrd(tmp_path / "normalised.h5", traj_units="cycles")


def test_radial_golden_angle_frames_from_phase(bart_radial: dict[str, np.ndarray], tmp_path: Path) -> None:
    points, data = _spokes(bart_radial["tg"], bart_radial["kg"])  # 60 golden-angle spokes
    frames = np.repeat(np.arange(5), 12)
    scan = read_ismrmrd(_write_radial(tmp_path / "ga.h5", points, data, frames))
    assert scan.ismrmrd_info.frame_counter == "phase"
    assert scan.kspace.shape == (1, 5, COILS, 12 * 256) and scan.traj.shape == (1, 5, 2, 12 * 256)
    for f in range(5):
        p = points[12 * f : 12 * (f + 1)]
        expected = np.stack([p[..., 1].ravel(), p[..., 0].ravel()]) * 2 * math.pi / MATRIX
        np.testing.assert_allclose(scan.traj[0, f].numpy(), expected, atol=1e-5)
        np.testing.assert_array_equal(
            scan.kspace[0, f].numpy(), data[12 * f : 12 * (f + 1)].transpose(1, 0, 2).reshape(COILS, -1)
        )
    # One frame with an extra spoke: frames are cut to the smallest frame, and the reader says so.
    uneven = np.r_[frames, 0]
    path = _write_radial(tmp_path / "uneven.h5", np.r_[points, points[:1]], np.r_[data, data[:1]], uneven)
    scan = read_ismrmrd(path)
    assert scan.kspace.shape == (1, 5, COILS, 12 * 256)
    assert any("only the first 12 of each" in g for g in scan.guesses)


def test_radial_samples_beyond_pi_are_dropped(bart_radial: dict[str, np.ndarray], tmp_path: Path) -> None:
    # 256 samples at unit spacing (-127.5..127.5) for a 128 matrix: only the central 128 fit in [-pi, pi].
    points, data = _spokes(bart_radial["t_wide"], bart_radial["k_wide"])
    scan = read_ismrmrd(_write_radial(tmp_path / "wide.h5", points, data))
    assert any("128 of 256 samples per readout" in g for g in scan.guesses)
    assert scan.readout_length == 128 and scan.ismrmrd_info.dropped_samples == 128
    assert float(scan.traj.abs().max()) < math.pi
    kept = np.abs(points[0, :, 1]) <= MATRIX / 2  # spoke 0 runs along y
    np.testing.assert_array_equal(scan.kspace[0, 0, :, :128].numpy(), data[0][:, kept])


# ----------------------------------------------------------------------------------------- bad inputs


def _header_xml(trajectory: str = "cartesian", z: int = 1) -> str:
    return ismrmrd_header_xml((16, 8, z), (100, 100, 5), trajectory)


def _write_lines(path: Path, xml: str, lines: list[tuple[np.ndarray, int, int]]) -> None:
    """ISMRMRD file with readouts (data (coils, samples), line, flags) written by the ismrmrd package."""

    def readouts() -> Iterator[object]:
        for data, line, flags in lines:
            acq = ismrmrd.Acquisition.from_array(data.astype(np.complex64))
            acq.idx.kspace_encode_step_1 = line
            acq.center_sample = data.shape[1] // 2
            acq.flags = flags
            yield acq

    write_ismrmrd_file(path, xml, readouts())


def _line(samples: int = 16, value: complex = 1.0) -> np.ndarray:
    return np.full((2, samples), value, np.complex64)


NOISE_FLAG = 1 << (ismrmrd.ACQ_IS_NOISE_MEASUREMENT - 1)
BAD_INPUTS = {
    "no acquisitions": (_header_xml(), [], "no acquisitions"),
    "only noise": (_header_xml(), [(_line(), 0, NOISE_FLAG)], "only noise"),
    "radial without trajectories": (_header_xml("radial"), [(_line(), 0, 0)], "without trajectories"),
    "NaN samples": (_header_xml(), [(_line(), 0, 0), (_line(value=np.nan), 1, 0)], "NaN"),
    "inconsistent sample counts": (_header_xml(), [(_line(16), 0, 0), (_line(8), 1, 0)], "sample counts"),
    "3D": (_header_xml(z=4), [(_line(), 0, 0)], "3D"),
    "unparsable XML": ("<ismrmrdHeader><encoding>", [(_line(), 0, 0)], "XML"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_inputs_raise_input_data_error(case: str, tmp_path: Path) -> None:
    xml, lines, message = BAD_INPUTS[case]
    path = tmp_path / "bad.h5"
    _write_lines(path, xml, lines)
    if not lines:  # the ismrmrd package creates no table until the first readout; make an empty one
        with h5py.File(path, "a") as f:
            f["dataset"].create_dataset("data", (0,), maxshape=(None,), dtype=ismrmrd.hdf5.acquisition_dtype)
    with pytest.raises(InputDataError, match=message) as info:
        read_ismrmrd(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_dataset_group_raises_input_data_error(tmp_path: Path) -> None:
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.create_group("something_else")
    with pytest.raises(InputDataError, match="no ISMRMRD dataset group"):
        read_ismrmrd(path)
    with pytest.raises(InputDataError, match="cannot open"):
        read_ismrmrd(tmp_path / "missing.h5")


# ------------------------------------------------------------------------------------------ writing


def test_write_round_trip_cartesian_with_mask(shepp: dict[str, Path], tmp_path: Path) -> None:
    scan = read_ismrmrd(shepp["r2_noisy"])
    header = dataclasses.replace(
        scan.header,
        patient={**scan.header.patient, "name": "Doe^Jane", "id": "P001", "birth_date": "1980-02-03",
                 "sex": "F", "weight_kg": "61.5"},
        study={**scan.header.study, "date": "2024-01-02", "time": "10:15:00", "id": "S1",
               "description": "phantom study"},
        series={**scan.header.series, "description": "cine", "protocol_name": "bssfp", "date": "2024-01-02",
                "time": "10:20:00"},
        sequence={**scan.header.sequence, "TR_ms": 3.2, "TE_ms": 1.4, "flip_deg": 50.0, "field_T": 1.5},
        frame_time_ms=40.0,
    )  # fmt: skip
    scan = dataclasses.replace(scan, header=header)
    path = write_ismrmrd(tmp_path / "out.h5", scan)
    back = read_ismrmrd(path)
    torch.testing.assert_close(back.kspace, scan.kspace * scan.mask, rtol=0, atol=1e-6)
    assert torch.equal(back.mask, scan.mask)
    torch.testing.assert_close(back.acs, scan.acs, rtol=0, atol=1e-6)
    torch.testing.assert_close(back.noise, scan.noise, rtol=1e-4, atol=1e-7)
    assert back.noise_samples == scan.noise_samples
    for name in ("recon_matrix", "fov_mm", "acceleration", "trajectory", "frame_time_ms", "patient", "study"):
        assert getattr(back.header, name) == getattr(scan.header, name), name
    assert back.header.series == {**scan.header.series, "patient_position": "HFS"}
    assert back.header.sequence == scan.header.sequence
    # The ismrmrd package and ISMRMRD's C++ XML parser accept what we wrote.
    dset = ismrmrd.Dataset(str(path), "dataset", create_if_needed=False)
    assert dset.read_acquisition(1).data.shape == (COILS, MATRIX)
    xml = dset.read_xml_header()
    dset.close()
    (tmp_path / "h.xml").write_bytes(xml)
    tool = require_tool("ismrmrd_test_xml")  # writes the C++ library's re-serialised header to cwd
    subprocess.run([tool, "h.xml"], check=True, capture_output=True, cwd=tmp_path)
    cpp = xsd.CreateFromDocument((tmp_path / "processed.xml").read_bytes())
    assert cpp.subjectInformation.patientName == "Doe^Jane"
    assert cpp.encoding[0].reconSpace.matrixSize.x == MATRIX
    with pytest.raises(OutputExistsError):
        write_ismrmrd(path, scan)


def test_written_cartesian_file_reconstructs_in_ismrmrd_cpp(shepp: dict[str, Path], tmp_path: Path) -> None:
    scan = read_ismrmrd(shepp["full_clean"])
    path = write_ismrmrd(tmp_path / "full.h5", scan)
    run_tool("ismrmrd_recon_cartesian_2d", path)
    with h5py.File(path, "r") as f:
        cpp = np.asarray(f["dataset/cpp/data"]).reshape(MATRIX, MATRIX)
    ours = rss(ifft2c(scan.kspace))[0, 0].numpy()
    assert _fit_error(cpp, ours)[0] < 1e-4


def test_write_round_trip_radial(bart_radial: dict[str, np.ndarray], tmp_path: Path) -> None:
    points, data = _spokes(bart_radial["tg"], bart_radial["kg"])
    scan = read_ismrmrd(_write_radial(tmp_path / "in.h5", points, data, np.repeat(np.arange(5), 12)))
    back = read_ismrmrd(write_ismrmrd(tmp_path / "out.h5", scan))
    assert back.ismrmrd_info.traj_units == "normalised" and back.ismrmrd_info.frame_counter == "phase"
    assert back.readout_length == scan.readout_length and back.header.trajectory == "radial"
    torch.testing.assert_close(back.kspace, scan.kspace, rtol=0, atol=0)
    torch.testing.assert_close(back.traj, scan.traj, rtol=0, atol=1e-6)
    assert back.header.recon_matrix == scan.header.recon_matrix and back.header.fov_mm == scan.header.fov_mm


def test_write_round_trip_multislice_geometry(tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(7)
    kspace = torch.randn(2, 3, 4, 16, 12, dtype=torch.complex64, generator=gen)
    mask = torch.rand(1, 3, 1, 16, 1, generator=gen) < 0.5
    mask[..., 8, :] = True
    normal = (0.0, 0.6, 0.8)
    geometry = [
        SliceGeometry((1.0, 2.0 + 0.6 * 5 * s, 3.0 + 0.8 * 5 * s), (1.0, 0.0, 0.0), (0.0, 0.8, -0.6), normal)
        for s in range(2)
    ]
    header = ScanHeader(
        recon_matrix=(16, 12),
        encoded_matrix=(16, 12),
        fov_mm=(200.0, 150.0, 4.0),
        geometry=geometry,
        frame_time_ms=50.0,
    )
    scan = Scan(kspace=kspace * mask, header=header, source=Path("synthetic"), format="ismrmrd", mask=mask)
    back = read_ismrmrd(write_ismrmrd(tmp_path / "ms.h5", scan))
    torch.testing.assert_close(back.kspace, scan.kspace, rtol=0, atol=0)
    assert torch.equal(back.mask, mask)
    assert back.header.slice_spacing_mm == pytest.approx(5.0)
    for got, want in zip(back.header.geometry, geometry, strict=True):
        np.testing.assert_allclose(
            np.array([got.position, got.read_dir, got.phase_dir, got.slice_dir]),
            np.array([want.position, want.read_dir, want.phase_dir, want.slice_dir]),
            atol=1e-5,
        )
    assert back.header.frame_time_ms == 50.0


def test_frame_time_from_time_stamps(tmp_path: Path) -> None:
    dset = ismrmrd.Dataset(str(tmp_path / "t.h5"), "dataset", create_if_needed=True)
    dset.write_xml_header(_header_xml())
    for frame in range(3):
        for line in range(8):
            acq = ismrmrd.Acquisition.from_array(_line())
            acq.idx.kspace_encode_step_1, acq.idx.phase = line, frame
            acq.center_sample = 8
            acq.acquisition_time_stamp = 1000 + 20 * frame + line  # 20 ticks = 50 ms per frame
            dset.append_acquisition(acq)
    dset.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scan = read_ismrmrd(tmp_path / "t.h5")
    assert scan.n_frames == 3 and scan.header.frame_time_ms == pytest.approx(50.0)

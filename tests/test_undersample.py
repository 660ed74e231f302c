"""Retrospective undersampling (``recon simulate-mask --apply-to``): round trips through both formats.

Inputs are written here with ``write_fastmri`` and ``write_ismrmrd`` and read back with ``read_scan``;
references are recomputed with numpy's FFT, masks come from the written files themselves.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import ismrmrd
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from recon_cli import phantoms
from recon_cli.cli.main import app
from recon_cli.errors import InputDataError, OutputExistsError, UsageError
from recon_cli.io.detect import read_scan
from recon_cli.io.fastmri import fastmri_header_xml, write_fastmri
from recon_cli.io.ismrmrd_write import write_ismrmrd
from recon_cli.ops.functional import fft2c, ifft2c, rss
from recon_cli.ops.nufft import NonCartesianSense, ramp_dcf
from recon_cli.sampling import PatternSpec, golden_angle_radial
from recon_cli.sampling.undersample import input_acceleration, undersample_file, undersample_scan

CARTESIAN = ("random", "equispaced", "random-2d", "poisson", "pseudo-radial")
ONE_D = ("random", "equispaced")


def np_reference(kspace: torch.Tensor, matrix: tuple[int, int]) -> np.ndarray:
    """fastMRI's recipe with numpy: centre crop of rss(ifft2c(kspace)). kspace (s, f, c, ny, nx)."""
    k = kspace.numpy()
    image = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    magnitude = np.sqrt((np.abs(image) ** 2).sum(axis=2))
    r0, c0 = (magnitude.shape[-2] - matrix[0]) // 2, (magnitude.shape[-1] - matrix[1]) // 2
    return magnitude[..., r0 : r0 + matrix[0], c0 : c0 + matrix[1]]


def smooth_phantom(n: int) -> torch.Tensor:
    """Shepp-Logan band-limited by a Gaussian k-space window (sd n / 4): an object of finite resolution,
    so radial sampling (which leaves out k-space's corners) can represent it. (n, n) complex64."""
    k = torch.arange(n) - n // 2
    window = torch.exp(-(k[:, None] ** 2 + k[None] ** 2) / (2 * (n / 4) ** 2))
    return ifft2c(fft2c(phantoms.shepp_logan(n).to(torch.complex64)) * window)


def _fastmri_file(path: Path, pad: int = 0) -> Path:
    """2 slices, 4 coils, 64 rows (2x readout oversampling, recon 32 x 32), 40 columns; ``pad`` zero
    columns at each edge (as fastMRI's zero-padded k-space)."""
    image = smooth_phantom(64)
    x = torch.zeros(2, 64, 40, dtype=torch.complex64)
    x[0, :, 4:36] = image[:, 16:48]
    x[1, :, 4:36] = 0.7 * image[:, 16:48].flip(-1)
    kspace = fft2c(x[:, None] * phantoms.coil_maps(4, (64, 40)))
    if pad:
        kspace[..., :pad] = 0
        kspace[..., -pad:] = 0
    xml = fastmri_header_xml(
        (64, 40), (32, 32), (440.0, 220.0, 5.0), (220.0, 220.0, 5.0), n_coils=4, patient_id="p7"
    )
    return write_fastmri(path, kspace, header_xml=xml, attrs={"acquisition": "CORPD_FBK", "patient_id": "p7"})


@pytest.fixture(scope="module")
def fastmri_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _fastmri_file(tmp_path_factory.mktemp("fastmri") / "full.h5")


@pytest.fixture(scope="module")
def ismrmrd_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 slice, 3 frames (intensity changing), 4 coils, 32 x 32, noisy, with a noise scan."""
    image = smooth_phantom(32)
    frames = torch.stack([image * (1.0 + 0.1 * f) for f in range(3)])[None]
    scan = phantoms.simulate_cartesian(
        frames, phantoms.coil_maps(4, (32, 32)), snr=40.0, generator=3, noise_samples=64, frame_time_ms=40.0
    )
    return write_ismrmrd(tmp_path_factory.mktemp("ismrmrd") / "full.h5", scan)


def _acquisitions(path: Path) -> tuple[int, int]:
    """(imaging, noise) acquisitions in an ISMRMRD file."""
    with h5py.File(path) as f:
        flags = f["dataset/data"].fields("head")[:]["flags"].astype(np.uint64)
    noise = (flags & np.uint64(1 << (ismrmrd.ACQ_IS_NOISE_MEASUREMENT - 1))) != 0
    return int((~noise).sum()), int(noise.sum())


@pytest.mark.parametrize("kind", CARTESIAN)
def test_fastmri_round_trip(fastmri_file: Path, tmp_path: Path, kind: str) -> None:
    original = read_scan(fastmri_file)
    result = undersample_file(fastmri_file, tmp_path / "u.h5", PatternSpec(kind=kind, fraction=0.3, seed=2))
    assert result.format == "fastmri" and result.input_acceleration == 1.0
    under = read_scan(result.path)
    assert under.format == "fastmri" and under.kspace.shape == original.kspace.shape
    with h5py.File(result.path) as f:
        assert ("mask" in f) == (kind in ONE_D) and ("sampling_mask" in f) == (kind not in ONE_D)
        mask = f["mask"][()][None, :] if kind in ONE_D else f["sampling_mask"][()]
        assert round(float(f.attrs["acceleration"]), 6) == round(1 / 0.3, 6)
    assert torch.equal(under.kspace, original.kspace * torch.from_numpy(mask))
    if kind in ONE_D:
        assert torch.equal(under.mask, torch.from_numpy(mask).reshape(1, 1, 1, 1, -1))
        assert under.acceleration_estimate() == pytest.approx(result.acceleration)
    assert mask.mean() == pytest.approx(result.sampled_fraction)
    assert abs(result.sampled_fraction - 0.3) < 0.06
    assert under.header.recon_matrix == original.header.recon_matrix == (32, 32)
    assert under.header.patient.get("id") == "p7" and under.header.acceleration == (3, 1)
    expected = np_reference(original.kspace, (32, 32))
    np.testing.assert_allclose(under.reference.numpy(), expected, rtol=1e-4, atol=1e-5 * expected.max())


@pytest.mark.parametrize("kind", CARTESIAN)
def test_ismrmrd_round_trip(ismrmrd_file: Path, tmp_path: Path, kind: str) -> None:
    original = read_scan(ismrmrd_file)
    result = undersample_file(ismrmrd_file, tmp_path / "u.h5", PatternSpec(kind=kind, acceleration=3, seed=1))
    assert result.format == "ismrmrd"
    under = read_scan(result.path)
    with h5py.File(result.path) as f:
        assert ("sampling_mask" in f["dataset"]) == (kind not in ONE_D)
        recorded = f["dataset/sampling_mask"][()][:, :, None] if kind not in ONE_D else None
    mask = under.mask if recorded is None else torch.from_numpy(recorded)
    assert torch.equal(under.kspace, original.kspace * mask)
    full = torch.broadcast_to(mask, (1, 3, 1, 32, 32))
    assert float(full.float().mean()) == pytest.approx(result.sampled_fraction)
    assert not torch.equal(full[:, 0], full[:, 1])  # a new draw (pseudo-radial: rotation) per frame
    if kind in ONE_D:  # lines are the rows (ISMRMRD's phase encoding); only they are written
        assert under.mask.shape == (1, 3, 1, 32, 1)
        assert _acquisitions(result.path) == (int(under.mask.sum()), 1)
    np.testing.assert_allclose(under.noise.numpy(), original.noise.numpy(), rtol=1e-4, atol=1e-6)
    expected = np_reference(original.kspace, (32, 32))
    np.testing.assert_allclose(under.reference.numpy(), expected, rtol=1e-4, atol=1e-5 * expected.max())


@pytest.mark.parametrize(("source", "kind"), [("ismrmrd", "golden-angle"), ("fastmri", "tiny-golden-angle")])
def test_radial_from_cartesian(
    request: pytest.FixtureRequest, tmp_path: Path, source: str, kind: str
) -> None:
    path = request.getfixturevalue(f"{source}_file")
    original = read_scan(path)
    frames, slices = original.n_frames, original.n_slices
    result = undersample_file(path, tmp_path / "radial.h5", PatternSpec(kind=kind, spokes=24))
    assert result.format == "ismrmrd"
    under = read_scan(result.path)
    assert not under.is_cartesian and under.readout_length == 64
    assert under.kspace.shape == (slices, frames, 4, 24 * 64)
    expected_traj = golden_angle_radial(
        24, frames, 64, tiny_golden_index=7 if kind.startswith("tiny") else None
    )
    np.testing.assert_allclose(under.traj[0].numpy(), expected_traj, atol=1e-6)
    reference = np_reference(original.kspace, (32, 32))
    np.testing.assert_allclose(under.reference.numpy(), reference, rtol=1e-4, atol=1e-5 * reference.max())
    # gridding all spokes of all frames together recovers the (frame-averaged) reference
    traj = under.traj[0].permute(1, 0, 2).reshape(2, -1)[None]
    op = NonCartesianSense(4, (32, 32), traj, dcf=ramp_dcf(traj, (32, 32)))
    for s in range(slices):
        pooled = under.kspace[s].permute(1, 0, 2).reshape(4, -1)[None]
        image = rss(op.gridding(pooled))[0].numpy()
        assert np.corrcoef(image.ravel(), reference[s].mean(0).ravel())[0, 1] > 0.95


def test_refuses_undersampled_input_unless_forced(ismrmrd_file: Path, tmp_path: Path) -> None:
    for kind in ("random", "random-2d"):  # visible in the mask / only in the recorded attribute
        first = undersample_file(
            ismrmrd_file, tmp_path / f"{kind}1.h5", PatternSpec(kind=kind, acceleration=2)
        )
        with pytest.raises(InputDataError, match="already undersampled"):
            undersample_file(first.path, tmp_path / f"{kind}2.h5", PatternSpec(kind="random", acceleration=2))
        assert not (tmp_path / f"{kind}2.h5").exists()
    spec = PatternSpec(kind="random", acceleration=2, seed=9)
    second = undersample_file(tmp_path / "random1.h5", tmp_path / "again.h5", spec, force=True)
    once, twice = read_scan(tmp_path / "random1.h5"), read_scan(second.path)
    assert second.input_acceleration > 1.5
    assert not torch.any(twice.mask & ~once.mask)  # the new mask lies within the old one
    assert second.sampled_fraction < 0.75 / first.acceleration


def test_refuses_radial_input(ismrmrd_file: Path, tmp_path: Path) -> None:
    radial = undersample_file(ismrmrd_file, tmp_path / "r.h5", PatternSpec(kind="golden-angle", spokes=8))
    with pytest.raises(InputDataError, match="non-Cartesian"):
        undersample_file(
            radial.path, tmp_path / "x.h5", PatternSpec(kind="random", acceleration=2), force=True
        )


def test_zero_padded_columns_are_not_undersampling(tmp_path: Path) -> None:
    path = _fastmri_file(tmp_path / "padded.h5", pad=3)
    scan = read_scan(path)
    assert scan.acceleration_estimate() > 1.05 and input_acceleration(scan) == 1.0
    result = undersample_file(path, tmp_path / "u.h5", PatternSpec(kind="equispaced", acceleration=4))
    with h5py.File(result.path) as f:
        mask = f["mask"][()]
    assert not mask[:3].any() and not mask[-3:].any()  # padding stays unsampled


def test_undersample_scan_in_memory() -> None:
    scan = phantoms.simulate_cartesian(phantoms.shepp_logan(32), phantoms.coil_maps(2, (32, 32)), snr=None)
    before = scan.kspace.clone()
    under = undersample_scan(scan, PatternSpec(kind="poisson", acceleration=3, seed=4))
    mask = torch.from_numpy(under.pattern)[None, :, None]
    assert torch.equal(under.scan.kspace, before * mask) and torch.equal(under.scan.mask, mask)
    assert torch.equal(scan.kspace, before) and scan.mask is None  # the input is left alone
    assert under.acceleration == pytest.approx(3, rel=0.02)
    np.testing.assert_allclose(
        under.scan.reference.numpy(), np_reference(before, (32, 32)), rtol=1e-4, atol=1e-6
    )


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        (PatternSpec(kind="random", shape=(32, 32), acceleration=4), "--shape"),
        (PatternSpec(kind="random", frames=2, acceleration=4), "frames"),
        (PatternSpec(kind="golden-angle", matrix=32, spokes=8), "--matrix"),
        (PatternSpec(kind="spiral", acceleration=4), "unknown kind"),
    ],
)
def test_spec_conflicts_with_scan(ismrmrd_file: Path, tmp_path: Path, spec: PatternSpec, error: str) -> None:
    with pytest.raises(UsageError, match=error):
        undersample_file(ismrmrd_file, tmp_path / "u.h5", spec)
    assert not (tmp_path / "u.h5").exists()


# --- the command ----------------------------------------------------------------------------------------

runner = CliRunner()


def test_command_apply_to(fastmri_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "u.h5"
    args = [
        "simulate-mask",
        "--apply-to",
        str(fastmri_file),
        "--out",
        str(out),
        "-k",
        "equispaced",
        "-R",
        "4",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "acceleration" in result.output and "fastmri" in result.output
    assert read_scan(out).mask is not None
    before = out.read_bytes()
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "already exists" in again.output
    assert out.read_bytes() == before  # not overwritten
    assert runner.invoke(app, [*args, "--overwrite", "--seed", "5"]).exit_code == 0
    again_args = ["simulate-mask", "--apply-to", str(out), "--out", str(tmp_path / "v.h5"), "-R", "2"]
    refused = runner.invoke(app, again_args)
    assert refused.exit_code == 3 and "already undersampled" in refused.output
    assert len(refused.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        (["--apply-to", "{missing}", "--out", "{out}", "-R", "4"], 3),
        (["--apply-to", "{scan}", "--out", "{out}", "-R", "4", "--shape", "32,32"], 2),
        (["--apply-to", "{scan}", "-R", "4"], 2),  # no --out
        (["--apply-to", "{scan}", "--out", "{out}", "-R", "4", "--frames", "2"], 2),
        (["--apply-to", "{scan}", "--out", "{dir}/u.txt", "-R", "4"], 2),
        (["--apply-to", "{scan}", "--out", "{out}", "-R", "4", "--fraction", "0.25"], 2),
        (
            [
                "--apply-to",
                "{scan}",
                "--out",
                "{out}",
                "-k",
                "golden-angle",
                "--matrix",
                "32",
                "--spokes",
                "8",
            ],
            2,
        ),
        (["--apply-to", "{scan}", "--out", "{out}", "-k", "poisson"], 2),  # no acceleration
    ],
)
def test_command_apply_to_errors(ismrmrd_file: Path, tmp_path: Path, extra: list[str], code: int) -> None:
    names = {"missing": tmp_path / "nope.h5", "out": tmp_path / "u.h5", "scan": ismrmrd_file, "dir": tmp_path}
    result = runner.invoke(app, ["simulate-mask", *(a.format(**names) for a in extra)])
    assert result.exit_code == code, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "u.h5").exists() and not (tmp_path / "u.txt").exists()


def test_output_exists_is_checked_before_reading(ismrmrd_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "u.h5"
    out.write_bytes(b"keep")
    with pytest.raises(OutputExistsError):
        undersample_file(ismrmrd_file, out, PatternSpec(kind="random", acceleration=4))
    assert out.read_bytes() == b"keep"


@pytest.mark.parametrize("which", ["fastmri", "ismrmrd"])
def test_two_d_patterns_read_back_as_the_scan_mask(
    fastmri_file: Path, ismrmrd_file: Path, tmp_path: Path, which: str
) -> None:
    """A Poisson-disc copy reads back with its 2-D mask: zeros inside sampled lines count as unsampled."""
    source = fastmri_file if which == "fastmri" else ismrmrd_file
    out = undersample_file(
        source, tmp_path / "p.h5", PatternSpec(kind="poisson", acceleration=4, seed=3)
    ).path
    scan = read_scan(out)
    assert scan.mask is not None and scan.mask.shape[-2:] == scan.kspace.shape[-2:]
    assert scan.acceleration_estimate() == pytest.approx(4, rel=0.1)
    unsampled = ~torch.broadcast_to(scan.mask, scan.kspace.shape)
    assert float(scan.kspace[unsampled].abs().max()) == 0.0


def test_a_leniently_parsed_header_is_kept_and_was_a_reader_guess(tmp_path: Path) -> None:
    """An XML header that breaks the schema is parsed by the readers' one parser, reported as a guess,
    and the undersampled copy keeps what it says (it used to be replaced by a blank header)."""
    x = torch.zeros(1, 64, 40, dtype=torch.complex64)
    x[0, :, 4:36] = smooth_phantom(64)[:, 16:48]
    kspace = fft2c(x[:, None] * phantoms.coil_maps(2, (64, 40)))
    xml = fastmri_header_xml(
        (64, 40), (32, 32), (440.0, 220.0, 5.0), (220.0, 220.0, 5.0), n_coils=2, patient_id="p9",
        protocol_name="AXT2_LENIENT",
    )  # fmt: skip
    xml = xml.replace("</ismrmrdHeader>", "<vendorSection><knob>1</knob></vendorSection></ismrmrdHeader>")
    source = write_fastmri(tmp_path / "lenient.h5", kspace, header_xml=xml)
    assert any("breaks the ISMRMRD schema" in g for g in read_scan(source).guesses)
    result = undersample_file(source, tmp_path / "u.h5", PatternSpec(kind="equispaced", fraction=0.5, seed=1))
    under = read_scan(result.path)
    assert not any("schema" in g for g in under.guesses)
    assert (
        under.header.patient.get("id") == "p9" and under.header.series.get("protocol_name") == "AXT2_LENIENT"
    )
    assert under.header.sequence.get("field_T") == 3.0 and under.kspace.shape == (1, 1, 2, 32, 40)

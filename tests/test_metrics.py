"""Metrics against scikit-image, fastMRI and a direct LoG; the evaluate command end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from scipy.signal import convolve2d
from skimage.metrics import normalized_root_mse, peak_signal_noise_ratio, structural_similarity
from typer.testing import CliRunner

from recon_cli.cli.main import app
from recon_cli.metrics import METRIC_DEFINITIONS, METRIC_NAMES, compute_metrics, hfen, nmse, nrmse, psnr, ssim

runner = CliRunner()


def _pair(shape: tuple[int, ...] = (2, 3, 40, 48), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth-ish positive reference and a noisy, slightly blurred recon of it."""
    rng = np.random.default_rng(seed)
    y, x = np.meshgrid(np.linspace(-1, 1, shape[-2]), np.linspace(-1, 1, shape[-1]), indexing="ij")
    blob = (x**2 / 0.6 + y**2 / 0.8 < 1).astype(np.float64) + 0.5 * ((x - 0.2) ** 2 + y**2 < 0.1)
    ref = blob * (1 + 0.2 * rng.random(shape)) + 0.05 * rng.random(shape)
    recon = np.abs(ref + 0.08 * rng.standard_normal(shape))
    return ref, recon


def _log_kernel(sigma: float = 1.5, size: int = 15) -> np.ndarray:
    """Laplacian of a Gaussian from its formula, (r^2 - 2 sigma^2) / sigma^4 exp(-r^2 / 2 sigma^2)."""
    half = size // 2
    yy, xx = np.meshgrid(np.arange(-half, half + 1), np.arange(-half, half + 1), indexing="ij")
    r2 = (xx**2 + yy**2).astype(np.float64)
    return (r2 - 2 * sigma**2) / sigma**4 * np.exp(-r2 / (2 * sigma**2))


def _hfen_direct(ref: np.ndarray, recon: np.ndarray, kernel: np.ndarray) -> float:
    def log(images: np.ndarray) -> np.ndarray:
        flat = images.reshape(-1, *images.shape[-2:])
        return np.stack([convolve2d(im, kernel, mode="same", boundary="symm") for im in flat])

    return float(np.linalg.norm(log(recon) - log(ref)) / np.linalg.norm(log(ref)))


def test_ssim_psnr_nmse_match_skimage() -> None:
    ref, recon = _pair()
    peak = ref.max()
    images = zip(ref.reshape(-1, 40, 48), recon.reshape(-1, 40, 48), strict=True)
    expected_ssim = np.mean([structural_similarity(r, x, data_range=peak) for r, x in images])
    assert ssim(ref, recon) == pytest.approx(expected_ssim, abs=1e-6)
    assert psnr(ref, recon) == pytest.approx(peak_signal_noise_ratio(ref, recon, data_range=peak), abs=1e-6)
    assert nmse(ref, recon) == pytest.approx(np.sum((ref - recon) ** 2) / np.sum(ref**2), rel=1e-9)
    expected_nrmse = normalized_root_mse(ref, recon, normalization="euclidean")
    assert nrmse(ref, recon) == pytest.approx(expected_nrmse, rel=1e-9)


def test_metrics_match_fastmri_evaluate() -> None:
    fm = pytest.importorskip("fastmri.evaluate", reason="fastmri (with pandas, runstats) not installed")
    ref, recon = _pair((4, 40, 48), seed=1)  # fastMRI volumes are (slices, ny, nx)
    assert ssim(ref, recon) == pytest.approx(float(fm.ssim(ref, recon)[0]), abs=1e-6)
    assert psnr(ref, recon) == pytest.approx(float(fm.psnr(ref, recon)), abs=1e-6)
    assert nmse(ref, recon) == pytest.approx(float(fm.nmse(ref, recon)), abs=1e-6)
    volume = compute_metrics(recon.astype(np.float32), ref.astype(np.float32))
    assert volume["ssim"] == pytest.approx(float(fm.ssim(ref, recon)[0]), abs=1e-5)


def test_hfen_matches_direct_log_convolution() -> None:
    ref, recon = _pair()
    assert hfen(ref, recon) == pytest.approx(_hfen_direct(ref, recon, _log_kernel()), rel=1e-6)
    zero_sum = _log_kernel() - _log_kernel().mean()  # MATLAB fspecial('log', 15, 1.5) style
    assert hfen(ref, recon) == pytest.approx(_hfen_direct(ref, recon, zero_sum), rel=1e-2)


def test_identical_images() -> None:
    ref, _ = _pair()
    values = compute_metrics(ref.copy(), ref)
    assert values["nmse"] == 0 and values["nrmse"] == 0 and values["hfen"] == 0
    assert values["psnr"] == float("inf")
    assert values["ssim"] == pytest.approx(1.0)


def test_compute_metrics_levels() -> None:
    ref, recon = _pair()
    volume = compute_metrics(recon, ref)
    slices = compute_metrics(recon, ref, per="slice")
    frames = compute_metrics(recon, ref, per="frame")
    assert set(volume) == set(METRIC_NAMES) and set(METRIC_NAMES) <= set(METRIC_DEFINITIONS)
    assert [s["slice"] for s in slices] == [0, 1]
    assert [(f["slice"], f["frame"]) for f in frames] == [(s, f) for s in range(2) for f in range(3)]
    # SSIM is a mean over images with the volume's data range at every level
    assert volume["ssim"] == pytest.approx(np.mean([f["ssim"] for f in frames]), abs=1e-12)
    assert slices[1]["ssim"] == pytest.approx(np.mean([f["ssim"] for f in frames[3:]]), abs=1e-12)
    peak = ref.max()
    expected = peak_signal_noise_ratio(ref[1, 2], recon[1, 2], data_range=peak)
    assert frames[-1]["psnr"] == pytest.approx(expected, abs=1e-9)
    with pytest.raises(ValueError, match="does not match"):
        compute_metrics(recon[:, :, :-1], ref)


# ---------------------------------------------------------------- the evaluate command


def _write_images(path: Path, images: np.ndarray) -> Path:
    """A file laid out as recon_cli.io.h5image writes it: 'images' (slices, frames, ny, nx) complex64."""
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=images.astype(np.complex64))
    return path


def _write_reference(path: Path, reference: np.ndarray) -> Path:
    with h5py.File(path, "w") as f:
        f.create_dataset("reference", data=reference.astype(np.float32))
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    ref, recon = _pair((2, 3, 32, 40))
    phase = np.exp(1j * np.linspace(0, 3, 40))
    return {
        "ref": _write_reference(tmp_path / "ref.h5", ref),
        "good": _write_images(tmp_path / "good.h5", 2.5 * recon * phase),
        "exact": _write_images(tmp_path / "exact.h5", ref),
        "small": _write_images(tmp_path / "small.h5", recon[:, :, :, :32]),
        "ref_array": ref,
        "recon_array": recon,
    }


def test_evaluate_writes_report(tmp_path: Path, files: dict) -> None:
    out = tmp_path / "report"
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(files["good"]),
            str(files["exact"]),
            "--reference",
            str(files["ref"]),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "metrics.json").read_text())
    for key in ("reference", "crop", "normalize", "definitions", "versions", "files"):
        assert key in report
    assert report["normalize"] == "lstsq" and report["crop"] is None
    good, exact = report["files"]
    assert good["ok"] and set(METRIC_NAMES) <= set(good["volume"])
    assert len(good["slices"]) == 2 and len(good["frames"]) == 6
    assert good["data_range"] == pytest.approx(files["ref_array"].max(), rel=1e-6)
    ref, recon = files["ref_array"].astype(np.float32), files["recon_array"].astype(np.float32)
    scale = np.vdot(recon, ref) / np.vdot(recon, recon) / 2.5
    assert good["scale"] == pytest.approx(scale, rel=1e-4)
    assert good["volume"]["ssim"] == pytest.approx(
        compute_metrics(scale * 2.5 * recon, ref)["ssim"], abs=1e-5
    )
    assert exact["volume"]["psnr"] == "inf" and exact["volume"]["nmse"] == pytest.approx(0, abs=1e-12)
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert len(rows) == 2 * (1 + 2 + 6) and rows[0]["level"] == "volume"


def test_evaluate_nifti_and_crop(tmp_path: Path, files: dict) -> None:
    nib = pytest.importorskip("nibabel")
    recon = 2.5 * files["recon_array"]
    nifti = tmp_path / "good.nii.gz"
    nib.save(nib.Nifti1Image(recon.transpose(3, 2, 0, 1).astype(np.float32), np.eye(4)), nifti)
    out = tmp_path / "report"
    args = [
        "evaluate",
        str(nifti),
        str(files["good"]),
        "-r",
        str(files["ref"]),
        "-o",
        str(out),
        "--crop",
        "16,20",
        "--normalize",
        "max",
        "--no-html",  # figures are tested in test_reports.py
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "metrics.json").read_text())
    assert report["crop"] == [16, 20] and report["normalize"] == "max"
    from_nifti, from_h5 = report["files"]
    assert from_nifti["shape"] == [2, 3, 16, 20]
    for name in METRIC_NAMES:
        assert from_nifti["volume"][name] == pytest.approx(from_h5["volume"][name], rel=1e-5)


def test_evaluate_shape_mismatch_is_one_line(tmp_path: Path, files: dict) -> None:
    result = runner.invoke(
        app, ["evaluate", str(files["small"]), "-r", str(files["ref"]), "-o", str(tmp_path / "r")]
    )
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "small.h5" in lines[0] and "does not match" in lines[0]
    assert "Traceback" not in result.output


def test_evaluate_batch_keeps_going(tmp_path: Path, files: dict) -> None:
    missing = tmp_path / "missing.h5"
    args = [
        "evaluate",
        str(files["small"]),
        str(missing),
        str(files["good"]),
        "-r",
        str(files["ref"]),
        "-o",
        str(tmp_path / "r"),
        "--no-html",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 3
    report = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert [f["ok"] for f in report["files"]] == [False, False, True]
    assert "no such file" in report["files"][1]["error"]


def test_evaluate_does_not_overwrite_report(tmp_path: Path, files: dict) -> None:
    out = tmp_path / "r"
    args = ["evaluate", str(files["good"]), "-r", str(files["ref"]), "-o", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    before = (out / "metrics.json").read_bytes()
    page = (out / "index.html").read_bytes()
    again = runner.invoke(app, [*args, "--normalize", "none"])
    assert again.exit_code == 2 and "already exists" in again.stderr
    assert (out / "metrics.json").read_bytes() == before and (out / "index.html").read_bytes() == page
    replaced = runner.invoke(app, [*args, "--normalize", "none", "--overwrite", "--no-html"])
    assert replaced.exit_code == 0, replaced.output
    assert json.loads((out / "metrics.json").read_text())["normalize"] == "none"
    assert not (out / "index.html").exists()  # a page of the replaced report would contradict it


@pytest.mark.parametrize(
    ("extra", "code"),
    [(["--normalize", "median"], 2), (["--crop", "8"], 2), (["--crop", "64,64"], 3)],
)
def test_evaluate_bad_options(tmp_path: Path, files: dict, extra: list[str], code: int) -> None:
    args = ["evaluate", str(files["good"]), "-r", str(files["ref"]), "-o", str(tmp_path / "r"), *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == code
    assert len(result.stderr.strip().splitlines()) == 1


def test_training_ssim_equals_the_reported_ssim_and_has_a_gradient() -> None:
    """The SSIM loss of ``recon train`` is the metric ``recon evaluate`` reports (scikit-image's SSIM),
    differentiable; ``l1+ssim`` adds the relative L1 term."""
    from recon_cli.metrics import ssim
    from recon_cli.phantoms import shepp_logan
    from recon_cli.train.config import TrainConfig
    from recon_cli.train.objective import reconstruction_loss, ssim_torch

    gen = torch.Generator().manual_seed(5)
    reference = torch.stack([shepp_logan(48, scale=s) for s in (0.8, 0.95)]).abs().double()
    recon = (reference + 0.05 * torch.randn(reference.shape, generator=gen, dtype=torch.float64)).abs()
    recon.requires_grad_(True)
    value = ssim_torch(recon, reference)
    expected = ssim(reference.numpy(), recon.detach().numpy())
    assert abs(float(value.detach()) - expected) < 1e-9 and 0.2 < expected < 0.95
    value.backward()
    assert recon.grad is not None and float(recon.grad.abs().sum()) > 0
    output = recon.detach().to(torch.complex64)
    l1 = reconstruction_loss(output, reference.float(), TrainConfig(loss="l1"))
    both = reconstruction_loss(output, reference.float(), TrainConfig(loss="l1+ssim"))
    only = reconstruction_loss(output, reference.float(), TrainConfig(loss="ssim"))
    assert abs(float(both) - float(l1) - float(only)) < 1e-6
    assert abs(float(only) - (1 - ssim(reference.numpy(), output.abs().numpy()))) < 1e-5

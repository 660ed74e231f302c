"""Sampling patterns: fastMRI mask semantics, seeding, golden-angle geometry, the simulate-mask command."""

from __future__ import annotations

import json
import math

import h5py
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from recon_cli.cli.main import app
from recon_cli.sampling import (
    GOLDEN_ANGLE_DEG,
    MASK_KINDS,
    cartesian_mask,
    center_columns,
    equispaced_mask,
    golden_angle_radial,
    random_mask,
    tiny_golden_angle_deg,
)

MASKS = {"random": random_mask, "equispaced": equispaced_mask}
CASES = [(320, 4, 0.08), (368, 4, 0.08), (372, 8, 0.04), (128, 4, 0.08), (97, 3, 0.1)]


def _center_ok(mask: np.ndarray, n_cols: int, center_fraction: float) -> None:
    num_low = round(n_cols * center_fraction)
    start = (n_cols - num_low + 1) // 2
    assert center_columns(n_cols, center_fraction) == (start, num_low)
    assert mask[start : start + num_low].all()


@pytest.mark.parametrize("kind", MASKS)
@pytest.mark.parametrize(("n_cols", "acc", "cf"), CASES)
def test_centre_block_fully_sampled(kind: str, n_cols: int, acc: int, cf: float) -> None:
    for seed in range(5):
        mask = MASKS[kind](n_cols, acc, cf, seed)
        assert mask.shape == (n_cols,) and mask.dtype == bool
        _center_ok(mask, n_cols, cf)


@pytest.mark.parametrize(("n_cols", "acc", "cf"), CASES)
def test_random_mask_achieves_acceleration(n_cols: int, acc: int, cf: float) -> None:
    # The count is num_low + Binomial(n - num_low, p): its mean is n / acc exactly.
    num_low = round(n_cols * cf)
    p = (n_cols / acc - num_low) / (n_cols - num_low)
    sd = math.sqrt((n_cols - num_low) * p * (1 - p))
    counts = np.array([random_mask(n_cols, acc, cf, seed).sum() for seed in range(400)])
    assert abs(counts.mean() - n_cols / acc) < 4 * sd / math.sqrt(counts.size)
    assert np.all(np.abs(counts - n_cols / acc) < 5 * sd)


@pytest.mark.parametrize(("n_cols", "acc", "cf"), CASES)
def test_equispaced_mask_achieves_acceleration(n_cols: int, acc: int, cf: float) -> None:
    # Spacing a = acc (n - num_low) / (n - num_low acc): the lines outside the centre number about
    # (n - num_low) / a; those landing inside the centre block make the total fall short by a few.
    num_low = round(n_cols * cf)
    spacing = acc * (n_cols - num_low) / (n_cols - num_low * acc)
    for offset in range(round(spacing)):
        mask = equispaced_mask(n_cols, acc, cf, 0, offset=offset)
        assert n_cols / acc - num_low / spacing - 2 <= mask.sum() <= n_cols / acc + 1
        outer = np.flatnonzero(mask[: center_columns(n_cols, cf)[0]])
        assert outer[0] == offset
        assert np.all(np.abs(np.diff(outer) - spacing) <= 1)


@pytest.mark.parametrize("kind", MASKS)
def test_masks_are_seeded(kind: str) -> None:
    draw = MASKS[kind]
    assert np.array_equal(draw(368, 4, 0.08, 7), draw(368, 4, 0.08, 7))
    assert np.array_equal(draw(368, 4, 0.08, 7), draw(368, 4, 0.08, np.random.default_rng(7)))
    distinct = {draw(368, 4, 0.08, seed).tobytes() for seed in range(10)}
    assert len(distinct) > (5 if kind == "random" else 2)  # equispaced has only round(a) offsets


@pytest.mark.parametrize("kind", MASKS)
def test_cartesian_mask_frames(kind: str) -> None:
    mask = cartesian_mask(kind, (24, 128), 4, 0.08, seed=3, frames=6)
    assert mask.shape == (6, 24, 128) and mask.dtype == bool
    assert np.all(mask == mask[:, :1, :])  # one column pattern per frame, constant along y
    assert len({m[0].tobytes() for m in mask}) > 1
    assert np.array_equal(mask, cartesian_mask(kind, (24, 128), 4, 0.08, seed=3, frames=6))
    for frame in mask:
        _center_ok(frame[0], 128, 0.08)


def test_mask_rejects_centre_larger_than_budget() -> None:
    with pytest.raises(ValueError, match="centre block"):
        random_mask(128, 4, 0.5, 0)
    with pytest.raises(ValueError, match="acceleration"):
        equispaced_mask(128, 0.5, 0.08, 0)


def _spoke_angles_deg(traj: np.ndarray, samples: int) -> np.ndarray:
    """Angle of each spoke from its last sample (positive radius), in [0, 180)."""
    # reshape goes frame by frame, so spokes come out in acquisition order
    ky = traj[:, 0, :].reshape(-1, samples)[:, -1]
    kx = traj[:, 1, :].reshape(-1, samples)[:, -1]
    return np.remainder(np.rad2deg(np.arctan2(ky, kx)), 180.0)


@pytest.mark.parametrize(("index", "step"), [(None, 111.2461), (1, 111.2461), (2, 68.7539), (7, 23.6281)])
def test_golden_angle_steps(index: int | None, step: float) -> None:
    spokes, frames, samples = 13, 5, 64
    traj = golden_angle_radial(spokes, frames, samples, tiny_golden_index=index)
    assert traj.shape == (frames, 2, spokes * samples) and traj.dtype == np.float32
    angles = _spoke_angles_deg(traj, samples)
    assert angles.size == spokes * frames
    steps = np.remainder(np.diff(angles), 180.0)
    np.testing.assert_allclose(steps, step, atol=1e-3)  # also across frame boundaries
    assert abs((GOLDEN_ANGLE_DEG if index is None else tiny_golden_angle_deg(index)) - step) < 1e-4


@pytest.mark.parametrize("samples", [64, 65])
def test_golden_angle_range_and_centre(samples: int) -> None:
    traj = golden_angle_radial(21, 3, samples)
    radius = np.hypot(traj[:, 0], traj[:, 1])
    assert np.all(radius <= np.pi + 1e-6)
    assert np.all(traj >= -np.pi - 1e-6) and np.all(traj < np.pi)
    centre = traj[:, :, samples // 2 :: samples]
    assert np.abs(centre).max() < 1e-6
    np.testing.assert_allclose(radius.max(), 2 * np.pi * (samples // 2) / samples, rtol=1e-6)


def _fastmri_subsample():
    return pytest.importorskip("fastmri.data.subsample", reason="fastmri (with pandas) not installed")


@pytest.mark.parametrize(("n_cols", "acc", "cf"), CASES[:3])
def test_random_mask_matches_fastmri_statistics(n_cols: int, acc: int, cf: float) -> None:
    subsample = _fastmri_subsample()
    func = subsample.RandomMaskFunc([cf], [acc])
    theirs, ours = [], []
    for seed in range(300):
        mask, num_low = func((1, n_cols, 1), seed=seed)
        mask = mask.numpy().reshape(-1).astype(bool)
        assert num_low == center_columns(n_cols, cf)[1]
        _center_ok(mask, n_cols, cf)
        theirs.append(mask.sum())
        ours.append(random_mask(n_cols, acc, cf, seed).sum())
    num_low = round(n_cols * cf)
    p = (n_cols / acc - num_low) / (n_cols - num_low)
    sd = math.sqrt((n_cols - num_low) * p * (1 - p))
    assert abs(np.mean(theirs) - np.mean(ours)) < 5 * sd / math.sqrt(len(ours))
    assert abs(np.std(theirs) - np.std(ours)) < 0.25 * sd


@pytest.mark.parametrize(("n_cols", "acc", "cf"), CASES)
def test_equispaced_mask_equals_fastmri_for_each_offset(n_cols: int, acc: int, cf: float) -> None:
    subsample = _fastmri_subsample()
    func = subsample.EquispacedMaskFractionFunc([cf], [acc])
    num_low = round(n_cols * cf)
    spacing = acc * (n_cols - num_low) / (n_cols - num_low * acc)
    for offset in range(round(spacing)):
        theirs = func((1, n_cols, 1), offset=offset, seed=0)[0].numpy().reshape(-1).astype(bool)
        np.testing.assert_array_equal(equispaced_mask(n_cols, acc, cf, 0, offset=offset), theirs)


def test_simulate_mask_command_cartesian(tmp_path) -> None:
    out = tmp_path / "mask.h5"
    args = [
        "simulate-mask",
        "--kind",
        "random",
        "--shape",
        "32,128",
        "--acceleration",
        "4",
        "--center-fraction",
        "0.08",
        "--frames",
        "3",
        "--seed",
        "0",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "sampled fraction" in result.output and "acceleration" in result.output
    with h5py.File(out) as f:
        mask = f["mask"][()]
        assert f.attrs["kind"] == "random" and json.loads(f.attrs["params"])["seed"] == 0
    np.testing.assert_array_equal(mask, cartesian_mask("random", (32, 128), 4, 0.08, 0, frames=3))
    assert Image.open(out.with_suffix(".png")).size[0] > 0
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "already exists" in again.output


def test_simulate_mask_command_radial(tmp_path) -> None:
    out = tmp_path / "traj.h5"
    args = [
        "simulate-mask",
        "--kind",
        "golden-angle",
        "--spokes",
        "13",
        "--frames",
        "4",
        "--samples",
        "64",
        "--matrix",
        "32",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    with h5py.File(out) as f:
        np.testing.assert_array_equal(f["traj"][()], golden_angle_radial(13, 4, 64))
    assert out.with_suffix(".png").is_file()


@pytest.mark.parametrize(
    "extra",
    [
        ["--kind", "spiral", "--shape", "32,32", "-R", "4"],
        ["--kind", "random", "-R", "4"],  # no --shape
        ["--kind", "random", "--shape", "32", "-R", "4"],
        ["--kind", "random", "--shape", "32,32", "-R", "4", "--center-fraction", "0.5"],
        ["--kind", "golden-angle", "--matrix", "32"],  # neither --spokes nor --acceleration
    ],
)
def test_simulate_mask_usage_errors(tmp_path, extra: list[str]) -> None:
    result = CliRunner().invoke(app, ["simulate-mask", *extra, "--out", str(tmp_path / "m.h5")])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "m.h5").exists()


def test_mask_kinds_registry() -> None:
    assert MASK_KINDS == ("random", "equispaced", "golden-angle", "tiny-golden-angle")

"""Sampling patterns: fastMRI mask semantics, seeding, golden-angle geometry, the simulate-mask command."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import h5py
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from recon_cli.cli.main import app
from recon_cli.errors import UsageError
from recon_cli.sampling import (
    CARTESIAN_KINDS,
    GOLDEN_ANGLE_DEG,
    MASK_KINDS,
    PatternSpec,
    cartesian_mask,
    center_block,
    center_columns,
    draw_pattern,
    equispaced_mask,
    golden_angle_radial,
    poisson_mask,
    pseudo_radial_frames,
    pseudo_radial_lines,
    pseudo_radial_mask,
    random_2d_mask,
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
    assert MASK_KINDS == (
        "random",
        "equispaced",
        "random-2d",
        "poisson",
        "pseudo-radial",
        "golden-angle",
        "tiny-golden-angle",
    )
    assert CARTESIAN_KINDS == MASK_KINDS[:5]


def test_package_names_load_lazily_without_numpy() -> None:
    """``recon_cli.sampling`` loads names on first use: the CLI's kinds and defaults cost no numpy, and
    the function ``spiral`` is not shadowed by its submodule of the same name."""
    code = (
        "import sys\n"
        "from recon_cli.sampling.kinds import MASK_KINDS\n"
        "from recon_cli.sampling.spec import PatternSpec\n"
        "assert 'numpy' not in sys.modules, 'numpy imported'\n"
        "import recon_cli.sampling as s\n"
        "first = s.spiral\n"
        "from recon_cli.sampling import spiral\n"
        "assert callable(first) and spiral is first, spiral\n"
        "assert s.MASK_KINDS is MASK_KINDS and s.PatternSpec is PatternSpec\n"
        "print(PatternSpec().kind)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "random"


# --- every Cartesian kind: acceleration, centre, seeding, frames -------------------------------------------

# Allowed |achieved - requested| sampled fraction, from each kind's own rule: random columns are
# binomial (sd of the mean of 16 frames ~0.008 here), equispaced falls short by the lines landing in
# the centre, random-2d is exact to one point, poisson stops within 1%, pseudo-radial within 2%.
FRACTION_TOLERANCE = {
    "random": 0.04,
    "equispaced": 0.03,
    "random-2d": 1 / (96 * 128),
    "poisson": 0.01 * 0.25 + 1 / (96 * 128),
    "pseudo-radial": 0.02,
}


def _centre_sampled(kind: str, frame: np.ndarray, center_fraction: float) -> bool:
    ny, nx = frame.shape
    if kind in ("random", "equispaced"):
        start, num_low = center_columns(nx, center_fraction)
        return bool(frame[:, start : start + num_low].all())
    if kind == "pseudo-radial":  # every line goes through the centre: its 3 x 3 neighbourhood is full
        return bool(frame[ny // 2 - 1 : ny // 2 + 2, nx // 2 - 1 : nx // 2 + 2].all())
    rows, cols = center_block((ny, nx), center_fraction)
    return bool(frame[rows, cols].all()) and (rows.stop - rows.start) == round(ny * center_fraction)


@pytest.mark.parametrize("kind", CARTESIAN_KINDS)
def test_cartesian_kind_statistics(kind: str) -> None:
    shape, frames = (96, 128), 16
    masks = cartesian_mask(kind, shape, 4, 0.08, seed=11, frames=frames)
    assert masks.shape == (frames, *shape) and masks.dtype == bool
    achieved = masks.mean() if kind == "random" else masks.mean(axis=(1, 2))
    assert np.all(np.abs(achieved - 0.25) <= FRACTION_TOLERANCE[kind]), achieved
    assert all(_centre_sampled(kind, frame, 0.08) for frame in masks)
    assert len({frame.tobytes() for frame in masks}) > 1  # frames differ
    again = cartesian_mask(kind, shape, 4, 0.08, seed=np.random.default_rng(11), frames=frames)
    np.testing.assert_array_equal(masks, again)  # seeded: int seed == generator of that seed
    other = cartesian_mask(kind, shape, 4, 0.08, seed=12, frames=frames)
    assert np.array_equal(masks, other) == (kind == "pseudo-radial")  # pseudo-radial draws nothing


@pytest.mark.parametrize("kind", CARTESIAN_KINDS)
def test_fraction_is_the_inverse_acceleration(kind: str) -> None:
    by_fraction = PatternSpec(kind=kind, shape=(64, 80), fraction=0.25, seed=4).resolved()
    by_acceleration = PatternSpec(kind=kind, shape=(64, 80), acceleration=4, seed=4).resolved()
    assert by_fraction.acceleration == by_acceleration.acceleration == 4
    assert by_fraction.fraction == by_acceleration.fraction == 0.25
    np.testing.assert_array_equal(draw_pattern(by_fraction), draw_pattern(by_acceleration))


def test_one_d_masks_along_rows() -> None:
    columns = cartesian_mask("random", (40, 64), 4, 0.08, seed=2, frames=2)
    rows = cartesian_mask("random", (64, 40), 4, 0.08, seed=2, frames=2, phase_axis=-2)
    np.testing.assert_array_equal(rows, columns.transpose(0, 2, 1))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (PatternSpec(kind="random", shape=(32, 32), acceleration=4, fraction=0.25), "not both"),
        (PatternSpec(kind="poisson", shape=(32, 32), fraction=1.5), "fraction"),
        (PatternSpec(kind="random-2d", shape=(32, 32), fraction=0.0), "fraction"),
        (PatternSpec(kind="random-2d", shape=(32, 32), acceleration=4, center_fraction=0.6), "centre"),
        (PatternSpec(kind="pseudo-radial", shape=(32, 32)), "--acceleration or --fraction"),
    ],
)
def test_pattern_spec_rejects(spec: PatternSpec, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        spec.resolved()


def test_random_2d_is_uniform_outside_the_centre() -> None:
    shape = (64, 64)
    rows, cols = center_block(shape, 0.08)
    total = np.zeros(shape)
    for seed in range(200):
        mask = random_2d_mask(shape, 5, 0.08, seed)
        assert mask.sum() == round(mask.size / 5)
        total += mask
    outside = np.ones(shape, bool)
    outside[rows, cols] = False
    p = (round(64 * 64 / 5) - outside.size + outside.sum()) / outside.sum()
    counts = total[outside]  # Binomial(200, p) per point; quadrants have the same mean
    assert abs(counts.mean() / 200 - p) < 1e-9
    quarter = [counts.reshape(-1)[i::4].mean() / 200 for i in range(4)]
    assert np.ptp(quarter) < 0.02


# --- pseudo-radial ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.1, 0.2, 0.3, 0.4, 0.25])
@pytest.mark.parametrize("shape", [(256, 256), (200, 160)])
def test_pseudo_radial_hits_the_fraction(shape: tuple[int, int], fraction: float) -> None:
    masks = pseudo_radial_frames(shape, fraction, frames=3)
    assert np.all(np.abs(masks.mean(axis=(1, 2)) - fraction) <= 0.02)
    assert len({m.tobytes() for m in masks}) == 3  # each frame rotated by another golden angle


def _distance_to_line(points: np.ndarray, centre: np.ndarray, angle: float) -> np.ndarray:
    """Perpendicular distance of (n, 2) (y, x) points from the line through ``centre`` at ``angle``
    (radians from the x axis towards y)."""
    d = points - centre
    return np.abs(d[:, 0] * np.cos(angle) - d[:, 1] * np.sin(angle))


@pytest.mark.parametrize(("shape", "offset"), [((128, 128), 0.0), ((96, 160), 7.3)])
def test_pseudo_radial_lines_pass_through_the_centre(shape: tuple[int, int], offset: float) -> None:
    lines = pseudo_radial_lines(shape, 0.2)
    mask = pseudo_radial_mask(shape, lines, offset_deg=offset)
    centre = np.array([shape[0] // 2, shape[1] // 2])
    angles = np.deg2rad(offset + np.arange(lines) * 180.0 / lines)
    points = np.argwhere(mask)
    distance = np.stack([_distance_to_line(points, centre, a) for a in angles])
    assert mask[tuple(centre)]
    assert np.all(distance.min(axis=0) <= 0.5 + 1e-9)  # nothing off the lines
    for a, dist in zip(angles, distance, strict=True):
        # each line is complete: a point within half a step of it at every step along its major axis
        # while the line is inside the grid, on both sides of the centre
        major = 1 if abs(np.cos(a)) >= abs(np.sin(a)) else 0
        slope = np.tan(a) if major == 1 else 1 / np.tan(a)  # minor per major step
        steps = np.arange(shape[major])
        minor = centre[1 - major] + (steps - centre[major]) * slope
        inside = steps[(minor > -0.5) & (minor < shape[1 - major] - 0.5)]
        near = points[dist <= 0.5 + 1e-9]
        covered = np.unique(near[:, major])
        assert set(inside.tolist()) <= set(covered.tolist())
        assert inside.min() < centre[major] < inside.max()


# --- poisson --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "acc"), [((128, 128), 4), ((64, 64), 10), ((96, 160), 6), ((256, 256), 1.6), ((32, 32), 12)]
)
def test_poisson_achieves_acceleration(shape: tuple[int, int], acc: float) -> None:
    # (64, 64) at R = 10 is a case where sigpy.mri.poisson's slope search never ends (sigpy 0.1.27)
    mask = poisson_mask(shape, acc, 0.08, 5)
    assert abs(mask.sum() - mask.size / acc) <= max(0.01 * mask.size / acc, 1) + 0.5
    rows, cols = center_block(shape, 0.08)
    assert mask[rows, cols].all()


def _annulus_density(mask: np.ndarray, edges: np.ndarray) -> np.ndarray:
    ny, nx = mask.shape
    y, x = np.mgrid[:ny, :nx]
    r = np.hypot((y - ny // 2) / (ny / 2), (x - nx // 2) / (nx / 2))
    return np.array([mask[(r >= a) & (r < b)].mean() for a, b in zip(edges[:-1], edges[1:], strict=True)])


def test_poisson_density_falls_off_like_sigpys() -> None:
    import sigpy.mri as sigpy_mri  # a recon dependency

    edges = np.linspace(0, 1, 11)
    ours = np.mean([_annulus_density(poisson_mask((128, 128), 4, 0.08, s), edges) for s in range(3)], 0)
    # sigpy's own generator, same acceleration and calibration (this case ends; others may not)
    theirs = _annulus_density(sigpy_mri.poisson((128, 128), 4, calib=(10, 10), seed=0, dtype=bool), edges)
    assert ours[0] > 0.95 and np.all(np.diff(ours) < 0.01)  # nearly full centre, falling outwards
    assert ours[-1] < 0.3 * ours[0]
    assert np.corrcoef(ours, theirs)[0, 1] > 0.95
    assert np.all(np.abs(ours - theirs) < 0.25)  # sigpy also leaves out the corners


def test_poisson_points_keep_their_distance() -> None:
    # Poisson-disc property: the nearest neighbour of a point grows with |k| (no clumps far out)
    mask = poisson_mask((128, 128), 6, 0.0, 3)
    points = np.argwhere(mask)
    d = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1)) + np.eye(len(points)) * 1e9
    nearest = d.min(1)
    r = np.hypot(*(points - 64).T) / 64
    assert np.median(nearest[r > 0.7]) > 2 * np.median(nearest[r < 0.2])


# --- the command ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["random-2d", "poisson", "pseudo-radial"])
def test_simulate_mask_command_fraction(tmp_path, kind: str) -> None:
    out = tmp_path / f"{kind}.h5"
    args = ["simulate-mask", "-k", kind, "--shape", "64,64", "--fraction", "0.3", "--frames", "2"]
    result = CliRunner().invoke(app, [*args, "--seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with h5py.File(out) as f:
        mask = f["mask"][()]
        params = json.loads(f.attrs["params"])
    assert mask.shape == (2, 64, 64) and params["fraction"] == 0.3 and params["acceleration"] == 1 / 0.3
    np.testing.assert_array_equal(mask, cartesian_mask(kind, (64, 64), 1 / 0.3, 0.08, 3, frames=2))
    assert abs(mask.mean() - 0.3) < 0.03


@pytest.mark.parametrize(
    "extra",
    [
        ["--kind", "random", "--shape", "32,32", "-R", "4", "--fraction", "0.25"],
        ["--kind", "poisson", "--shape", "32,32", "--fraction", "1.5"],
        ["--kind", "pseudo-radial", "--shape", "32,32", "--fraction", "0"],
        ["--kind", "random", "--shape", "32,32", "-R", "4", "--force"],
    ],
)
def test_simulate_mask_fraction_usage_errors(tmp_path, extra: list[str]) -> None:
    result = CliRunner().invoke(app, ["simulate-mask", *extra, "--out", str(tmp_path / "m.h5")])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "m.h5").exists()

"""Frames in overlapping windows (``--max-memory``): what models declare, the windows' images, the plan.

Windowed and whole-series images are compared on tiny seeded cines with random-weight networks (their
filters scaled up 3x, so that distant frames weigh more). Measured differences, relative to the image's
peak magnitude: 0 for most models and window sizes; at most 6e-7 (admm-net) and 3.1e-6 (ifr-net) with one
frame per window, where the convolutions of a batch of one image round differently. The tolerance is
1e-5 of the peak; a reach one frame short misses by 1e-3 (alt-un) to 3e-2 (cunet).
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from recon_cli.cli.main import app
from recon_cli.errors import OutOfMemoryError
from recon_cli.memory import plan as plan_module
from recon_cli.memory.estimate import MIB
from recon_cli.memory.frame_windows import declared_reach, frame_windows, largest_window
from recon_cli.memory.plan import Plan, check_fits, plan_input
from recon_cli.reconstruct import LoadedModel, reconstruct_scan
from recon_cli.reconstruct_request import ReconstructRequest
from recon_cli.registry import load_plugin, resolve_config
from tests.helpers import small_cine

RELATIVE_TOLERANCE = 1e-5  # of the whole-series image's peak magnitude
FRAMES, AT_ONCE = 20, 3  # 7 windows, the last of 2 frames
FINITE = [  # every model with a finite reach, with settings that keep it small (and the reach short)
    ("zero-filled", {}, "radial", True),
    ("zero-filled", {}, "cartesian", False),  # coil images, root sum of squares
    ("sense", {"iterations": 6}, "radial", True),
    ("sense", {"iterations": 6}, "cartesian", True),
    ("cunet", {"chans": 2, "depth": 1, "canonical_phase": False}, "radial", True),
    ("cunet", {"chans": 2, "depth": 2, "canonical_phase": False}, "cartesian", True),
    ("alt-un", {"chans": 2, "depth": 1, "blocks": 2, "canonical_phase": False}, "radial", True),
    (
        "imunne",
        {"chans": 2, "depth": 1, "iterations": 2, "tol": 0.0, "canonical_phase": False},
        "radial",
        True,
    ),
    ("admm-net", {"stages": 2}, "cartesian", True),
    ("ifr-net", {"stages": 2}, "cartesian", True),
]


def _model(name: str, settings: dict[str, Any], weight_scale: float = 3.0) -> LoadedModel:
    """The model with seeded random weights, its filters scaled up so that far frames matter more."""
    torch.manual_seed(0)
    plugin = load_plugin(name)
    config = resolve_config(plugin, settings)
    module = plugin.create(config).eval()
    with torch.no_grad():
        for p in module.parameters():
            if p.dim() > 1:
                p.mul_(weight_scale)
    return LoadedModel(plugin, config, module, torch.device("cpu"))


def _with_reach(model: LoadedModel, reach: int | None) -> LoadedModel:
    plugin = dataclasses.replace(model.plugin, temporal_reach=lambda config: reach)
    return dataclasses.replace(model, plugin=plugin)


def _difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def test_models_declare_their_reach() -> None:
    def reach(name: str, **settings: Any) -> int | None:
        plugin = load_plugin(name)
        return declared_reach(plugin, resolve_config(plugin, settings))

    for name in ("zero-filled", "sense", "admm-net", "ifr-net"):
        assert reach(name) == 0, name
    plain = {"canonical_phase": False}  # the turn to one global phase is a sum over the whole series
    assert [reach("cunet", depth=d, **plain) for d in (1, 2, 3)] == [4, 6, 8]
    assert reach("alt-un", **plain) == 5 * 8 and reach("alt-un", blocks=2, depth=1, **plain) == 8
    assert reach("imunne", **plain) is None  # tol 1e-3: a stopping rule on the whole series
    assert reach("imunne", tol=0.0, **plain) == 30 * 8
    assert reach("imunne", tol=0.0, iterations=3, depth=2, **plain) == 18
    assert reach("imunne", tol=0.0, anderson=True, **plain) is None
    for name in ("cunet", "alt-un"):
        assert reach(name) is None, name
    assert reach("imunne", tol=0.0) is None
    for name in ("cunet", "alt-un"):
        assert reach(name, view_share=True) is None
    assert reach("imunne", tol=0.0, view_share=True) is None
    for name in ("cs", "unet", "cascade-net", "pdnet", "deq", "ifr-cs"):  # temporal TV, whole-series scales
        assert reach(name) is None, name


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_the_cunet_reach_is_its_receptive_field(depth: int) -> None:
    """Changing one frame changes the outputs exactly ``temporal_reach`` frames away and none further."""
    from recon_cli.nn.cunet import CUNet, temporal_reach

    torch.manual_seed(depth)
    net = CUNet(2, depth).eval()
    x = torch.randn(30, 16, 16, dtype=torch.complex64)
    reach = temporal_reach(depth)
    for frame in (0, 14):
        changed = x.clone()
        changed[frame] += 1.0
        with torch.no_grad():
            diff = (net(changed) - net(x)).abs().amax(dim=(1, 2))
        moved = torch.nonzero(diff > 0).flatten().tolist()
        assert moved == list(range(max(0, frame - reach), frame + reach + 1)), (frame, moved)


def test_windows_cover_the_series_once_with_the_reach_around_them() -> None:
    windows = frame_windows(FRAMES, AT_ONCE, 4)
    assert [(w.start, w.stop) for w in windows] == [(a, min(a + 3, 20)) for a in range(0, 20, 3)]
    assert (windows[0].lo, windows[0].hi) == (0, 7) and (windows[-1].lo, windows[-1].hi) == (14, 20)
    assert (windows[2].lo, windows[2].hi) == (2, 13)
    assert frame_windows(FRAMES, None, 4) == frame_windows(FRAMES, 20, None) == frame_windows(20, 25, 4)
    with pytest.raises(ValueError, match="finite temporal reach"):
        frame_windows(FRAMES, AT_ONCE, None)


def test_largest_window_is_the_largest_that_fits() -> None:
    for limit in (1, 2, 5, 11):
        assert largest_window(20, 4, lambda w, limit=limit: w <= limit) == limit
    assert largest_window(20, 4, lambda w: True) == 11  # 11 + 2 x 4 = 19 frames: one fewer than all
    assert largest_window(20, 4, lambda w: False) == 1  # the smallest plan, over the budget
    assert largest_window(9, 4, lambda w: True) is None  # no window reconstructs fewer than 9 frames


@pytest.mark.parametrize("at_once", [1, AT_ONCE])
@pytest.mark.parametrize(("name", "settings", "kind", "maps"), FINITE, ids=lambda v: str(v))
def test_windowed_images_equal_the_whole_series(
    name: str, settings: dict, kind: str, maps: bool, at_once: int
) -> None:
    """Windows of 1 or 3 frames (the first and last at the ends of the series) give the whole-series
    images, and each window reconstructs its own frames and ``reach`` more on each side, no more."""
    _, coil_maps, scan = small_cine(kind, n=16, frames=FRAMES, coils=3, spokes=4)
    model = _model(name, settings)
    reach = declared_reach(model.plugin, model.config)
    assert reach is not None
    slice_maps = coil_maps[None] if maps else None
    whole = reconstruct_scan(scan, model, slice_maps)
    seen: list[int] = []
    hook = model.module.register_forward_pre_hook(lambda module, args: seen.append(int(args[0].shape[0])))
    windowed = reconstruct_scan(scan, model, slice_maps, frames_at_once=at_once)
    hook.remove()
    assert seen == [w.hi - w.lo for w in frame_windows(FRAMES, at_once, reach)]
    assert max(seen) == min(FRAMES, at_once + 2 * reach)
    assert _difference(windowed, whole) <= RELATIVE_TOLERANCE


@pytest.mark.parametrize(
    ("name", "settings"),
    [
        ("cunet", {"chans": 2, "depth": 1, "canonical_phase": False}),
        ("alt-un", {"chans": 2, "depth": 1, "blocks": 2, "canonical_phase": False}),
    ],
)
def test_a_reach_one_frame_short_changes_the_images(name: str, settings: dict) -> None:
    """Windows that keep one frame of context too few differ from the whole series far beyond float
    rounding: the declared reach is needed, and the equality test above can fail."""
    _, coil_maps, scan = small_cine("radial", n=16, frames=FRAMES, coils=3, spokes=4)
    model = _model(name, settings)
    reach = declared_reach(model.plugin, model.config)
    assert reach is not None
    whole = reconstruct_scan(scan, model, coil_maps[None])
    short = reconstruct_scan(scan, _with_reach(model, reach - 1), coil_maps[None], frames_at_once=AT_ONCE)
    assert _difference(short, whole) > 10 * RELATIVE_TOLERANCE


BASELINE = 300 * MIB  # the planning process's resident memory, fixed so that budgets are exact


@pytest.fixture
def fixed_baseline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan_module, "baseline_bytes", lambda device: BASELINE)


@pytest.fixture(scope="module")
def cine_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A radial cine whose CU-Net activations dominate a slice: 64 x 64, 4 coils, 40 frames of 8 spokes."""
    from recon_cli.io.ismrmrd import write_ismrmrd

    _, _, scan = small_cine("radial", n=64, frames=40, coils=4, spokes=8, seed=7)
    return write_ismrmrd(tmp_path_factory.mktemp("cine") / "cine.h5", scan)


def _plan(path: Path, model: LoadedModel, budget: int) -> Plan:
    return plan_input(path, model, ReconstructRequest(max_memory=budget))


def _between_budget(path: Path, model: LoadedModel) -> int:
    """A budget over the smallest windowed plan and under the smallest plan without windows."""
    smallest = _plan(path, model, 1).estimate.total  # one coil and one frame at a time
    unwindowed = _plan(path, _with_reach(model, None), 1)
    assert unwindowed.coil_chunk == 1 and unwindowed.frames_at_once is None
    assert unwindowed.estimate.total > smallest + 20 * MIB
    return (smallest + unwindowed.estimate.total) // 2


def test_the_plan_windows_frames_when_one_coil_at_a_time_is_over_the_budget(
    cine_file: Path, fixed_baseline: None
) -> None:
    model = _model("cunet", {"depth": 3, "canonical_phase": False})  # reach 8
    budget = _between_budget(cine_file, model)
    assert not _plan(cine_file, _with_reach(model, None), budget).fits  # coil chunks alone cannot
    plan = _plan(cine_file, model, budget)
    assert plan.fits and plan.estimate.total <= budget
    # the coil chunk is raised back once the windows fit: on CPU, FINUFFT applies the maps frame by
    # frame, and coil chunks save next to nothing there
    assert plan.coil_chunk is None
    assert plan.temporal_reach == 8 and plan.frames_at_once is not None and 1 <= plan.frames_at_once < 40 - 16
    check_fits(plan)
    chunking = plan.as_dict()["chunking"]
    assert chunking["frames_at_once"] == plan.frames_at_once and chunking["temporal_reach"] == 8
    assert chunking["frames_per_window"] == plan.frames_at_once + 16


def test_a_model_without_a_finite_reach_is_never_windowed_and_exits_5(
    cine_file: Path, fixed_baseline: None
) -> None:
    budget = _between_budget(cine_file, _model("cunet", {"depth": 3, "canonical_phase": False}))
    model = _model(
        "cunet", {"depth": 3, "view_share": True, "canonical_phase": False}
    )  # the context grids all frames together
    assert declared_reach(model.plugin, model.config) is None
    plan = _plan(cine_file, model, budget)
    assert plan.frames_at_once is None and plan.as_dict()["chunking"]["frames_at_once"] == 40
    assert not plan.fits
    with pytest.raises(OutOfMemoryError, match="declares no finite temporal reach") as caught:
        check_fits(plan)
    assert caught.value.exit_code == 5 and "needs an estimated" in str(caught.value)
    _, maps, scan = small_cine("radial", n=16, frames=8)
    with pytest.raises(ValueError, match="finite temporal reach"):
        reconstruct_scan(scan, model, maps[None], frames_at_once=2)


def _h5_images(folder: Path) -> np.ndarray:
    (path,) = folder.glob("*/*.h5")
    with h5py.File(path) as f:
        return np.asarray(f["images"][()])


def test_dry_run_and_run_json_report_the_windows_and_the_images_are_the_same(
    cine_file: Path, tmp_path: Path, fixed_baseline: None
) -> None:
    """Through the command line, with cunet weights of the one-input architecture (the shipped ones see the
    whole series through view sharing): --dry-run --json and run.json show the frame windows, the
    windowed run writes the whole run's images, and a model without a finite reach is refused at the
    same budget (exit 5, nothing written)."""
    model = _model("cunet", {"canonical_phase": False}, weight_scale=1.0)
    weights = tmp_path / "cunet.pt"
    torch.save(model.module.state_dict(), weights)
    budget = _between_budget(cine_file, model)
    runner = CliRunner()
    base = ["reconstruct", str(cine_file), "-m", "cunet", "--format", "h5", "--weights", str(weights)]
    base += ["--set", "canonical_phase=false"]  # the turn to one global phase needs the whole series
    limit = ["--max-memory", str(budget)]
    dry = runner.invoke(app, [*base, "-o", str(tmp_path / "dry"), *limit, "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.stderr
    (planned,) = json.loads(dry.stdout)["files"]
    at_once = planned["chunking"]["frames_at_once"]
    assert planned["fits"] and at_once < 40 and planned["chunking"]["temporal_reach"] == 8
    table = runner.invoke(
        app, [*base, "-o", str(tmp_path / "dry"), *limit, "--dry-run"], env={"COLUMNS": "200"}
    )
    assert re.search(rf"{at_once} frames at a time \(windows of {at_once + 16} with 8 frames", table.stdout)
    windowed = runner.invoke(app, [*base, "-o", str(tmp_path / "windowed"), *limit])
    assert windowed.exit_code == 0, windowed.stderr
    whole = runner.invoke(app, [*base, "-o", str(tmp_path / "whole")])
    assert whole.exit_code == 0, whole.stderr
    (record,) = (tmp_path / "windowed").glob("*/*.run.json")
    assert json.loads(record.read_text())["memory_plan"]["chunking"] == planned["chunking"]
    (record,) = (tmp_path / "whole").glob("*/*.run.json")
    assert json.loads(record.read_text())["memory_plan"]["chunking"]["frames_at_once"] == 40
    a, b = _h5_images(tmp_path / "windowed"), _h5_images(tmp_path / "whole")
    assert np.abs(a - b).max() <= RELATIVE_TOLERANCE * np.abs(b).max()
    # imunne at its default tolerance: a stopping rule on the whole series, no finite reach
    refused = runner.invoke(app, [*base[:3], "imunne", "-o", str(tmp_path / "imunne"), *limit])
    assert refused.exit_code == 5 and not (tmp_path / "imunne").exists()
    assert "declares no finite temporal reach" in refused.stderr


@pytest.fixture(scope="module")
def long_cine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A radial cine whose per-slice working set dwarfs the baseline: 128 x 128, 4 coils, 160 frames of 8
    spokes (16 simulated frames, repeated)."""
    from recon_cli.io.ismrmrd import write_ismrmrd

    _, _, scan = small_cine("radial", n=128, frames=16, coils=4, spokes=8, seed=9)
    assert scan.traj is not None and scan.reference is not None
    scan = dataclasses.replace(
        scan,
        kspace=scan.kspace.repeat(1, 10, 1, 1),
        traj=scan.traj.repeat(1, 10, 1, 1),
        reference=scan.reference.repeat(1, 10, 1, 1),
    )
    return write_ismrmrd(tmp_path_factory.mktemp("long") / "long_cine.h5", scan)


@pytest.mark.slow
def test_a_windowed_run_under_half_the_peak_stays_under_the_budget(long_cine: Path, tmp_path: Path) -> None:
    """Half the whole-series peak (measured, VmHWM) as --max-memory: the plan windows the frames (sense:
    reach 0), the run's measured peak stays within the budget + 15%, and the images are the same."""
    from tests.test_memory_plan import under_half_the_peak

    args = ["-m", "sense", "--set", "iterations=2", "--format", "h5"]
    whole, windowed = under_half_the_peak(long_cine, args, tmp_path / "whole", tmp_path / "windowed")
    assert whole["plan"]["chunking"]["frames_at_once"] == 160
    assert windowed["plan"]["chunking"]["frames_at_once"] < 160
    a, b = _h5_images(tmp_path / "windowed"), _h5_images(tmp_path / "whole")
    assert np.abs(a - b).max() <= RELATIVE_TOLERANCE * np.abs(b).max()

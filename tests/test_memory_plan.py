"""``--dry-run`` plans and ``--max-memory`` chunking, checked against measured peaks.

Peaks are the VmHWM (peak resident memory) of a subprocess that runs the command line in-process, as in
``tests/test_info_memory.py``. Iterative models run with fewer iterations than their defaults: the working
set of one iteration is what the plan estimates, and it does not grow with the iteration count.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

RECON = [sys.executable, "-c", "from recon_cli.cli.main import app; app()"]
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "radial_cine.h5"
TOLERANCE = 0.35
# per model: the --set values that keep the test short (iterations), as the plan sees them too
MODELS = {
    "zero-filled": [],
    "sense": ["iterations=4"],
    "cs": ["iterations=4", "power_iterations=3"],
    "cunet": [],
    "alt-un": [],
    "imunne": ["iterations=4"],
}

# Runs ``recon`` with the given arguments in this process: first with --dry-run --json (the plan, on
# stdout), then for real; prints the plan and the process's peak resident memory (VmHWM).
PROBE = """
import contextlib, io, json, re, sys
from recon_cli.cli.main import app

def run(args):
    try:
        app(args)
    except SystemExit as e:
        return e.code or 0
    return 0

out = io.StringIO()
with contextlib.redirect_stdout(out):
    dry = run([*sys.argv[1:], "--dry-run", "--json"]) if "--no-plan" not in sys.argv else None
args = [a for a in sys.argv[1:] if a != "--no-plan"]
code = run(args)
peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) / 1024
print(json.dumps({"plan": out.getvalue() or None, "dry_exit": dry, "exit": code, "peak_mib": peak}))
"""


def _recon(*args: str | Path, plan: bool = True) -> dict:
    argv = [sys.executable, "-c", PROBE, "reconstruct", *map(str, args), *([] if plan else ["--no-plan"])]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["stderr"] = proc.stderr
    if result["plan"]:
        result["plan"] = json.loads(result["plan"])["files"][0]
    return result


def under_half_the_peak(path: Path, args: list[str], whole_out: Path, out: Path) -> tuple[dict, dict]:
    """The run of ``path`` as it is, then under half its measured peak as --max-memory: both succeed, and
    the second's plan fits that budget and its measured peak stays within the budget + 15%."""
    whole = _recon(path, *args, "-o", whole_out)
    assert whole["exit"] == 0, whole["stderr"]
    budget = int(whole["peak_mib"] / 2)  # whole MiB, as passed: the plan must fit what it was given
    run = _recon(path, *args, "-o", out, "--max-memory", f"{budget}MiB")
    assert run["exit"] == 0, run["stderr"]
    assert run["plan"]["estimate_mib"]["peak"] <= budget
    assert run["peak_mib"] <= 1.15 * budget, f"peak {run['peak_mib']:.0f} MiB, budget {budget:.0f} MiB"
    return whole, run


def _settings(model: str) -> list[str]:
    return [item for value in MODELS[model] for item in ("--set", value)]


@pytest.fixture(scope="module")
def larger_cine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A radial cine larger than the sample: 160 x 160, 16 coils, 2 slices, 16 frames x 11 spokes x 320."""
    from recon_cli import phantoms
    from recon_cli.io.ismrmrd import write_ismrmrd
    from recon_cli.sampling import golden_angle_radial

    n, coils, frames, spokes, samples = 160, 16, 16, 11, 320
    gen = torch.Generator().manual_seed(16)
    maps = phantoms.coil_maps(coils, (n, n), generator=gen)
    traj = torch.as_tensor(golden_angle_radial(spokes, frames, samples))
    slices = [
        phantoms.simulate_radial_cine(
            phantoms.cardiac_cine_phantom(n, frames, generator=gen), maps, traj, readout_length=samples,
            generator=gen,
        )
        for _ in range(2)
    ]  # fmt: skip
    scan = dataclasses.replace(
        slices[0],
        kspace=torch.cat([s.kspace for s in slices]),
        reference=torch.cat([s.reference for s in slices if s.reference is not None]),
    )
    return write_ismrmrd(tmp_path_factory.mktemp("larger") / "larger_cine.h5", scan)


def _check_estimate(path: Path, model: str, out: Path) -> None:
    result = _recon(path, "-m", model, *_settings(model), "-o", out, "--format", "h5")
    assert result["exit"] == 0, result["stderr"]
    estimate = result["plan"]["estimate_mib"]["peak"]
    measured = result["peak_mib"]
    print(f"{model} on {path.name}: estimated {estimate:.0f} MiB, measured {measured:.0f} MiB")
    assert abs(estimate - measured) <= TOLERANCE * measured, (
        f"{model} on {path.name}: estimated {estimate:.0f} MiB, measured {measured:.0f} MiB "
        f"(stages {result['plan']['estimate_mib']['stages']})"
    )


@pytest.mark.parametrize("model", list(MODELS))
def test_estimate_within_35_percent_on_the_sample(model: str, tmp_path: Path) -> None:
    _check_estimate(SAMPLE, model, tmp_path / "out")


@pytest.mark.slow
@pytest.mark.parametrize("model", list(MODELS))
def test_estimate_within_35_percent_on_a_larger_cine(model: str, larger_cine: Path, tmp_path: Path) -> None:
    _check_estimate(larger_cine, model, tmp_path / "out")


@pytest.fixture(scope="module")
def many_coil_slices(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fastMRI-layout Cartesian scan whose whole-scan coil-map estimate dominates its memory: 8 slices of
    24 coils, 128 x 128, every second column plus 24 central ones."""
    from recon_cli import phantoms
    from recon_cli.io.fastmri import fastmri_header_xml, write_fastmri

    slices, coils, n = 8, 24, 128
    gen = torch.Generator().manual_seed(24)
    image = torch.stack([phantoms.shepp_logan(n, scale=0.8 + 0.02 * s) for s in range(slices)])
    maps = phantoms.coil_maps(coils, (n, n), generator=gen)
    columns = torch.zeros(n, dtype=torch.bool)
    columns[::2] = True
    columns[n // 2 - 12 : n // 2 + 12] = True
    scan = phantoms.simulate_cartesian(
        image.to(torch.complex64)[:, None], maps, snr=40.0, generator=gen, mask=columns.reshape(1, 1, 1, 1, n)
    )
    xml = fastmri_header_xml((n, n), (n, n), (220.0, 220.0, 5.0), (220.0, 220.0, 5.0), n_coils=coils)
    path = tmp_path_factory.mktemp("coils") / "many_coils.h5"
    return write_fastmri(path, scan.kspace[:, 0], mask=columns, header_xml=xml)


def _images(folder: Path) -> np.ndarray:
    import h5py

    (path,) = folder.glob("*/*.h5")
    with h5py.File(path) as f:
        return np.asarray(f["images"][()])


@pytest.mark.slow
def test_a_chunked_run_under_half_the_peak_gives_the_same_images(
    many_coil_slices: Path, tmp_path: Path
) -> None:
    """Half the unchunked peak as --max-memory: the plan chunks, the run stays under the budget (+15%)
    and its images equal the unchunked ones."""
    args = ["-m", "sense", "--set", "iterations=4", "--format", "h5"]
    whole, chunked = under_half_the_peak(many_coil_slices, args, tmp_path / "whole", tmp_path / "chunked")
    assert whole["plan"]["chunking"]["coil_map_slices_at_once"] == 8
    chunking = chunked["plan"]["chunking"]
    assert chunking["coil_map_slices_at_once"] == 1 or chunking["coils_at_once"] < 24, chunking
    a, b = _images(tmp_path / "chunked"), _images(tmp_path / "whole")
    assert np.linalg.norm(a - b) / np.linalg.norm(b) < 1e-5


def test_a_budget_too_small_exits_5_before_writing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [*RECON, "reconstruct", str(SAMPLE), "-m", "sense", "-o", str(out),
         "--max-memory", "100MiB"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 5, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert any("needs an estimated" in line and "radial_cine.h5" in line for line in lines), proc.stderr
    assert not out.exists()


def test_dry_run_writes_nothing_and_its_table_matches_its_json(tmp_path: Path) -> None:
    out = tmp_path / "out"
    base = [*RECON, "reconstruct", str(SAMPLE), str(tmp_path / "missing.h5"),
            "-m", "cs", "-o", str(out), "--dry-run", "--max-memory", "8GiB"]  # fmt: skip
    # a fixed budget: with the default (what the machine has free) two runs can plan differently
    env = {**os.environ, "COLUMNS": "200"}
    table = subprocess.run(base, capture_output=True, text=True, timeout=300, env=env)
    as_json = subprocess.run([*base, "--json"], capture_output=True, text=True, timeout=300, env=env)
    assert table.returncode == as_json.returncode == 3  # the missing file; the sample is still planned
    assert "missing.h5" in as_json.stderr and len(as_json.stderr.strip().splitlines()) == 1
    assert not out.exists()
    files = json.loads(as_json.stdout)["files"]
    plan, missing = files
    assert missing["ok"] is False and missing["exit_code"] == 3
    assert plan["ok"] and plan["per_slice"] == {"coils": 8, "frames": 20, "image_matrix": [128, 128],
                                                "samples_per_frame": 13 * 256}  # fmt: skip
    assert plan["operator"].startswith("NonCartesianSense") and plan["nufft_backend"] == "finufft"
    rows = dict(re.findall(r"^│ +(.+?) +│ +(\d+) MiB", table.stdout, re.MULTILINE))  # row label -> its MiB
    parts = {name: mib for name, mib in plan["estimate_mib"]["parts"].items() if mib}
    assert set(parts) <= set(rows), table.stdout
    # the baseline is each process's own resident memory, so the two runs may differ by a few MiB;
    # every other part is computed from the scan and must agree to the MiB
    for name, mib in parts.items():
        assert abs(int(rows[name]) - mib) <= (16 if name == "baseline" else 0.5), (name, rows[name], mib)
    peak = plan["estimate_mib"]["peak"]
    assert abs(int(rows["estimated peak"]) - peak) <= 16
    assert abs((int(rows["estimated peak"]) - int(rows["baseline"])) - (peak - parts["baseline"])) <= 1


def test_sizes_parse_in_si_and_binary_units() -> None:
    from recon_cli.errors import UsageError
    from recon_cli.memory.plan import parse_memory

    assert parse_memory("2GiB") == 2 * 2**30 and parse_memory("800MB") == 800 * 10**6
    assert parse_memory("1.5g") == 1_500_000_000 and parse_memory("4096") == 4096
    for bad in ("", "lots", "-1GiB", "2 parsecs", "0MB"):
        with pytest.raises(UsageError, match="--max-memory"):
            parse_memory(bad)


def test_the_estimate_is_the_sum_of_its_parts_and_chunks_shrink_only_the_coil_images() -> None:
    """Parts add up to the peak; halving the coil chunk removes half of the gridding's coil images."""
    from recon_cli.memory.estimate import COMPLEX, GRIDDING_COPIES, estimate_peak
    from recon_cli.memory.shapes import ScanShape
    from recon_cli.memory.working_set import WorkingSet

    shape = ScanShape("x.h5", "ismrmrd", 1, 30, 32, False, (10 * 256,), (192, 192), (192, 192))
    work = WorkingSet(images=2)
    whole = estimate_peak(shape, work, baseline=100 * 2**20, weights=0, estimate_maps=False)
    half = estimate_peak(shape, work, baseline=100 * 2**20, weights=0, coil_chunk=16, estimate_maps=False)
    for est in (whole, half):
        shown = {k: v for k, v in est.parts.items() if "in the baseline" not in k}
        assert sum(shown.values()) == est.total and est.peak_stage == "slice"
    coil_images = 30 * 192 * 192 * COMPLEX
    assert whole.total - half.total == GRIDDING_COPIES * 16 * coil_images

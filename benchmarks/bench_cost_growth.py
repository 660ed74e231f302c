"""How time and memory grow with the scan: matrix, coils and frames, each axis alone.

For zero-filled, sense, cs and imunne (shipped weights) on synthetic golden-angle radial cine (13 spokes
per frame, 2N samples per spoke, SNR 30), one process per run: the model's reconstruction of the slice is
timed (coil maps are estimated before the clock starts, so they do not hide the model's own growth), and
its working memory is the process's peak resident set (VmHWM) less what it held just before. The
exponent of each axis is the slope of a least-squares line through log(cost) against log(size); the goal
is linear (1.0) in coils and frames.

    python benchmarks/bench_cost_growth.py [--threads 1] [--cache runs.json] [--no-write]

Writes section "cost-growth" of docs/benchmarks.md and docs/cost_growth.png.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import benchmark_parser, load_average, pinned_env, run_json  # noqa: E402
from benchmarks.report import machine_line, markdown_table, publish  # noqa: E402

MODELS = ("zero-filled", "sense", "cs", "imunne")
BASE = {"matrix": 128, "coils": 8, "frames": 20}
AXES = {"matrix": (64, 128, 256), "coils": (4, 8, 16, 32), "frames": (10, 20, 40)}
MEMORY_FLOOR_MIB = 8.0  # smallest working set (at any size of an axis) that gets a memory exponent
PLOT = Path(__file__).resolve().parent.parent / "docs" / "cost_growth.png"

WORKER = """
import json, re, sys, time
import torch
torch.set_num_threads(int(sys.argv[3]))
from recon_cli.coils import estimate_maps
from recon_cli.io import read_scan
from recon_cli.reconstruct import load_model, reconstruct_scan
scan = read_scan(sys.argv[1])
model = load_model(sys.argv[2], device="cpu")
maps = estimate_maps(scan, method="espirit")
before = int(re.search(r"VmRSS:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) / 1024
start = time.perf_counter()
reconstruct_scan(scan, model, maps)
seconds = time.perf_counter() - start
status = open("/proc/self/status").read()
peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) / 1024
print(json.dumps({"seconds": seconds, "peak_mib": peak, "working_mib": max(peak - before, 1.0)}))
"""


def make_scan(folder: Path, matrix: int, coils: int, frames: int) -> Path:
    """A synthetic radial cine ISMRMRD file of this size (seeded; cached in ``folder``)."""
    import torch

    from recon_cli import phantoms
    from recon_cli.io.ismrmrd_write import write_ismrmrd
    from recon_cli.sampling import golden_angle_radial

    path = folder / f"cine_{matrix}_{coils}_{frames}.h5"
    if path.exists():
        return path
    gen = torch.Generator().manual_seed(2026)
    image = phantoms.cardiac_cine_phantom(matrix, frames, generator=gen)
    maps = phantoms.coil_maps(coils, (matrix, matrix), generator=gen)
    traj = torch.as_tensor(golden_angle_radial(13, frames, 2 * matrix))
    scan = phantoms.simulate_radial_cine(
        image, maps, traj, readout_length=2 * matrix, snr=30.0, generator=gen, frame_time_ms=40.0
    )
    return write_ismrmrd(path, scan)


def measure(path: Path, model: str, threads: int) -> dict[str, float]:
    return dict(run_json([sys.executable, "-c", WORKER, str(path), model, str(threads)], pinned_env(threads)))


def slope(sizes: list[int], costs: list[float]) -> float:
    """Least-squares exponent of cost ~ size^k."""
    return float(np.polyfit(np.log(sizes), np.log(costs), 1)[0])


def run(threads: int, cache: Path | None = None) -> dict[str, dict[str, list[dict[str, float]]]]:
    """Every (size, model) once; with ``cache`` (a JSON file) finished runs are kept and not repeated."""
    done: dict[str, dict[str, float]] = json.loads(cache.read_text()) if cache and cache.exists() else {}
    results: dict[str, dict[str, list[dict[str, float]]]] = {axis: {m: [] for m in MODELS} for axis in AXES}
    with tempfile.TemporaryDirectory() as tmp:
        for axis, sizes in AXES.items():
            for size in sizes:
                shape = {**BASE, axis: size}
                for model in MODELS:
                    key = f"{shape['matrix']}x{shape['coils']}x{shape['frames']}/{model}/{threads}"
                    if key not in done:
                        path = make_scan(Path(tmp), shape["matrix"], shape["coils"], shape["frames"])
                        done[key] = measure(path, model, threads)
                        if cache is not None:
                            cache.write_text(json.dumps(done, indent=1))
                    figures = done[key]
                    results[axis][model].append({"size": size, **figures})
                    print(f"{axis}={size} {model}: {figures['seconds']:.2f} s, {figures['peak_mib']:.0f} MiB")
    return results


def plot(results: dict[str, dict[str, list[dict[str, float]]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(AXES), figsize=(4 * len(AXES), 7), squeeze=False)
    for col, axis in enumerate(AXES):
        for row, (key, label) in enumerate(
            (("seconds", "time (s)"), ("working_mib", "working memory (MiB)"))
        ):
            ax = axes[row][col]
            for model in MODELS:
                points = results[axis][model]
                ax.loglog([p["size"] for p in points], [p[key] for p in points], "o-", label=model)
            ax.set_xlabel(axis)
            ax.set_ylabel(label)
            ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("recon: cost against scan size (log-log), one axis at a time")
    fig.tight_layout()
    fig.savefig(PLOT, dpi=90)


def report(results: dict[str, dict[str, list[dict[str, float]]]], threads: int) -> str:
    header = ["model", *(f"{axis} exponent (time / memory)" for axis in AXES)]
    rows = []
    for model in MODELS:
        cells = [f"`{model}`"]
        for axis in AXES:
            points = results[axis][model]
            sizes = [int(p["size"]) for p in points]
            t = slope(sizes, [p["seconds"] for p in points])
            memory = [p["working_mib"] for p in points]
            # below a few MiB the working set is lost in the allocator's granularity: no exponent
            m = f"{slope(sizes, memory):.2f}" if min(memory) >= MEMORY_FLOOR_MIB else "-"
            cells.append(f"{t:.2f} / {m}")
        rows.append(cells)
    detail = ["model", "axis", "size", "seconds", "working MiB", "peak MiB"]
    detail_rows = [
        [
            f"`{model}`",
            axis,
            int(p["size"]),
            f"{p['seconds']:.2f}",
            f"{p['working_mib']:.0f}",
            f"{p['peak_mib']:.0f}",
        ]
        for axis in AXES
        for model in MODELS
        for p in results[axis][model]
    ]
    base = ", ".join(f"{k} {v}" for k, v in BASE.items())
    return "\n\n".join(
        [
            "## cost-growth: time and memory against matrix, coils and frames",
            f"{machine_line()} {threads} thread(s) per run, one process per run. Command: "
            "`python benchmarks/bench_cost_growth.py`.",
            f"Each axis varies alone from {base} (13 golden-angle spokes per frame, 2N samples per spoke). "
            "Time: the model's reconstruction of the slice, coil maps estimated before the clock starts. "
            "Working memory: the process's peak resident set (VmHWM) less its resident set just before "
            "the reconstruction (scan and maps already in memory); the peak itself, with about "
            f"{_baseline(results):.0f} MiB of interpreter and libraries, is in the detail table. "
            "Exponent k of cost ~ size^k (least squares in log-log); goal: about 1 for coils and frames "
            "(the matrix axis counts pixels along one side, so 2 is linear in pixels). A memory exponent "
            f"is shown only where every working set of the axis is at least {MEMORY_FLOOR_MIB:.0f} MiB "
            "(smaller ones are within the allocator's granularity; see the detail table).",
            markdown_table(header, rows),
            "![cost growth](cost_growth.png)",
            f"Load average when the report was written: {load_average():.1f} on "
            f"{os.cpu_count()} cores (the runs are cached with --cache and may span several loads; "
            "other jobs slow the times, not the memory).",
            "<details><summary>every run</summary>\n\n"
            + markdown_table(detail, detail_rows)
            + "\n\n</details>",
        ]
    )


def _baseline(results: dict[str, dict[str, list[dict[str, float]]]]) -> float:
    return min(p["peak_mib"] for axis in results.values() for points in axis.values() for p in points)


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__, threads=1)
    parser.add_argument("--cache", type=Path, help="JSON file that keeps finished runs (resume a long run)")
    args = parser.parse_args(argv)
    results = run(args.threads, args.cache)
    if not args.no_write:
        plot(results)
    publish("cost-growth", report(results, args.threads), write=not args.no_write)
    return (
        0 if all(math.isfinite(p["seconds"]) for a in results.values() for m in a.values() for p in m) else 1
    )


if __name__ == "__main__":
    raise SystemExit(main())

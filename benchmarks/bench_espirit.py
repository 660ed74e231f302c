"""ESPIRiT speed and agreement: recon's torch ESPIRiT vs ``bart ecalib`` vs sigpy's EspiritCalib.

One data set for all: BART's analytic phantom k-space, 8 coils, 256 x 256 (``bart phantom -k -s 8
-x 256``), calibrated from its central 24 x 24 samples with 6 x 6 kernels, singular-value threshold
0.02 (``bart ecalib -t 0.0004``: BART compares with the square root), crop 0.95, one set of maps.

Each tool runs in its own process with 2 threads. BART is timed as the wall time of the ``ecalib``
command minus the start-up time of a trivial BART command (``bart ones``); its time includes reading the
k-space and writing the maps (a few MB). recon and sigpy are timed in memory after one warm-up call. The
machine may be shared, so every tool is run several times in two interleaved passes and the minimum is
the headline figure (the median is shown too). Map agreement: correlation with BART's maps inside BART's
support, directly and after per-pixel phase alignment.

Run: ``python benchmarks/bench_espirit.py`` (needs ``bart``); writes the "espirit" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make `benchmarks` and `recon_cli` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import harness  # noqa: E402

THREADS = 2
SIZE, COILS, CALIB, KERNEL, THRESHOLD, CROP = 256, 8, 24, 6, 0.02, 0.95
ECALIB = ["ecalib", "-m", "1", "-r", str(CALIB), "-k", str(KERNEL), "-t", str(THRESHOLD**2), "-c", str(CROP)]
REPEATS = {"recon": 5, "recon-exact": 3, "bart": 5, "sigpy": 2}
WORKERS = ("recon", "recon-exact", "sigpy")
ENV = harness.pinned_env(THREADS)


def _worker(tool: str, folder: Path, repeats: int) -> None:
    """In a child process: time ``repeats`` calls after a warm-up, save the maps, print the times."""
    import torch

    torch.set_num_threads(THREADS)
    from recon_cli.coils import espirit_maps

    kspace = torch.from_numpy(harness.coil_images_from_cfl(folder / "k"))
    backend = "sigpy" if tool == "sigpy" else "torch"
    grid = SIZE if tool == "recon-exact" else None  # eigenvectors on the full grid, as BART

    def run() -> torch.Tensor:
        return espirit_maps(
            kspace,
            calib_width=CALIB,
            kernel_width=KERNEL,
            threshold=THRESHOLD,
            crop=CROP,
            grid=grid,
            backend=backend,
        )

    np.save(folder / f"{tool}.npy", harness.print_times(run, repeats).numpy())


def correlation(ours: np.ndarray, ref: np.ndarray, align: bool) -> float:
    """|<ours, ref>| / norms over ``ref``'s support; ``align``: per-pixel phase alignment first."""
    support = np.abs(ref).sum(0) > 0
    a, b = ours[:, support], ref[:, support]
    if align:
        inner = np.sum(a.conj() * b, axis=0)
        a = a * inner / np.maximum(np.abs(inner), 1e-30)
    return float(abs(np.vdot(a, b)) / (np.linalg.norm(a) * np.linalg.norm(b)))


def measure(folder: Path) -> dict[str, object]:
    """Make the data, time every tool in two interleaved passes, compare the maps."""
    harness.run_checked(["bart", "phantom", "-k", "-s", str(COILS), "-x", str(SIZE), "k"], cwd=folder)
    times: dict[str, list[float]] = {tool: [] for tool in [*REPEATS, "startup"]}
    load = [harness.load_average()]
    for _ in range(2):
        times["startup"] += harness.bart_times(["ones", "1", "1", "one"], folder, 5, ENV)
        times["bart"] += harness.bart_times([*ECALIB, "k", "s"], folder, REPEATS["bart"], ENV)
        for tool in WORKERS:
            times[tool] += harness.worker_times(__file__, tool, folder, REPEATS[tool], ENV)
    load.append(harness.load_average())
    ref = harness.coil_images_from_cfl(folder / "s")
    maps = {tool: np.load(folder / f"{tool}.npy") for tool in WORKERS}
    agreement = {
        tool: {"direct": correlation(m, ref, False), "aligned": correlation(m, ref, True)}
        for tool, m in maps.items()
    }
    return {"times": times, "agreement": agreement, "load": load}


def _labels() -> dict[str, str]:
    from recon_cli.coils.espirit import GRID_PER_KERNEL

    grid = 2 * math.ceil(GRID_PER_KERNEL * KERNEL / 2)
    return {
        "bart": "`bart ecalib` (C, OpenMP)",
        "recon": f"recon `espirit_maps` (torch; eigenvectors on a {grid} x {grid} grid, cubic-interpolated)",
        "recon-exact": f"recon `espirit_maps(grid={SIZE})` (eigenvectors on the full grid, as BART)",
        "sigpy": "sigpy `EspiritCalib` (numpy)",
    }


def render(result: dict) -> str:
    """The markdown section."""
    import torch

    torch.set_num_threads(THREADS)
    times, agreement, labels = result["times"], result["agreement"], _labels()
    startup, best, median = harness.versus_bart_times(times, list(labels))
    rows: list[list[object]] = []
    for tool, label in labels.items():
        corr = "reference"
        if tool != "bart":
            corr = f"{agreement[tool]['aligned']:.5f} ({agreement[tool]['direct']:.5f})"
        ratio = best[tool] / best["bart"]
        rows.append([label, f"{best[tool]:.3f}", f"{median[tool]:.3f}", f"{ratio:.2f}x", corr])
    header = ["tool", "best (s)", "median (s)", "best vs bart", "correlation with bart: aligned (direct)"]
    corr = agreement["recon"]["aligned"]
    met = best["recon"] <= best["bart"] and corr >= 0.999
    setup = (
        f"BART phantom k-space, {COILS} coils, {SIZE} x {SIZE}; calibration {CALIB} x {CALIB}, kernel "
        f"{KERNEL}, threshold {THRESHOLD} (`{' '.join(['bart', *ECALIB])}`), crop {CROP}, one set of maps; "
        f"{THREADS} threads per tool, each in its own process. "
        + harness.versus_bart_note("the command", startup, result["load"])
    )
    goal = (
        f"Goal (no slower than `bart ecalib`, map correlation >= 0.999): **{'met' if met else 'not met'}**: "
        f"recon {best['recon']:.3f} s vs bart {best['bart']:.3f} s (best of {len(times['recon'])} and "
        f"{len(times['bart'])} runs), correlation {corr:.5f}."
    )
    return harness.versus_bart_section("## ESPIRiT: recon vs bart ecalib vs sigpy", setup, header, rows, goal)


def main(argv: list[str] | None = None) -> int:
    parser = harness.worker_parser(__doc__, WORKERS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.data, args.repeats)
        return 0
    return harness.measure_against_bart("espirit", measure, render, write=not args.no_write)


if __name__ == "__main__":
    raise SystemExit(main())

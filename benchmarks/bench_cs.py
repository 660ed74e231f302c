"""L1-wavelet compressed sensing: recon's ``cs`` vs ``bart pics -l1`` vs sigpy's ``L1WaveletRecon``.

One data set for all: BART's analytic phantom k-space (``bart phantom -k -s 8 -x 256``: 8 coils,
256 x 256, no inverse crime), ESPIRiT maps from ``bart ecalib -m 1`` on the fully sampled data, and a
seeded 2D variable-density mask (R ~ 4, fully sampled 16 x 16 centre). Every tool solves
min_x 1/2 ||M F S x - y||^2 + lam ||W x||_1 with the same lam (BART's data scaling switched off with
``-w 1``; ours with ``scale_data=false``) for 50 iterations from its own default start; they differ in
the wavelet: BART Daubechies-2 with random shifts, recon Daubechies-2 (orthonormal, periodized) with
seeded random shifts, sigpy Daubechies-4 (pywt, zero padding) without shifts. Accuracy: NRMSE against
the fully sampled image combined with the same maps.

Each tool runs in its own process with 2 threads (``OMP_WAIT_POLICY=passive``: BART's spinning OpenMP
threads otherwise crawl on a shared machine). BART is timed as the wall time of ``pics`` minus the
start-up time of a trivial BART command (``bart ones``); its time includes reading and writing a few MB.
recon and sigpy are timed in memory after a warm-up call, including their step-size power iterations
(recon 15, sigpy 30). Every tool is run several times in two interleaved passes; the best time is the
headline (the machine may be shared), the median is shown too.

Run: ``python benchmarks/bench_cs.py`` (needs ``bart``); writes the "cs" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make `benchmarks` and `recon_cli` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import harness  # noqa: E402

THREADS = 2
SIZE, COILS, ACCELERATION, ITERATIONS, SEED = 256, 8, 4.0, 50, 0
LAM_RELATIVE = 0.002  # lam as a fraction of the zero-filled image's 99th-percentile magnitude (cs default)
REPEATS = {"recon": 3, "recon-db4": 3, "bart": 3, "sigpy": 2}
WORKERS = ("recon", "recon-db4", "sigpy")
ENV = harness.pinned_env(THREADS, OMP_WAIT_POLICY="passive")


def variable_density_mask(size: int, acceleration: float, seed: int) -> np.ndarray:
    """Seeded 2D mask: Gaussian density around the centre, fully sampled 16 x 16 centre. (size, size)."""
    y, x = np.meshgrid(np.arange(size) - size // 2, np.arange(size) - size // 2, indexing="ij")
    density = np.exp(-((y / (size / 2)) ** 2 + (x / (size / 2)) ** 2) / 0.18)
    density *= size * size / acceleration / density.sum()
    mask = np.random.default_rng(seed).random((size, size)) < np.clip(density, 0, 1)
    return mask | ((np.abs(y) < 8) & (np.abs(x) < 8))


def make_data(folder: Path) -> dict[str, float]:
    """Phantom, maps, mask, undersampled k-space (.cfl and .npy), truth and lam in ``folder``."""
    for args in (
        ["phantom", "-k", "-s", str(COILS), "-x", str(SIZE), "full"],
        ["ecalib", "-m", "1", "full", "maps"],
    ):
        harness.run_checked(["bart", *args], ENV, folder)
    full, maps = harness.coil_images_from_cfl(folder / "full"), harness.coil_images_from_cfl(folder / "maps")
    mask = variable_density_mask(SIZE, ACCELERATION, SEED)
    under = full * mask
    harness.coil_images_to_cfl(folder / "under", under)
    coil_images = np.fft.fftshift(
        np.fft.ifft2(np.fft.ifftshift(full, axes=(-2, -1)), norm="ortho"), axes=(-2, -1)
    )
    truth = np.sum(np.conj(maps) * coil_images, axis=0)
    zero_filled = np.sum(
        np.conj(maps)
        * np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(under, axes=(-2, -1)), norm="ortho"), axes=(-2, -1)),
        axis=0,
    )
    np.savez(folder / "data.npz", under=under, maps=maps, mask=mask, truth=truth, zero_filled=zero_filled)
    lam = LAM_RELATIVE * float(np.quantile(np.abs(zero_filled), 0.99))
    return {"lam": lam, "acceleration": float(mask.size / mask.sum())}


def _recon_runner(tool: str, data: dict[str, np.ndarray], lam: float):  # noqa: ANN202 - a closure
    import torch

    from recon_cli.ops.cartesian import CartesianSense
    from recon_cli.registry import load_plugin, resolve_config

    plugin = load_plugin("cs")
    options: dict[str, object] = {
        "lam_wavelet": lam,
        "lam_tv": 0.0,
        "iterations": ITERATIONS,
        "scale_data": False,
    }
    if tool == "recon-db4":
        options.update(wavelet="db4", cycle_spinning=False)
    model = plugin.build(resolve_config(plugin, options))
    maps = torch.from_numpy(data["maps"])
    op = CartesianSense(tuple(data["under"].shape), mask=torch.from_numpy(data["mask"]), maps=maps)
    kspace = torch.from_numpy(data["under"]).unsqueeze(0)

    def run() -> np.ndarray:
        with torch.inference_mode():
            return model(kspace, op)[0].numpy()

    return run


def _sigpy_runner(data: dict[str, np.ndarray], lam: float):  # noqa: ANN202 - a closure
    import sigpy.mri.app

    def run() -> np.ndarray:
        app = sigpy.mri.app.L1WaveletRecon(
            data["under"], data["maps"], lam, weights=data["mask"].astype(np.float32),
            max_iter=ITERATIONS, show_pbar=False,
        )  # fmt: skip
        return np.asarray(app.run())

    return run


def _worker(tool: str, folder: Path, repeats: int, lam: float) -> None:
    """In a child process: a warm-up call, then ``repeats`` timed calls; saves the image, prints times."""
    import torch

    torch.set_num_threads(THREADS)
    data = dict(np.load(folder / "data.npz"))
    run = _sigpy_runner(data, lam) if tool == "sigpy" else _recon_runner(tool, data, lam)
    np.save(folder / f"{tool}.npy", harness.print_times(run, repeats))


def nrmse(image: np.ndarray, truth: np.ndarray) -> float:
    """||image - truth|| / ||truth||."""
    return float(np.linalg.norm(image - truth) / np.linalg.norm(truth))


def measure(folder: Path) -> dict[str, object]:
    """Make the data, time every tool in two interleaved passes, score the images."""
    setup = make_data(folder)
    lam = setup["lam"]
    pics = ["pics", "-l1", "-r", repr(lam), "-w", "1", "-i", str(ITERATIONS), "under", "maps", "bart"]
    times: dict[str, list[float]] = {tool: [] for tool in [*REPEATS, "startup"]}
    load = [harness.load_average()]
    for _ in range(2):
        times["startup"] += harness.bart_times(["ones", "2", str(SIZE), str(SIZE), "one"], folder, 5, ENV)
        times["bart"] += harness.bart_times(pics, folder, REPEATS["bart"], ENV)
        for tool in WORKERS:
            times[tool] += harness.worker_times(
                __file__, tool, folder, REPEATS[tool], ENV, "--lam", repr(lam)
            )
    load.append(harness.load_average())
    data = np.load(folder / "data.npz")
    images = {tool: np.load(folder / f"{tool}.npy") for tool in WORKERS}
    images["bart"] = harness.coil_images_from_cfl(folder / "bart")[0]
    images["zero-filled"] = data["zero_filled"]
    errors = {tool: nrmse(image, data["truth"]) for tool, image in images.items()}
    agreement = nrmse(images["recon"], images["bart"])
    return {"times": times, "errors": errors, "agreement": agreement, "load": load, **setup}


LABELS = {
    "recon": "recon `cs` (torch; FISTA, db2, cycle spinning)",
    "recon-db4": "recon `cs` with `wavelet=db4 cycle_spinning=false` (Daubechies-4 as sigpy, no shifts)",
    "bart": "`bart pics -l1` v0.8 (C, OpenMP; FISTA, dau2, random shifts)",
    "sigpy": "sigpy `L1WaveletRecon` 0.1.27 (numpy; FISTA, db4)",
}


def render(result: dict) -> str:
    """The markdown section."""
    import torch

    torch.set_num_threads(THREADS)
    times, errors = result["times"], result["errors"]
    startup, best, median = harness.versus_bart_times(times, list(LABELS))
    rows: list[list[object]] = [
        [label, f"{best[t]:.3f}", f"{median[t]:.3f}", f"{best[t] / best['sigpy']:.2f}x",
         f"{best[t] / best['bart']:.2f}x", f"{errors[t]:.4f}", f"{errors[t] / errors['bart']:.3f}"]
        for t, label in LABELS.items()
    ]  # fmt: skip
    rows.append(
        ["zero-filled (maps-combined inverse FFT)", "", "", "", "", f"{errors['zero-filled']:.4f}", ""]
    )
    header = ["tool", "best (s)", "median (s)", "time / sigpy", "time / bart", "NRMSE", "NRMSE / bart"]
    accurate, fast = errors["recon"] <= errors["bart"], best["recon"] <= best["sigpy"]
    setup = (
        f"BART phantom k-space (`bart phantom -k -s {COILS} -x {SIZE}`), maps from `bart ecalib -m 1`, a "
        f"seeded 2D variable-density mask (R = {result['acceleration']:.2f}, 16 x 16 centre), "
        f"lam = {result['lam']:.3g} ({LAM_RELATIVE} x the zero-filled image's 99th-percentile magnitude) "
        f"for every tool, {ITERATIONS} "
        f"iterations, no data scaling (`-w 1`, `scale_data=false`). {THREADS} threads per tool, each in its "
        "own process. "
        + harness.versus_bart_note("`pics`", startup, result["load"], ", step-size power iterations included")
    )
    goal = (
        f"Goal (as accurate as `bart pics`, no slower than sigpy's L1WaveletRecon): accuracy "
        f"**{'met' if accurate else 'not met'}** (NRMSE {errors['recon']:.4f} vs bart {errors['bart']:.4f}), "
        f"speed **{'met' if fast else 'not met'}** ({best['recon']:.3f} s vs sigpy {best['sigpy']:.3f} s, "
        f"bart {best['bart']:.3f} s). recon and bart images differ by {result['agreement']:.1%} (NRMSE of "
        f"recon against bart): the same problem, different random shifts and starting points."
    )
    title = "## L1-wavelet compressed sensing: recon `cs` vs bart pics vs sigpy (`benchmarks/bench_cs.py`)"
    return harness.versus_bart_section(title, setup, header, rows, goal)


def main(argv: list[str] | None = None) -> int:
    parser = harness.worker_parser(__doc__, WORKERS)
    parser.add_argument("--lam", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.data, args.repeats, args.lam)
        return 0
    return harness.measure_against_bart("cs", measure, render, write=not args.no_write)


if __name__ == "__main__":
    raise SystemExit(main())

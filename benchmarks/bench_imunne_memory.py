"""Training memory and time of IMUNNE (implicit, JFB) against Alt-UN (unrolled) as the iterations grow.

On one synthetic radial cine slice (phantom, birdcage coil maps given to the operator, golden-angle
spokes), for ``imunne`` with at most K fixed-point iterations and tolerance 0 (so exactly K run, the last
one differentiated) and for
``alt-un`` with K blocks, K = 1, 5, 10, 20, this measures one training step: forward + L1 loss against
the ground-truth image + backward. Each (model, K) runs in its own subprocess with 2 threads, reporting

* the bytes autograd saves for the backward pass (``torch.autograd.graph.saved_tensors_hooks``; exact);
* the peak resident-memory increase of the step over the process's level just before it
  (``resource.getrusage`` maxrss after the step minus before; the baseline is taken after building the
  data and the model and one warm-up forward under ``no_grad``, since maxrss never decreases);
* the step time, median of ``STEP_REPEATS`` steps after the measured (warm-up) step.

The K = 5 speed ratio, which the issue's goal is about, is measured once more paired: both models in one
process, one step of each back to back in every round, so that the machine's load changes during the run
reach both sides of each ratio alike; the verdict uses the median of these ratios.

The networks have the settings of the shipped weights (``recon models``: view-shared input, smoothed
SENSE start, ...), untrained for the training rows. It also times inference of one cine slice with the
shipped weights and settings (eval mode: ``imunne``, ``alt-un``; ``cs`` with its defaults).
Results go to the "imunne-memory" section of docs/benchmarks.md.

    python benchmarks/bench_imunne_memory.py [--quick] [--no-write]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import benchmark_parser, load_average, pinned_env, repeat_timed, run_json  # noqa: E402
from benchmarks.report import machine_line, markdown_table, publish  # noqa: E402

ITERATIONS = (1, 5, 10, 20)
THREADS = 2
STEP_REPEATS = 7
PAIR_REPEATS = 15
MIB = 2**20
# matrix, frames, coils, spokes per frame (readout 2 x matrix)
FULL = {"matrix": 64, "frames": 10, "coils": 8, "spokes": 13}
QUICK = {"matrix": 32, "frames": 4, "coils": 4, "spokes": 8}


def _data(sizes: dict[str, int]):
    """(target image, k-space of the slice, operator with the true maps) of a synthetic radial cine."""
    from recon_cli.phantoms import cardiac_cine_phantom, coil_maps, simulate_radial_cine
    from recon_cli.reconstruct import build_operator
    from recon_cli.sampling import golden_angle_radial

    n, frames = sizes["matrix"], sizes["frames"]
    gen = torch.Generator().manual_seed(0)
    image = cardiac_cine_phantom(n, frames, generator=gen)
    maps = coil_maps(sizes["coils"], (n, n), generator=gen)
    traj = torch.from_numpy(golden_angle_radial(sizes["spokes"], frames, 2 * n))
    scan = simulate_radial_cine(image, maps, traj, readout_length=2 * n, snr=40.0, generator=gen)
    return image.to(torch.complex64), scan.kspace[0], build_operator(scan, 0, maps)


def untrained_shipped(name: str, overrides: dict[str, object]) -> torch.nn.Module:
    """``name`` untrained, with the shipped weights' settings and ``overrides``."""
    from recon_cli.registry import load_plugin, resolve_config

    plugin = load_plugin(name)
    torch.manual_seed(0)
    return plugin.build(resolve_config(plugin, {**_shipped(name), **overrides}))


def _shipped(name: str) -> dict[str, object]:
    """The settings ``name`` reconstructs with: its shipped weights' config over the defaults."""
    import dataclasses

    from recon_cli.reconstruct import load_model

    return dataclasses.asdict(load_model(name, device="cpu").config)


def _default(name: str, key: str) -> object:
    """A shipped setting of a plugin (for the report's text)."""
    return _shipped(name)[key]


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def _overrides(name: str, k: int) -> dict[str, object]:
    """Config of ``name`` at K: exactly K fixed-point iterations (tolerance 0) or K unrolled blocks."""
    return {"iterations": k, "train_iterations": k, "tol": 0.0} if name == "imunne" else {"blocks": k}


def _stepper(model: torch.nn.Module, target: torch.Tensor, kspace: torch.Tensor, op: object):  # noqa: ANN202
    """A function running one training step of ``model`` (forward, L1 loss, backward) and timing it."""

    def step() -> float:
        start = time.perf_counter()
        loss = (model(kspace, op) - target).abs().mean()
        loss.backward()
        model.zero_grad(set_to_none=True)
        return time.perf_counter() - start

    return step


def train_worker(name: str, k: int, sizes: dict[str, int]) -> dict[str, float]:
    """One (model, K): saved-tensor bytes, peak RSS increase and median step time of a training step."""
    target, kspace, op = _data(sizes)
    model = untrained_shipped(name, _overrides(name, k)).train()
    with torch.no_grad():
        model(kspace, op)  # warm-up: allocator, FFT plans, NUFFT set-up
    gc.collect()
    saved = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal saved
        saved += t.numel() * t.element_size()
        return t

    step = _stepper(model, target, kspace, op)
    before = _maxrss_bytes()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step()
    after = _maxrss_bytes()
    times = [step() for _ in range(STEP_REPEATS)]
    return {"saved": saved, "rss": after - before, "step": statistics.median(times)}


def pair_worker(k: int, sizes: dict[str, int]) -> dict[str, list[float]]:
    """Step-time ratios Alt-UN / IMUNNE at K, both models in one process, their steps interleaved.

    Each of ``PAIR_REPEATS`` rounds times one step of each model back to back (which goes first
    alternates), so a change in the machine's load during the run reaches both sides of a ratio alike.
    """
    target, kspace, op = _data(sizes)
    steps = {}
    for name in ("imunne", "alt-un"):
        model = untrained_shipped(name, _overrides(name, k)).train()
        steps[name] = _stepper(model, target, kspace, op)
        steps[name]()  # warm-up step
    ratios = []
    for round_ in range(PAIR_REPEATS):
        order = ("imunne", "alt-un") if round_ % 2 == 0 else ("alt-un", "imunne")
        times = {name: steps[name]() for name in order}
        ratios.append(times["alt-un"] / times["imunne"])
    return {"ratios": ratios}


def infer_worker(name: str, sizes: dict[str, int], repeats: int) -> dict[str, float]:
    """Median seconds to reconstruct the slice in eval mode with the shipped weights and settings (after
    a warm-up)."""
    from recon_cli.reconstruct import load_model

    _, kspace, op = _data(sizes)
    model = load_model(name, device="cpu").module

    def run() -> None:
        with torch.inference_mode():
            model(kspace, op)

    times, _ = repeat_timed(run, repeats + 1)
    info = getattr(model, "last_info", None)
    return {"seconds": statistics.median(times[1:]), "iterations": getattr(info, "iterations", -1)}


def _run(args: list[str]) -> dict[str, float]:
    """Run this script as a worker with ``THREADS`` threads; its JSON result (last stdout line)."""
    return dict(run_json([sys.executable, __file__, *args], pinned_env(THREADS)))


def _check(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__, quick="smaller data (a smoke run)")
    parser.add_argument("--worker", nargs=2, metavar=("MODEL", "K"), help=argparse.SUPPRESS)
    parser.add_argument("--infer", metavar="MODEL", help=argparse.SUPPRESS)
    parser.add_argument("--pair", metavar="K", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated")
    sizes = QUICK if args.quick else FULL
    if args.worker or args.infer or args.pair:
        torch.set_num_threads(THREADS)
        if args.worker:
            result = train_worker(args.worker[0], int(args.worker[1]), sizes)
        elif args.pair:
            result = pair_worker(args.pair, sizes)
        else:
            result = infer_worker(args.infer, sizes, repeats=1 if args.infer == "cs" else 3)
        print(json.dumps(result))
        return 0

    quick = ["--quick"] if args.quick else []
    results: dict[tuple[str, int], dict[str, float]] = {}
    rows: list[list[object]] = []
    for name in ("imunne", "alt-un"):
        for k in ITERATIONS:
            r = results[name, k] = _run(["--worker", name, str(k), *quick])
            rows.append([name, k, f"{r['saved'] / MIB:.1f}", f"{r['rss'] / MIB:.1f}", f"{r['step']:.3f}"])
            print(" | ".join(str(c) for c in rows[-1]), flush=True)
    ratios = sorted(_run(["--pair", "5", *quick])["ratios"])
    paired = statistics.median(ratios)
    print(f"paired K = 5 ratios: {', '.join(f'{r:.2f}' for r in ratios)}", flush=True)
    inference: list[list[object]] = []
    for name in ("imunne", "alt-un", "cs"):
        r = _run(["--infer", name, *quick])
        detail = {
            "imunne": f"{int(r['iterations'])} iterations run (max {_default('imunne', 'iterations')}, "
            f"tol {_default('imunne', 'tol'):g}), shipped weights",
            "alt-un": f"{_default('alt-un', 'blocks')} blocks, shipped weights",
        }
        note = detail.get(name, "default config (50 FISTA iterations)")
        inference.append([name, f"{r['seconds']:.3f}", note])
        print(" | ".join(str(c) for c in inference[-1]), flush=True)

    im_saved = [results["imunne", k]["saved"] for k in ITERATIONS]
    im_rss = [results["imunne", k]["rss"] for k in ITERATIONS]
    alt_saved = [results["alt-un", k]["saved"] for k in ITERATIONS]
    im5, alt5 = results["imunne", 5], results["alt-un", 5]
    flat = max(im_saved) <= 1.1 * min(im_saved)
    flat_rss = max(im_rss) <= 1.1 * min(im_rss)
    grows = all(b > a for a, b in zip(alt_saved, alt_saved[1:], strict=False))
    speedup = alt5["step"] / im5["step"]
    mem_ratio = im5["saved"] / alt5["saved"]
    rss_ratio = im5["rss"] / alt5["rss"] if alt5["rss"] > 0 else float("nan")
    goals = [
        f"- IMUNNE's training memory flat in K (within 10%): saved tensors "
        f"{min(im_saved) / MIB:.1f}-{max(im_saved) / MIB:.1f} MiB, {_check(flat)}; peak RSS increase "
        f"{min(im_rss) / MIB:.1f}-{max(im_rss) / MIB:.1f} MiB, {_check(flat_rss)} (RSS is page-granular and "
        "includes allocator slack, so the saved-tensor figure is the exact one).",
        f"- Alt-UN's memory grows with K: saved tensors "
        f"{', '.join(f'{b / MIB:.1f}' for b in alt_saved)} MiB for K = {', '.join(map(str, ITERATIONS))}, "
        f"{_check(grows)}.",
        f"- At K = 5, IMUNNE's step at least 2x faster than Alt-UN's: {im5['step']:.3f} s vs "
        f"{alt5['step']:.3f} s ({speedup:.2f}x) in the table's separate processes; interleaved in one "
        f"process, the median of {PAIR_REPEATS} paired ratios is {paired:.2f}x (range "
        f"{ratios[0]:.2f}-{ratios[-1]:.2f}x), {_check(paired >= 2)} (the verdict uses the paired median).",
        f"- At K = 5, IMUNNE's memory under half of Alt-UN's: saved tensors {mem_ratio:.2f}x, "
        f"{_check(mem_ratio < 0.5)}; peak RSS increase {rss_ratio:.2f}x, {_check(rss_ratio < 0.5)}.",
    ]
    shape = (
        f"{sizes['matrix']}x{sizes['matrix']}, {sizes['frames']} frames, {sizes['coils']} coils, "
        f"{sizes['spokes']} golden-angle spokes x {2 * sizes['matrix']} samples per frame"
    )
    markdown = "\n\n".join(
        [
            "## IMUNNE vs Alt-UN: training memory and time against iterations "
            "(`benchmarks/bench_imunne_memory.py`)",
            machine_line().replace(f"with {torch.get_num_threads()} CPU", f"with {THREADS} CPU")
            + f" Load average at the start: {load_average():.1f} (a shared machine). CPU figures only.",
            f"One synthetic radial cine slice ({shape}; true coil maps in the operator), the networks "
            f"with the shipped weights' settings (CU-Net {_default('imunne', 'chans')} channels, depth "
            f"{_default('imunne', 'depth')}, view-shared input {_default('imunne', 'view_share')}, "
            f"smoothed SENSE start weight {_default('imunne', 'start_smoothing'):g}; IMUNNE "
            f"{'with' if _default('imunne', 'contractive') else 'without'} the contractive regulariser), "
            "untrained. Training step: forward + L1 loss against the ground truth + backward; `imunne` "
            "with at most K iterations and tolerance 0 (exactly K run, the first K - 1 without a graph and "
            "the last one backpropagated: Jacobian-free backpropagation), `alt-un` with K blocks "
            "backpropagated end to end. Each row is its own process with 2 threads. Saved tensors: bytes "
            "autograd keeps for backward (exact, from `saved_tensors_hooks`). Peak RSS increase: maxrss "
            "after the step minus maxrss after building data and model and one `no_grad` warm-up forward. "
            f"Step: median of {STEP_REPEATS} steps after the measured one. The K = 5 speed ratio is also "
            "measured paired: both models built in one process, one step of each back to back per round "
            "(alternating which goes first), so that load changes on the machine reach both alike.",
            markdown_table(["model", "K", "saved-tensor MiB", "peak RSS increase MiB", "step s"], rows),
            "Goals (from the issue):",
            "\n".join(goals),
            "Inference of the same slice (eval mode, shipped weights and settings, median of 3 after a "
            "warm-up; `cs` with its defaults, median of 1 after a warm-up; the true coil maps of all "
            f"{sizes['coils']} coils, no coil compression):",
            markdown_table(["model", "s per cine slice", "note"], inference),
            "Produced by `python benchmarks/bench_imunne_memory.py"
            + (" --quick" if args.quick else "")
            + "`.",
        ]
    )
    publish("imunne-memory", markdown, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

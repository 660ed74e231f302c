"""DEQ backward modes: implicit differentiation (IFT) against SHINE and Jacobian-free backprop (JFB).

On ``synthetic:brain`` (MNI152 template slices, single-coil Cartesian, random 4x mask with an 8 % fully
sampled centre, SNR 30, 64 x 64), the ``deq`` model is trained once per backward mode from the same
initialisation, on the same sequence of examples, for the same number of optimiser steps (AdamW, cosine
schedule, L1 loss on magnitudes, as ``recon train`` computes it). Every step times

* the forward pass (Broyden solve plus the one differentiable application of the step), and
* the backward pass (``loss.backward()``: the IFT backward solve, SHINE's low-rank product, or nothing),

each reported as the median over the steps. The trained models then reconstruct the held-out ``test``
slices (fixed masks and noise) in eval mode; PSNR, SSIM and NRMSE (``recon_cli.metrics``, per slice,
averaged) are reported next to the zero-filled reconstruction. Results go to the "deq" section of
docs/benchmarks.md.

    python benchmarks/bench_deq.py [--steps 600] [--threads 1] [--quick] [--no-write]
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import benchmark_parser, load_average  # noqa: E402
from benchmarks.report import machine_line, markdown_table, publish  # noqa: E402

MODES = (
    ("ift", {"backward": "ift"}),
    ("shine", {"backward": "shine"}),
    ("shine + fallback", {"backward": "shine", "shine_fallback": 10.0}),
    ("jfb", {"backward": "jfb"}),
)


def _data(quick: bool):
    """(training set, test set) of ``synthetic:brain``, single-coil, 4x random Cartesian."""
    from recon_cli.train.brain import BrainSlices
    from recon_cli.train.config import DataConfig

    config = DataConfig(matrix=32 if quick else 64, coils=1, acceleration=4.0, mask="random", snr=30.0)
    train = BrainSlices(config, part="train", seed=0, fresh=True, needs_maps=True)
    test = BrainSlices(config, part="test", seed=1, fresh=False, needs_maps=True)
    return train, test


def _metrics(outputs: list[torch.Tensor], examples: list[dict]) -> dict[str, float]:
    """PSNR, SSIM, NRMSE averaged over the test slices."""
    from recon_cli.train.objective import image_metrics

    rows = [image_metrics(out, ex["target"]) for out, ex in zip(outputs, examples, strict=True)]
    return {k: statistics.fmean(r[k] for r in rows) for k in ("psnr", "ssim", "nrmse")}


def train_mode(overrides: dict[str, object], steps: int, train_set, test: list[dict]) -> dict[str, float]:
    """Train one ``deq`` model; per-step timings, solver statistics and test metrics."""
    from recon_cli.registry import load_plugin, resolve_config
    from recon_cli.train.config import TrainConfig
    from recon_cli.train.examples import operator_for
    from recon_cli.train.objective import make_scheduler, reconstruction_loss

    plugin = load_plugin("deq")
    torch.manual_seed(0)
    model = plugin.build(resolve_config(plugin, overrides)).train()
    config = TrainConfig(steps=steps, lr=1e-3, schedule="cosine")
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    scheduler = make_scheduler(optimiser, config)
    forward, backward, iterations, vjps, fallbacks, losses = [], [], [], [], 0, []
    for step in range(steps):
        example = train_set[(step % len(train_set), step // len(train_set))]
        op = operator_for(example)
        start = time.perf_counter()
        output = model(example["kspace"], op)
        middle = time.perf_counter()
        loss = reconstruction_loss(output, example["target"], config)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        end = time.perf_counter()
        optimiser.step()
        scheduler.step()
        forward.append(middle - start)
        backward.append(end - middle)
        iterations.append(model.last_info.iterations)
        vjps.append(model.last_backward.vjps)
        fallbacks += model.last_backward.fell_back
        losses.append(float(loss.detach()))
        if step % 100 == 99:
            print(f"  step {step + 1}: loss {statistics.fmean(losses[-100:]):.4f}", flush=True)
    model.eval()
    with torch.no_grad():
        outputs, eval_iterations = [], []
        for example in test:
            outputs.append(model(example["kspace"], operator_for(example)))
            eval_iterations.append(model.last_info.iterations)
    return {
        "forward_ms": 1e3 * statistics.median(forward),
        "backward_ms": 1e3 * statistics.median(backward),
        "train_s": sum(forward) + sum(backward),
        "iterations": statistics.fmean(iterations),
        "vjps": statistics.fmean(vjps),
        "fallbacks": fallbacks,
        "eval_iterations": statistics.fmean(eval_iterations),
        **_metrics(outputs, test),
    }


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__, threads=1, quick="32 x 32 images (a smoke run)")
    parser.add_argument(
        "--steps", type=int, default=0, help="optimiser steps per mode (default 600; quick 20)"
    )
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="deq config overrides")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated")
    torch.set_num_threads(args.threads)
    steps = args.steps or (20 if args.quick else 600)
    common = dict(item.split("=", 1) for item in args.set)
    from recon_cli.registry import load_plugin, resolve_config
    from recon_cli.train.examples import operator_for

    train_set, test_set = _data(args.quick)
    test = [test_set[(i, 0)] for i in range(len(test_set))]
    load = load_average()
    zero_filled = _metrics([operator_for(ex).gridding(ex["kspace"]) for ex in test], test)
    results = {}
    for name, overrides in MODES:
        print(f"training deq, backward {name}", flush=True)
        results[name] = train_mode({**common, **overrides}, steps, train_set, test)
        print(f"  {results[name]}", flush=True)

    defaults = resolve_config(load_plugin("deq"), common)
    rows: list[list[object]] = [["zero-filled", "-", "-", "-", "-", "-", *_quality(zero_filled)]]
    for name, _ in MODES:
        r = results[name]
        solver = f"{r['iterations']:.1f} / {r['vjps']:.1f}"
        if r["fallbacks"]:
            solver += f" ({r['fallbacks']} fall-backs)"
        rows.append(
            [
                f"deq, {name}",
                f"{r['backward_ms']:.1f}",
                f"{r['forward_ms']:.1f}",
                f"{r['train_s']:.0f}",
                solver,
                f"{r['eval_iterations']:.1f}",
                *_quality(r),
            ]
        )
    ift, shine = results["ift"], results["shine"]
    ratio = ift["backward_ms"] / shine["backward_ms"]
    matrix = 32 if args.quick else 64
    text = [
        "## DEQ backward modes: IFT vs SHINE vs JFB (`benchmarks/bench_deq.py`)",
        machine_line() + f" Load average at the start: {load:.1f} (a shared machine).",
        f"`synthetic:brain`, single-coil Cartesian {matrix} x {matrix}, random 4x mask (8 % centre), SNR 30; "
        f"{len(train_set)} training slices (new masks and noise every epoch), metrics on the "
        f"{len(test)} held-out test slices (fixed masks and noise), averaged per slice. Each mode trains "
        f"`deq` (defaults: CNN {defaults.chans} channels x {defaults.layers} layers, Broyden forward "
        f"to tol {defaults.tol:g} / at most {defaults.iterations} iterations, memory {defaults.memory}; "
        f"IFT backward by Broyden to tol {defaults.backward_tol:g} / at most "
        f"{defaults.backward_iterations} VJPs) from the same initialisation on the same examples for "
        f"{steps} AdamW steps (lr 1e-3, cosine, L1 on magnitudes, batch 1). Backward and forward: median "
        "ms per training step; training s: their sum over all steps. Solver: mean forward iterations / "
        "mean VJPs per backward in training. Inference: eval mode, at most "
        f"{defaults.eval_iterations} iterations, tol {defaults.eval_tol:g}. "
        "\"shine + fallback\" uses JFB's gradient when SHINE's is over 10x longer.",
        markdown_table(
            [
                "method",
                "backward ms",
                "forward ms",
                "training s",
                "solver (fwd it / bwd VJPs)",
                "inference it",
                "PSNR dB",
                "SSIM",
                "NRMSE",
            ],
            rows,
        ),
        f"Measured: SHINE's backward is {ratio:.1f}x faster than IFT's ({shine['backward_ms']:.1f} ms vs "
        f"{ift['backward_ms']:.1f} ms median), at {ift['psnr'] - shine['psnr']:+.2f} dB PSNR and "
        f"{ift['ssim'] - shine['ssim']:+.3f} SSIM relative to IFT (positive: SHINE is worse).",
        f"Produced by `python benchmarks/bench_deq.py --steps {steps} --threads {args.threads}"
        + (" --quick" if args.quick else "")
        + "".join(f" --set {item}" for item in args.set)
        + "`.",
    ]
    publish("deq", "\n\n".join(text), write=not args.no_write)
    return 0


def _quality(r: dict[str, float]) -> list[str]:
    return [f"{r['psnr']:.2f}", f"{r['ssim']:.4f}", f"{r['nrmse']:.4f}"]


if __name__ == "__main__":
    raise SystemExit(main())

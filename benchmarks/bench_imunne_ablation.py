"""Ablation of the view-shared input (issue 17, lever 2): the same short training with and without it.

For each model (``cunet`` and ``imunne`` by default; ``alt-un`` with ``--models``), two ``recon train``
runs (library calls) that differ only in ``view_share``: same seed, same synthetic radial cine data
(all frames, phantom detail drawn in [0, 1]), same steps, learning rate and validation set. Reported: the
validation NRMSE / SSIM of the best and the last validation, and the seconds per step (1 thread, on a
machine shared with other jobs: compare within one run). The runs are short and small (see the
command in the output): they show whether the extra input helps early in training, not where a long
training ends.

    python benchmarks/bench_imunne_ablation.py [--steps 200] [--matrix 32] [--spokes 4] [--no-write]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import benchmark_parser  # noqa: E402
from benchmarks.report import machine_line, markdown_table, publish  # noqa: E402

MODEL_SETTINGS = {
    "cunet": {"chans": 8},
    "alt-un": {"chans": 8, "blocks": 5},
    "imunne": {"chans": 8, "iterations": 5, "train_iterations": 5, "tol": 0.0},
}


def train_once(model: str, view_share: bool, args: argparse.Namespace, folder: Path) -> dict:
    """One short run; its best and last validation and seconds per step."""
    from recon_cli.train import TrainRequest, train
    from recon_cli.train.runlog import read_log

    out = folder / f"{model}_{int(view_share)}"
    request = TrainRequest(
        out_dir=out,
        model=model,
        data="synthetic:radial",
        val="synthetic:radial",
        model_config={**MODEL_SETTINGS[model], "view_share": view_share},
        data_config={
            "matrix": args.matrix,
            "frames": args.frames,
            "spokes": args.spokes,
            "coils": 8,
            "detail": 1.0,
            "val_length": args.val_length,
        },
        train_config={
            "steps": args.steps,
            "lr": 1e-3,
            "warmup": 10,
            "val_every": max(args.steps // 4, 1),
            "ckpt_every": args.steps,
            "log_every": 10,
            "workers": 0,
            "seed": 5,
        },
        device="cpu",
    )
    train(request)
    rows = read_log(out / "log.jsonl")
    vals = [r for r in rows if r.get("kind") == "val"]
    best = min(vals, key=lambda r: r["nrmse"])
    # the loop's own timing (validation and checkpoints left out); the median row, since the first one
    # also holds the validation of the untrained model
    rates = [r["examples_per_s"] for r in rows if r.get("kind") == "train"]
    return {"best": best, "last": vals[-1], "seconds": 1.0 / statistics.median(rates)}


def _markdown(results: dict, args: argparse.Namespace) -> str:
    rows = []
    for (model, share), r in results.items():
        rows.append(
            [
                f"`{model}`",
                "on" if share else "off",
                f"{r['best']['nrmse']:.4f} (step {r['best']['step']})",
                f"{r['best']['ssim']:.4f}",
                f"{r['last']['nrmse']:.4f}",
                f"{r['last']['ssim']:.4f}",
                f"{r['seconds']:.2f}",
            ]
        )
    gains = []
    for model in dict.fromkeys(m for m, _ in results):
        off, on = results[(model, False)]["best"], results[(model, True)]["best"]
        gains.append(
            f"- `{model}`: best validation NRMSE {off['nrmse']:.4f} -> {on['nrmse']:.4f} "
            f"({(on['nrmse'] - off['nrmse']) / off['nrmse']:+.1%}), "
            f"SSIM {off['ssim']:.4f} -> {on['ssim']:.4f}"
        )
    command = (
        f"python benchmarks/bench_imunne_ablation.py --steps {args.steps} --matrix {args.matrix} "
        f"--frames {args.frames} --spokes {args.spokes} --val-length {args.val_length} "
        f"--models {','.join(args.models)}"
    )
    n = args.matrix
    return "\n\n".join(
        [
            "## IMUNNE ablation: the view-shared input (imunne-ablation-view-share)",
            machine_line(),
            f"Command: `{command}`. Each model trained twice with `recon train` from the same seed, once "
            f"without and once with `view_share`, on `synthetic:radial` ({n} x {n}, {args.frames} frames x "
            f"{args.spokes} golden-angle spokes x {2 * n} samples, 8 coils, SNR 30, phantom detail drawn "
            f"in [0, 1] per example, true coil maps), {args.steps} steps, AdamW 1e-3 cosine, L1 loss, "
            f"validated on {args.val_length} fixed examples of the same kind. Short and small: this is "
            "the early-training effect of the extra input, not a converged result.",
            markdown_table(
                [
                    "model",
                    "view_share",
                    "best val NRMSE",
                    "SSIM at best",
                    "last NRMSE",
                    "last SSIM",
                    "s/step",
                ],
                rows,
            ),
            "\n".join(gains),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--matrix", type=int, default=32)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--spokes", type=int, default=4, help="per frame (13 x 32 / 128 rounds to 4)")
    parser.add_argument("--val-length", type=int, default=8)
    parser.add_argument("--models", type=lambda s: s.split(","), default=["cunet", "imunne"])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            for share in (False, True):
                results[(model, share)] = train_once(model, share, args, Path(tmp))
                print(model, share, results[(model, share)], flush=True)
    publish("imunne-ablation-view-share", _markdown(results, args), write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

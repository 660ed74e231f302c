"""What SVD virtual coils cost the learned cine models: quality and time at reconstruction, time in training.

Reconstruction: ``cunet``, ``alt-un`` and ``imunne`` with their shipped weights on one held-out scan of
each imunne-quality set (seed 7001: flat phantom, textured phantom, real anatomy; 128 x 128, 20 frames x
13 spokes, 8 coils, SNR 30) and on the bundled sample, with ``--set virtual_coils=0`` (all 8 coils) and
with the shipped 4, scored by ``recon evaluate``; time is run.json's ``reconstruct_s`` (model only).
Training: one step (forward, L1 loss, backward, AdamW) of each network with the shipped settings on one
``synthetic:radial`` example at that size, 8 coils against ``data.virtual_coils=4``, the two kinds of step
interleaved in one process (1 thread) so that the machine's load reaches both alike; the median of each.
Results go to the "virtual-coils" section of docs/benchmarks.md.

    python benchmarks/bench_virtual_coils.py [--threads 1] [--quick] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_imunne_memory import untrained_shipped  # noqa: E402
from benchmarks.bench_imunne_quality import SAMPLE, score  # noqa: E402
from benchmarks.harness import benchmark_parser, pinned_env, run_json  # noqa: E402
from benchmarks.report import machine_line, markdown_table, publish  # noqa: E402

MODELS = ("cunet", "alt-un", "imunne")
SETTINGS = (0, 4)
SIZE = {"matrix": 128, "frames": 20, "coils": 8, "spokes": 13}
QUICK_SIZE = {"matrix": 32, "frames": 4, "coils": 8, "spokes": 6}


def train_worker(name: str, sizes: dict[str, int], rounds: int) -> dict[str, float]:
    """Median training-step seconds of ``name`` (shipped settings, untrained) on 8 and on 4 virtual coils."""
    import torch

    from recon_cli.train.config import DataConfig, TrainConfig
    from recon_cli.train.examples import operator_for
    from recon_cli.train.objective import reconstruction_loss
    from recon_cli.train.synthetic import SyntheticCine

    torch.set_num_threads(1)
    model = untrained_shipped(name, {}).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    examples = {
        v: SyntheticCine("radial", DataConfig(**sizes, virtual_coils=v), seed=3, needs_maps=True)[(0, 0)]
        for v in SETTINGS
    }
    config = TrainConfig()

    def step(v: int) -> float:
        start = time.perf_counter()
        example = examples[v]
        output = model(example["kspace"], operator_for(example))
        reconstruction_loss(output, example["target"], config).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return time.perf_counter() - start

    for v in SETTINGS:
        step(v)  # warm-up
    times: dict[int, list[float]] = {v: [] for v in SETTINGS}
    for r in range(rounds):
        for v in SETTINGS if r % 2 == 0 else SETTINGS[::-1]:
            times[v].append(step(v))
    return {str(v): statistics.median(t) for v, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__, threads=1, quick="one scan, small training example")
    parser.add_argument("--train-worker", metavar="MODEL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = QUICK_SIZE if args.quick else SIZE
    rounds = 2 if args.quick else 4
    if args.train_worker:
        print(json.dumps(train_worker(args.train_worker, sizes, rounds)))
        return 0
    import torch

    from sample_data.make_sample_data import make_radial_cine

    with tempfile.TemporaryDirectory(prefix="virtual-coils-") as tmp:
        work = Path(tmp)
        kinds = {"flat": {"detail": 0.0}, "textured": {"detail": 1.0}, "real anatomy": {"anatomy": True}}
        files = {
            kind: make_radial_cine(work, overwrite=True, seed=7001, snr=30.0, name=f"{i}.h5", **options)[0]
            for i, (kind, options) in enumerate(kinds.items())
        }
        files["sample"] = SAMPLE
        if args.quick:
            files = {"flat": files["flat"]}
        rows: list[list[object]] = []
        for model in MODELS:
            for v in SETTINGS:
                scores = score(
                    model, list(files.values()), work / f"{model}-{v}", "cpu", args.threads,
                    ("--set", f"virtual_coils={v}"),
                )  # fmt: skip
                cells = [f"{s['ssim']:.4f} / {s['nrmse']:.4f}" for s in scores]
                seconds = statistics.mean(s["seconds"] for s in scores)
                rows.append([f"`{model}`", v or "all 8", *cells, f"{seconds:.2f}"])
                print(" | ".join(map(str, rows[-1])), flush=True)
    train_rows = []
    for model in MODELS:
        worker = [sys.executable, __file__, "--train-worker", model, *(["--quick"] if args.quick else [])]
        t = run_json(worker, pinned_env(1))
        ratio = t["0"] / t["4"]
        train_rows.append([f"`{model}`", f"{t['0']:.2f}", f"{t['4']:.2f}", f"{ratio:.2f}x"])
        print(" | ".join(map(str, train_rows[-1])), flush=True)
    shape = f"{sizes['matrix']} x {sizes['matrix']}, {sizes['frames']} frames x {sizes['spokes']} spokes"
    markdown = "\n\n".join(
        [
            "## Virtual coils: what 4 SVD virtual coils cost the learned cine models (virtual-coils)",
            machine_line().replace(f"with {torch.get_num_threads()} CPU", f"with {args.threads} CPU"),
            "Reconstruction with the shipped weights, SSIM / NRMSE per scan (`recon evaluate`) and the mean "
            "model time per slice (run.json `reconstruct_s`), all 8 coils (`--set virtual_coils=0`) against "
            "the shipped 4 virtual coils (data and coil maps compressed together, "
            "`recon_cli.scan_coil_maps.model_compression`):",
            markdown_table(["model", "virtual coils", *files.keys(), "s per slice"], rows),
            f"Training step with the shipped settings (untrained), one `synthetic:radial` example ({shape}, "
            f"{sizes['coils']} coils), median of {rounds} interleaved steps each, 1 thread:",
            markdown_table(["model", "8 coils s", "4 virtual coils s", "speed-up"], train_rows),
            "Produced by `python benchmarks/bench_virtual_coils.py"
            + (" --quick" if args.quick else "")
            + f" --threads {args.threads}`.",
        ]
    )
    publish("virtual-coils", markdown, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How far the shipped network size can go: the unrolled network fitted to the test scan itself.

The quality benchmark (``bench_imunne_quality.py``) leaves ``cs`` well ahead of the trained networks. This
asks whether more training of the same networks could close that gap. It takes one held-out scan (the
first seed of the quality benchmark), reconstructs it with ``cs`` and the shipped ``alt-un`` and
``imunne``, then keeps training the shipped ``alt-un`` on that one scan, with its own ground truth, and
scores it every few steps. Since the network is fitted to the very answer it is scored against, the NRMSE
it reaches estimates the best that training on other scans can give a network of this size on this scan
(optimistic, not a strict bound: the fit is a finite local optimisation). ``alt-un`` is the cheap case to
fit (5 applications of the block, exact end-to-end gradient); ``imunne`` uses the same block.

Fitting uses what ``recon train`` uses: the training loss (``recon_cli.train.objective``, L1 on
magnitudes relative to the target's peak) and AdamW at a constant learning rate. Coil maps are estimated
by ESPIRiT from the data, as ``recon reconstruct`` does; scores are ``recon evaluate``'s (least-squares
intensity scaling, then ``recon_cli.metrics``). Results go to the "imunne-capacity" section of
docs/benchmarks.md.

    python benchmarks/bench_imunne_capacity.py [--steps N] [--lr LR] [--threads N] [--quick] [--no-write]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_imunne_quality import HELD_OUT_SEEDS  # noqa: E402
from benchmarks.harness import benchmark_parser, optimiser_step  # noqa: E402
from benchmarks.report import machine_line, markdown_table, publish  # noqa: E402

REFERENCES = ("cs", "alt-un", "imunne")
FITTED = "alt-un"


def score(image: torch.Tensor, reference: np.ndarray) -> dict[str, float]:
    """``recon evaluate``'s metrics of one (frames, ny, nx) complex image after least-squares scaling."""
    from recon_cli.evaluate import intensity_scale
    from recon_cli.metrics import compute_metrics

    magnitude = image.detach().abs().double().numpy()
    magnitude = magnitude * intensity_scale(magnitude, reference, "lstsq")
    return compute_metrics(magnitude[None], reference[None])


def reading(curve: list[list[object]], cs: dict[str, float]) -> str:
    """Where the fitting curve (rows step, loss, SSIM, NRMSE) first matches ``cs`` in each metric."""
    found, matched = [], False
    for column, key, better in ((3, "nrmse", float.__le__), (2, "ssim", float.__ge__)):
        step = next((row[0] for row in curve if better(float(row[column]), cs[key])), None)
        matched |= step is not None
        found.append(f"{key.upper()} {'at step ' + str(step) if step is not None else 'not within the run'}")
    if not matched:
        return f"First match with `cs` on this scan: {', '.join(found)}."
    return (
        f"First match with `cs` on this scan: {', '.join(found)}. Where it matches, the network size is "
        "not what keeps trained weights from beating `cs`; what they lack is generalisation from the "
        "scans they were trained on."
    )


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__, threads=2, quick="2 fitting steps (a smoke run; writes nothing)")
    parser.add_argument("--steps", type=int, default=300, help="fitting steps")
    parser.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (constant)")
    parser.add_argument("--every", type=int, default=50, help="score every this many steps")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    from recon_cli.coils.estimate import estimate_maps
    from recon_cli.io.detect import read_scan
    from recon_cli.reconstruct import build_operator, load_model
    from recon_cli.train.config import TrainConfig
    from recon_cli.train.objective import reconstruction_loss
    from sample_data.make_sample_data import make_radial_cine

    seed = HELD_OUT_SEEDS[0]
    steps, every = (2, 1) if args.quick else (args.steps, args.every)
    with tempfile.TemporaryDirectory() as folder:
        (path,) = make_radial_cine(Path(folder), seed=seed)
        scan = read_scan(path)
    maps = estimate_maps(scan)[0]
    op = build_operator(scan, 0, maps)
    kspace = scan.kspace[0]
    target = scan.reference.reshape(-1, *scan.reference.shape[-2:]).float()
    reference = target.double().numpy()

    rows: list[list[object]] = []
    shipped: dict[str, dict[str, float]] = {}
    for name in REFERENCES:
        model = load_model(name, device="cpu").module
        start = time.perf_counter()
        with torch.no_grad():
            metrics = shipped[name] = score(model(kspace, op), reference)
        label = f"`{name}`" if name == "cs" else f"`{name}` (shipped weights)"
        rows.append([label, "-", f"{metrics['ssim']:.3f}", f"{metrics['nrmse']:.3f}"])
        print(name, metrics, f"{time.perf_counter() - start:.1f} s", flush=True)

    model = load_model(FITTED, device="cpu").module
    config = TrainConfig()
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    curve: list[list[object]] = []
    start = time.perf_counter()
    for step in range(1, steps + 1):
        model.train()
        loss = optimiser_step(optimiser, reconstruction_loss(model(kspace, op), target, config))
        if step % every == 0 or step == steps:
            model.eval()
            with torch.no_grad():
                metrics = score(model(kspace, op), reference)
            curve.append([step, f"{loss:.4f}", f"{metrics['ssim']:.3f}", f"{metrics['nrmse']:.3f}"])
            print(step, curve[-1], f"{time.perf_counter() - start:.0f} s", flush=True)
    rows.append([f"`{FITTED}` fitted to this scan", steps, curve[-1][2], curve[-1][3]])

    size = "128 x 128, 20 frames x 13 spokes, 8 coils, SNR 30"
    text = "\n\n".join(
        [
            "## IMUNNE: how far the network size can go (imunne-capacity)",
            machine_line(),
            f"Command: `python benchmarks/bench_imunne_capacity.py --steps {steps} --lr {args.lr:g}`. "
            f"One held-out scan (seed {seed}, {size}); coil maps by ESPIRiT from the data; scores as "
            "`recon evaluate` gives them (least-squares intensity scaling). The shipped `alt-un` is then "
            "trained on this one scan against its own ground truth (the training loss of `recon train`, "
            f"AdamW at a constant learning rate {args.lr:g}): a network of this size (CU-Net 8 channels, "
            "depth 3) fitted to the very answer it is scored against; training on other scans is not "
            "expected to do better on this scan. "
            "`imunne` uses the same block.",
            markdown_table(["model", "fitting steps", "SSIM", "NRMSE"], rows),
            "Fitting curve (loss is the training loss of the step):",
            markdown_table(["step", "loss", "SSIM", "NRMSE"], curve),
            reading(curve, shipped["cs"]),
        ]
    )
    publish("imunne-capacity", text, write=not args.no_write and not args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Iterative feature refinement on real anatomy: zero-filled, IFR-CS, ADMM-Net and IFR-Net.

Data: axial slices of the MNI152 brain template (``phantoms.anatomy.brain_slices``): the 109 ``train``
slices for training, the 28 held-out ``test`` slices for every figure. Single-coil k-space is simulated
from the (real-valued) slices without noise, as in the ADMM-Net and IFR-Net papers, and undersampled with
one fixed mask per sampling setting (``recon_cli.sampling.cartesian_mask``, seed 0): pseudo-radial at
10/20/30/40% and, at 25%, 1D random (columns, 8% fully sampled centre), 2D random (uniform points, 8%
centre block per axis) and pseudo-radial. ADMM-Net and IFR-Net are trained anew for every setting (as the
papers train one network per mask) with the NMSE loss of ``recon_cli.train.objective`` (``loss="nmse"``),
Adam and a cosine learning-rate decay, on random batches of training slices; the same plugins train
through ``recon train`` (tested in ``tests/test_ifr.py``). IFR-CS runs with its default, hand-set
configuration for every setting. Metrics (``recon_cli.metrics``, magnitudes, data range the test set's
maximum) are means over the 28 test slices.

Also measured, at pseudo-radial 20%: the DCT versus random initialisation of both networks' filters, and
the complex-valued mode on complex images from multi-coil data: each slice is given a smooth random phase,
seen by 8 birdcage coils with noise (SNR 30), SENSE-combined with the true maps from the fully sampled
coil data, and the combined complex image is the single-coil object (and the training target) of the
networks in ``complex=True`` mode.

Run: ``python benchmarks/bench_ifr.py`` (1 thread, about 20-25 minutes on a shared 2-core CPU);
writes the "ifr" section of docs/benchmarks.md. ``--quick`` makes a tiny smoke run (nothing written).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

if __package__ in (None, ""):  # run as a script: make `benchmarks` and `recon_cli` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SETTINGS = [
    ("pseudo-radial", 0.10),
    ("pseudo-radial", 0.20),
    ("pseudo-radial", 0.30),
    ("pseudo-radial", 0.40),
    ("random", 0.25),
    ("random-2d", 0.25),
    ("pseudo-radial", 0.25),
]
ABLATION = ("pseudo-radial", 0.20)
NETWORKS = ("admm-net", "ifr-net")
CENTER_FRACTION, MASK_SEED, COILS, SNR = 0.08, 0, 8, 30.0
METRICS = ("psnr", "ssim", "hfen")


def fixed_mask(kind: str, fraction: float, n: int) -> torch.Tensor:
    """The setting's mask as (1, 1, n, n) bool (broadcast over slices and the single coil)."""
    from recon_cli.sampling import cartesian_mask

    mask = cartesian_mask(kind, (n, n), 1.0 / fraction, CENTER_FRACTION, MASK_SEED, 1)
    return torch.from_numpy(mask)[:, None]


def single_coil(images: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, Any]:
    """Masked k-space (slices, 1, n, n) complex64 of images (slices, n, n), and the operator."""
    from recon_cli.ops.cartesian import CartesianSense
    from recon_cli.ops.functional import fft2c

    n = int(images.shape[-1])
    return fft2c(images.to(torch.complex64))[:, None] * mask, CartesianSense((1, n, n), mask=mask)


def sense_combined_brain(n: int, part: str, seed: int) -> torch.Tensor:
    """Complex images (slices, n, n): phase, 8 coils, noise, SENSE combination of the full data."""
    from recon_cli.ops.functional import ifft2c
    from recon_cli.phantoms import coil_maps, simulate_cartesian
    from recon_cli.phantoms.anatomy import brain_slices, smooth_phase

    out = []
    for i, image in enumerate(brain_slices(n, part)):
        gen = torch.Generator().manual_seed(seed * 100_000 + i)
        obj = image.to(torch.complex64) * smooth_phase((n, n), gen)
        maps = coil_maps(COILS, (n, n), generator=gen)
        coil_images = ifft2c(simulate_cartesian(obj[None], maps, snr=SNR, generator=gen).kspace[0, 0])
        combined = (maps.conj() * coil_images).sum(0) / (maps.abs() ** 2).sum(0).clamp_min(1e-6)
        out.append(combined)
    return torch.stack(out)


def train_network(
    name: str, config: dict[str, Any], images: torch.Tensor, mask: torch.Tensor, args: argparse.Namespace
) -> tuple[torch.nn.Module, dict[str, float]]:
    """Train ``name`` on ``images`` (slices, n, n) under ``mask``; returns the model and run figures."""
    from recon_cli.registry import load_plugin, resolve_config
    from recon_cli.train.config import TrainConfig
    from recon_cli.train.objective import reconstruction_loss

    plugin = load_plugin(name)
    torch.manual_seed(args.seed)
    model = plugin.build(resolve_config(plugin, config))
    complex_target = bool(config.get("complex", False))
    loss_config = TrainConfig(loss="nmse", loss_on="complex" if complex_target else "magnitude")
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, args.steps)
    gen = torch.Generator().manual_seed(args.seed)
    start, losses = time.perf_counter(), []
    model.train()
    for _ in range(args.steps):
        batch = images[torch.randperm(images.shape[0], generator=gen)[: args.batch]]
        kspace, op = single_coil(batch, mask)
        target = batch.to(torch.complex64) if complex_target else batch.abs()
        loss = reconstruction_loss(model(kspace, op), target, loss_config)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
    model.eval()
    tail = losses[-max(len(losses) // 10, 1) :]
    return model, {"seconds": time.perf_counter() - start, "loss": float(np.mean(tail))}


@torch.no_grad()
def scores(recon: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    """Mean PSNR, SSIM, HFEN over slices (magnitudes; data range the test set's maximum)."""
    from recon_cli.metrics import compute_metrics

    rec = recon.abs().double().numpy()[:, None]
    ref = truth.abs().double().numpy()[:, None]
    per_slice = compute_metrics(rec, ref, per="slice")
    return {m: float(np.mean([row[m] for row in per_slice])) for m in METRICS}


@torch.no_grad()
def classical(test: torch.Tensor, mask: torch.Tensor) -> dict[str, dict[str, float]]:
    """Zero-filled and IFR-CS scores on the test slices."""
    from recon_cli.registry import load_plugin, resolve_config

    kspace, op = single_coil(test, mask)
    plugin = load_plugin("ifr-cs")
    ifr_cs = plugin.build(resolve_config(plugin, {}))
    return {
        "zero-filled": scores(op.adjoint(kspace)[:, 0], test),
        "ifr-cs": scores(ifr_cs(kspace, op), test),
    }


def evaluate_network(model: torch.nn.Module, test: torch.Tensor, mask: torch.Tensor) -> dict[str, float]:
    kspace, op = single_coil(test, mask)
    with torch.no_grad():
        return scores(model(kspace, op), test)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every table's numbers."""
    from recon_cli.phantoms.anatomy import brain_slices

    n = args.matrix
    train, test = brain_slices(n, "train"), brain_slices(n, "test")
    settings = SETTINGS[:2] if args.quick else SETTINGS
    main_rows, runs = [], {}
    for kind, fraction in settings:
        mask = fixed_mask(kind, fraction, n)
        row = {"kind": kind, "fraction": fraction, "sampled": float(mask.float().mean())}
        row["methods"] = classical(test, mask)
        for name in NETWORKS:
            model, info = train_network(name, {}, train, mask, args)
            row["methods"][_label(name)] = evaluate_network(model, test, mask)
            runs[(name, kind, fraction)] = info
            print(f"{kind} {fraction:.0%} {name}: {row['methods'][_label(name)]} {info}", flush=True)
        main_rows.append(row)
    mask = fixed_mask(*ABLATION, n)
    init_rows = []
    for name in NETWORKS:
        model, info = train_network(name, {"init": "random"}, train, mask, args)
        dct = next(r for r in main_rows if (r["kind"], r["fraction"]) == ABLATION)["methods"][_label(name)]
        init_rows.append({"name": name, "dct": dct, "random": evaluate_network(model, test, mask)})
        print(f"random init {name}: {init_rows[-1]['random']} {info}", flush=True)
    complex_train = sense_combined_brain(n, "train", seed=1)
    complex_test = sense_combined_brain(n, "test", seed=2)
    complex_rows = classical(complex_test, mask)
    for name in NETWORKS:
        model, info = train_network(name, {"complex": True}, complex_train, mask, args)
        complex_rows[_label(name) + " (complex)"] = evaluate_network(model, complex_test, mask)
        print(f"complex {name}: {complex_rows[_label(name) + ' (complex)']} {info}", flush=True)
    return {"main": main_rows, "init": init_rows, "complex": complex_rows, "runs": runs}


def _label(name: str) -> str:
    """A method's key in the results: the model's CLI name (``recon models``)."""
    return name


def _shown(method: str) -> str:
    """A method as the tables show it: CLI names in code type, a variant in plain text after it."""
    name, _, variant = method.partition(" ")
    return f"`{name}` {variant}".rstrip()


def _setting(kind: str, fraction: float) -> str:
    names = {"pseudo-radial": "pseudo-radial", "random": "1D random", "random-2d": "2D random"}
    return f"{names[kind]} {fraction:.0%}"


def _best(methods: dict[str, dict[str, float]], metric: str) -> str:
    pick = max if metric in ("psnr", "ssim") else min
    return pick(methods, key=lambda m: methods[m][metric])


def _cells(methods: dict[str, dict[str, float]], method: str) -> list[str]:
    formats = {"psnr": "{:.2f}", "ssim": "{:.4f}", "hfen": "{:.4f}"}
    cells = []
    for metric in METRICS:
        text = formats[metric].format(methods[method][metric])
        cells.append(f"**{text}**" if _best(methods, metric) == method else text)
    return cells


def render(result: dict[str, Any], args: argparse.Namespace) -> str:
    """The markdown section."""
    from benchmarks.report import machine_line, markdown_table

    rows, shortfalls = [], []
    for row in result["main"]:
        setting = f"{_setting(row['kind'], row['fraction'])} ({row['sampled']:.1%})"
        for method in row["methods"]:
            rows.append([setting, _shown(method), *_cells(row["methods"], method)])
        for metric in METRICS:
            best = _best(row["methods"], metric)
            if best != "ifr-net":
                setting_name = _setting(row["kind"], row["fraction"])
                shortfalls.append(f"{setting_name} {metric.upper()} (best: {_shown(best)})")
    header = ["sampling (sampled)", "method", "PSNR dB", "SSIM", "HFEN"]
    init_rows = [
        [_shown(r["name"]), init, *(f"{r[init][m]:.4g}" for m in METRICS)]
        for r in result["init"]
        for init in ("dct", "random")
    ]
    complex_methods = result["complex"]
    complex_rows = [[_shown(m), *_cells(complex_methods, m)] for m in complex_methods]
    seconds = [info["seconds"] for info in result["runs"].values()]
    honest = (
        "`ifr-net` is not the best in: " + "; ".join(shortfalls) + "."
        if shortfalls
        else "`ifr-net` is the best on every metric at every setting of this run."
    )
    command = "python benchmarks/bench_ifr.py"
    return f"""## Iterative feature refinement: `ifr-cs`, `admm-net`, `ifr-net` (brain template, single coil)

{machine_line()} Rerun: `{command}`.

{args.matrix}x{args.matrix} axial slices of the MNI152 brain template: 109 for training, 28 held out for
every figure; noise-free single-coil k-space, one fixed mask per setting (seed {MASK_SEED}). Networks
(default configs: `admm-net` 10 stages of 8 DCT-initialised 3x3 filters; `ifr-net` 8 stages of 2 blocks
of 9 DCT filters) trained per setting with the NMSE loss: {args.steps} Adam steps of {args.batch} slices, lr
{args.lr:g} with cosine decay ({np.mean(seconds):.0f} s per network on {torch.get_num_threads()} thread).
`ifr-cs`: its hand-set defaults everywhere. Means over the 28 test slices; PSNR/SSIM higher, HFEN lower
is better; the best per setting in bold.

{markdown_table(header, rows)}

{honest} The networks are small and briefly trained on CPU (about a minute each), far from the papers'
training budgets, so their margins over each other are indicative only.

Filter initialisation at {_setting(*ABLATION)} (same training otherwise):

{markdown_table(["network", "init", "PSNR dB", "SSIM", "HFEN"], init_rows)}

Complex-valued mode at {_setting(*ABLATION)}: complex images (smooth random phase) from {COILS}-coil data
with noise (SNR {SNR:g}), SENSE-combined with the true maps; the networks run with `complex=true` and are
trained on the complex NMSE; metrics on magnitudes against the combined image:

{markdown_table(["method", "PSNR dB", "SSIM", "HFEN"], complex_rows)}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", type=int, default=64, help="image size N (N x N)")
    parser.add_argument("--steps", type=int, default=150, help="training steps per network")
    parser.add_argument("--batch", type=int, default=8, help="slices per training step")
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run; nothing written")
    parser.add_argument("--no-write", action="store_true", help="print the section, leave the docs alone")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.quick:
        args.matrix, args.steps, args.batch = 32, 3, 4
    start = time.perf_counter()
    result = run(args)
    print(f"total {time.perf_counter() - start:.0f} s")
    from benchmarks.report import publish

    publish("ifr", render(result, args), write=not (args.no_write or args.quick))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

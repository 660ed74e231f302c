"""Image quality of the primal-dual family against the classic learned baselines, at one training budget.

Part 1 (single coil, Cartesian): ``synthetic:brain`` (MNI152 template slices) with ``data.coils=1``, a
random 1D 4x mask with 8 % fully sampled centre. ``kiki-net``, ``unet``, ``cascade-net`` and ``pdnet``
are trained through the library's own loop (``recon_cli.train.train``) with the same budget: the same
number of AdamW steps, batch 1, peak learning rate 1e-3 with a cosine schedule, seed 0; ``zero-filled``
needs no training. Every model is then evaluated on the template's held-out ``test`` slices (fixed masks
and noise), PSNR and SSIM of the magnitude against the noise-free slice.

Part 2 (multi-coil): ``xpdnet`` on 4-coil ``synthetic:brain`` (same mask) and ``ncpdnet`` with and
without density compensation on 4-coil single-frame ``synthetic:radial`` (golden-angle spokes; fixed
validation phantoms), each against ``zero-filled`` and the classical ``cs`` (wavelet L1, FISTA) on the
same evaluation examples. Coil maps are the true ones the data were simulated with.

Results go to the "pd-family" section of docs/benchmarks.md. Rerun with

    python benchmarks/bench_pd_family.py --steps 500 --threads 1 [--quick] [--no-write]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import benchmark_parser  # noqa: E402
from benchmarks.report import machine_line, markdown_table, publish  # noqa: E402

# the order of Ramzi et al. (2020) fastMRI benchmark, worst to best
LITERATURE = ("zero-filled", "kiki-net", "unet", "cascade-net", "pdnet")
MODELS_1: dict[str, dict[str, Any]] = {
    "kiki-net": {},
    "unet": {"chans": 16, "num_pools": 3},
    "cascade-net": {},
    "pdnet": {},
}
XPDNET = {"iterations": 5}
NCPDNET = {"iterations": 5}


def _brain(matrix: int, coils: int) -> dict[str, Any]:
    return {"matrix": matrix, "coils": coils, "mask": "random", "acceleration": 4.0, "center_fraction": 0.08}


def _radial(matrix: int, spokes: int) -> dict[str, Any]:
    return {"matrix": matrix, "coils": 4, "frames": 1, "spokes": spokes, "val_length": 8}


def _train_config(steps: int) -> dict[str, Any]:
    return {
        "steps": steps,
        "batch_size": 1,
        "lr": 1e-3,
        "schedule": "cosine",
        "seed": 0,
        "workers": 0,
        "ckpt_every": steps,
        "log_every": 50,
        "amp": "off",
    }


def evaluate(module: torch.nn.Module, data: str, data_config: dict[str, Any]) -> dict[str, float]:
    """Mean PSNR and SSIM of ``module`` on the validation examples of ``data`` (as ``recon train --val``
    with seed 0 builds them), magnitudes against the ground truth."""
    from recon_cli.train.config import DataConfig, build_config, parse_data_spec
    from recon_cli.train.examples import operator_for
    from recon_cli.train.objective import image_metrics
    from recon_cli.train.sources import build_dataset

    config = build_config(DataConfig, data_config, "data")
    dataset = build_dataset(parse_data_spec(data), config, seed=0, rank=0, needs_maps=True, validation=True)
    uses_maps = getattr(module, "coil_maps", "optional") != "ignored"
    rows = []
    for index in range(len(dataset)):
        example = dataset[(index, 0)]
        if not uses_maps:
            example.pop("maps")
        with torch.no_grad():
            output = module(example["kspace"], operator_for(example))
        rows.append(image_metrics(output, example["target"]))
    return {k: sum(r[k] for r in rows) / len(rows) for k in ("psnr", "ssim")} | {"n": len(rows)}


def train_and_evaluate(
    name: str, config: dict[str, Any], data: str, data_config: dict[str, Any], steps: int, root: Path
) -> dict[str, Any]:
    """Train ``name`` for ``steps`` steps (or not at all when it is not trainable) and evaluate it."""
    from recon_cli.reconstruct import load_model
    from recon_cli.registry import load_plugin
    from recon_cli.train import TrainRequest, train

    start = time.perf_counter()
    weights = None
    if load_plugin(name).trainable:
        run = root / f"{name}-{len(list(root.iterdir()))}"
        request = TrainRequest(
            out_dir=run,
            model=name,
            data=data,
            model_config=config,
            data_config=data_config,
            train_config=_train_config(steps),
            device="cpu",
        )
        train(request)
        weights = run / "last.pt"
    seconds = time.perf_counter() - start
    model = load_model(
        name, config=None if weights else config, weights=weights, device="cpu", allow_untrained=True
    )
    params = sum(p.numel() for p in model.module.parameters())
    result = {
        "model": name,
        "train_s": seconds,
        "params": params,
        **evaluate(model.module, data, data_config),
    }
    print(result, flush=True)
    return result


def _row(r: dict[str, Any], label: str | None = None) -> list[object]:
    return [
        label or r["model"],
        f"{r['params']:,}",
        f"{r['train_s']:.0f}",
        f"{r['psnr']:.2f}",
        f"{r['ssim']:.4f}",
    ]


def part_one(steps: int, matrix: int, root: Path) -> str:
    data = _brain(matrix, 1)
    results = [train_and_evaluate("zero-filled", {}, "synthetic:brain", data, steps, root)]
    results += [train_and_evaluate(n, c, "synthetic:brain", data, steps, root) for n, c in MODELS_1.items()]
    by_psnr = [r["model"] for r in sorted(results, key=lambda r: r["psnr"])]
    by_ssim = [r["model"] for r in sorted(results, key=lambda r: r["ssim"])]
    rows = [
        [
            *_row(r),
            1 + by_psnr.index(r["model"]),
            1 + by_ssim.index(r["model"]),
            1 + LITERATURE.index(r["model"]),
        ]
        for r in results
    ]
    header = [
        "model",
        "parameters",
        "train s",
        "PSNR dB",
        "SSIM",
        "rank PSNR",
        "rank SSIM",
        "rank in literature",
    ]
    verdict = " ".join(
        f"By {metric} the order here is {' < '.join(order)}"
        + (", as in the literature." if order == list(LITERATURE) else ", not the literature's.")
        for metric, order in (("PSNR", by_psnr), ("SSIM", by_ssim))
    )
    if list(LITERATURE) not in (by_psnr, by_ssim):
        verdict += (
            " The literature's order (Ramzi et al. 2020, fastMRI knee, 4x: zero-filled < KIKI-net < U-Net < "
            f"cascade net < PD-Net) is not fully reproduced: {steps} steps of batch 1 on {matrix}x{matrix} "
            "single-coil slices is a small budget (the published models train for hundreds of thousands "
            "of steps), and how far each unrolled network has converged decides its place."
        )
    return (
        f"### Part 1: single-coil Cartesian 4x, `synthetic:brain` {matrix}x{matrix}\n\n"
        f"{markdown_table(header, rows)}\n\n"
        f"Each learned model: {steps} AdamW steps, batch 1, lr 1e-3 cosine, seed 0, L1 loss on magnitudes; "
        f"evaluated on the {results[0]['n']} held-out test slices (fixed masks and noise, SNR 30). Configs: "
        + "; ".join(f"`{n}` {c or 'defaults'}" for n, c in MODELS_1.items())
        + f". {verdict}\n"
    )


def part_two(steps: int, matrix: int, spokes: int, root: Path) -> str:
    brain = _brain(matrix, 4)
    radial = _radial(matrix, spokes)
    rows: list[list[object]] = []
    results: dict[str, dict[str, Any]] = {}
    for data, config, learned in (
        ("synthetic:brain", brain, [("xpdnet", XPDNET, "xpdnet")]),
        (
            "synthetic:radial",
            radial,
            [
                ("ncpdnet", {**NCPDNET, "density_compensation": True}, "ncpdnet (with DCF)"),
                ("ncpdnet", {**NCPDNET, "density_compensation": False}, "ncpdnet (no DCF)"),
            ],
        ),
    ):
        kind = f"{data} 4 coils, " + ("Cartesian 4x" if data.endswith("brain") else f"{spokes} spokes")
        for name, model_config, label in [("zero-filled", {}, "zero-filled"), ("cs", {}, "cs"), *learned]:
            r = train_and_evaluate(name, model_config, data, config, steps, root)
            rows.append([kind, *_row(r, label)])
            results[label + " / " + kind] = r
    header = ["data", "model", "parameters", "train s", "PSNR dB", "SSIM"]
    return (
        f"### Part 2: multi-coil, XPDNet (Cartesian) and NC-PDNet (radial)\n\n"
        f"{markdown_table(header, rows)}\n\n"
        f"{steps} steps per learned model. `xpdnet` {XPDNET} (MWCNN image nets, coil-map refinement), "
        f"`ncpdnet` {NCPDNET}; `cs` at its defaults. Brain: {matrix}x{matrix} slices, 4 birdcage coils, "
        f"held-out test slices. Radial: single-frame numerical phantoms, {spokes} golden-angle spokes of "
        f"{2 * matrix} samples (about {3.1416 / 2 * matrix / spokes:.1f}x below Nyquist), 8 fixed "
        "validation phantoms. Coil maps: the simulation's.\n\n" + _verdict_two(results) + "\n"
    )


def _verdict_two(results: dict[str, dict[str, Any]]) -> str:
    """Which learned model beats zero-filled and cs on which metric."""
    notes = []
    for key, r in results.items():
        if key.startswith(("zero-filled", "cs")):
            continue
        kind = key.split(" / ")[1]
        for baseline in ("zero-filled", "cs"):
            base = results[f"{baseline} / {kind}"]
            beaten = [m.upper() for m in ("psnr", "ssim") if r[m] > base[m]]
            what = " and ".join(beaten) if beaten else "neither PSNR nor SSIM"
            notes.append(f"{key.split(' / ')[0]} beats {baseline} on {what}")
    return "; ".join(notes) + "."


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__, threads=1, quick="a smoke run: 10 steps, 32x32")
    parser.add_argument("--steps", type=int, default=500, help="optimiser steps of every learned model")
    parser.add_argument("--matrix", type=int, default=64)
    parser.add_argument("--spokes", type=int, default=24, help="radial spokes per image (part 2)")
    parser.add_argument("--iterations", type=int, default=5, help="unrolled iterations of xpdnet/ncpdnet")
    parser.add_argument("--part", choices=("1", "2", "both"), default="both",
                        help="1: single-coil ordering (section pd-family); 2: multi-coil XPDNet/NC-PDNet "
                        "(section pd-family-multicoil)")  # fmt: skip
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    steps, matrix = (10, 32) if args.quick else (args.steps, args.matrix)
    spokes = 12 if args.quick else args.spokes
    XPDNET["iterations"] = NCPDNET["iterations"] = args.iterations
    command = f"python benchmarks/bench_pd_family.py --steps {steps} --matrix {matrix} --spokes {spokes} "
    command += f"--iterations {args.iterations} --threads {args.threads}" + (" --quick" if args.quick else "")
    for part, name, title in (
        ("1", "pd-family", "Primal-dual family vs. learned baselines"),
        ("2", "pd-family-multicoil", "Multi-coil XPDNet and NC-PDNet vs. zero-filled and cs"),
    ):
        if args.part not in (part, "both"):
            continue
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="bench-pd-") as tmp:
            body = (
                part_one(steps, matrix, Path(tmp))
                if part == "1"
                else part_two(steps, matrix, spokes, Path(tmp))
            )
        minutes = (time.perf_counter() - start) / 60
        markdown = (
            f"## {title} (`benchmarks/bench_pd_family.py`)\n\n"
            f"{machine_line()} This part took {minutes:.1f} min. Rerun: `{command} --part {part}`\n\n{body}"
        )
        publish(name, markdown, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

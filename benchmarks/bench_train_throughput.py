"""Training throughput (examples/s) of ``cunet``, ``alt-un`` and ``imunne`` on this CPU, and what one step
spends its time on.

Protocol of issue 17: one synthetic radial cine example (``synthetic:radial``: 128 x 128, 8 coils,
20 frames x 13 golden-angle spokes x 256 samples, true coil maps), one thread. A training step is what
``recon train`` does per example: the loop's autocast context around ``model(kspace, op)``, the L1
magnitude loss of ``recon_cli.train.objective``, backward and an AdamW update. ``imunne`` runs exactly
5 fixed-point iterations (tolerance 0; the last one differentiated, JFB), ``alt-un`` 5 blocks.

Variants: CU-Net width (``chans``), the CNN's feature maps in channels-last memory format, ``view_share``
(the temporal-average image as an extra input), and bf16 autocast (``train.amp=on``) where affordable,
with a single-convolution check of whether this CPU has native bf16 kernels.
Each variant runs in its own subprocess (1 thread), with one warm-up step and the median of the timed
steps; the machine is shared, so compare ratios within one run. The dtype columns are read from the run
itself: the CNN's convolution outputs and the data-consistency gradient's dtype under that autocast.
One profile per model (``torch.profiler``, fp32, chans 8) splits a step's CPU time into the
NUFFT / FFT work and the convolutions.

    python benchmarks/bench_train_throughput.py [--size protocol|stage-a|quick] [--models imunne,...]
        [--steps 2] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import benchmark_parser, optimiser_step, pinned_env, repeat_timed, run_json  # noqa: E402
from benchmarks.report import machine_line, markdown_table, publish  # noqa: E402

# --size: the protocol, the stage-A training size of training/imunne_vs.yaml, a smoke run
SIZES = {
    "protocol": {"matrix": 128, "frames": 20, "coils": 8, "spokes": 13},
    "stage-a": {"matrix": 64, "frames": 20, "coils": 8, "spokes": 7},
    "quick": {"matrix": 32, "frames": 4, "coils": 4, "spokes": 8},
}
MODELS = ("cunet", "alt-un", "imunne")
# (chans, amp, channels_last, view_share); bf16 steps at the quick size, and at the other sizes only
# where this CPU has native bf16 convolutions (``conv_worker``): without them one step takes minutes
VARIANTS = (
    (8, False, False, False),
    (16, False, False, False),
    (16, False, True, False),
    (8, False, False, True),
    (16, False, False, True),
)
AMP_QUICK = {"cunet": ((8, True, False, False),)}
# with native bf16: every network at the shipped settings (view_share) and twice the width, against the
# fp32 rows of the same settings in VARIANTS
AMP_NATIVE = ((8, True, False, True), (16, True, False, True))
CONV_SHAPE = (20, 16, 128, 128)  # one frame batch of the CU-Net's first level at chans 8 (16 real channels)
FFT_WORDS = ("fft", "nufft", "finufft", "toeplitz", "_type1", "_type2")  # FINUFFT: _Type1, _Type2
CONV_WORDS = ("conv", "mkldnn", "onednn")


def _example(sizes: dict[str, int]) -> dict:
    from recon_cli.train.config import DataConfig
    from recon_cli.train.synthetic import SyntheticCine

    config = DataConfig(**sizes, snr=30.0)
    return SyntheticCine("radial", config, seed=0, length=1, fresh=False, needs_maps=True)[(0, 0)]


def _model(name: str, chans: int, view_share: bool) -> torch.nn.Module:
    from recon_cli.registry import load_plugin, resolve_config

    overrides: dict[str, object] = {"chans": chans}
    if view_share:
        overrides["view_share"] = True
    if name == "imunne":
        overrides.update(iterations=5, train_iterations=5, tol=0.0)
    elif name == "alt-un":
        overrides["blocks"] = 5
    plugin = load_plugin(name)
    torch.manual_seed(0)
    return plugin.build(resolve_config(plugin, overrides)).train()


def _channels_last(model: torch.nn.Module) -> None:
    """Put the CU-Net's feature maps in channels-last layout from its first convolution on."""
    from recon_cli.nn.cunet import CUNet

    def to_last(module: torch.nn.Module, args: tuple) -> tuple:
        return (args[0].contiguous(memory_format=torch.channels_last), *args[1:])

    for module in model.modules():
        if isinstance(module, CUNet):
            module.down[0].register_forward_pre_hook(to_last)


def _dtype_probes(model: torch.nn.Module, op: torch.nn.Module) -> dict[str, str]:
    """Record the dtype of the first convolution's output and of the operator's normal()."""
    from recon_cli.nn.cunet import ComplexConv3d

    seen: dict[str, str] = {}
    conv = next(m for m in model.modules() if isinstance(m, ComplexConv3d))

    def record(module: torch.nn.Module, args: tuple, out: torch.Tensor) -> None:
        seen.setdefault("cnn", str(out.dtype).replace("torch.", ""))

    conv.register_forward_hook(record)
    normal = op.normal

    def probe(x: torch.Tensor, weighted: bool = False) -> torch.Tensor:
        out = normal(x, weighted)
        seen.setdefault("dc", str(out.dtype).replace("torch.", ""))
        return out

    op.normal = probe  # type: ignore[method-assign]
    return seen


def worker(name: str, chans: int, amp: bool, last: bool, share: bool, sizes: dict, steps: int) -> dict:
    """Median seconds of one training step of one variant, and the dtypes it ran in."""
    from recon_cli.train.config import TrainConfig
    from recon_cli.train.examples import operator_for
    from recon_cli.train.objective import autocast, reconstruction_loss

    torch.set_num_threads(1)
    example = _example(sizes)
    op = operator_for(example)
    model = _model(name, chans, share)
    if last:
        _channels_last(model)
    seen = _dtype_probes(model, op)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    config, dtype = TrainConfig(), torch.bfloat16 if amp else None

    def step() -> float:
        with autocast(dtype, torch.device("cpu")):
            output = model(example["kspace"], op)
        return optimiser_step(optimizer, reconstruction_loss(output, example["target"], config))

    times, _ = repeat_timed(step, steps + 1)
    return {"seconds": statistics.median(times[1:]), **seen}


def conv_worker() -> dict:
    """One 3x3 convolution of ``CONV_SHAPE`` (48 outputs: a spatial stage's stacked kernels) in fp32 and
    bf16, and whether oneDNN has native bf16 kernels for this CPU."""
    import torch.nn.functional as F

    torch.set_num_threads(1)
    x, w = torch.randn(CONV_SHAPE), torch.randn(48, CONV_SHAPE[1], 3, 3)
    result: dict = {
        "capability": torch.backends.cpu.get_cpu_capability(),
        "onednn_bf16": bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()),
    }
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = x.to(dtype), w.to(dtype)
        F.conv2d(a, b, padding=1)
        start = time.perf_counter()
        F.conv2d(a, b, padding=1)
        result[name] = time.perf_counter() - start
    return result


def profile_worker(name: str, amp: bool, sizes: dict) -> dict:
    """Self CPU seconds of one training step by kind of operator (chans 8)."""
    from torch.profiler import ProfilerActivity, profile

    from recon_cli.train.config import TrainConfig
    from recon_cli.train.examples import operator_for
    from recon_cli.train.objective import autocast, reconstruction_loss

    torch.set_num_threads(1)
    example = _example(sizes)
    op = operator_for(example)
    model = _model(name, 8, False)
    dtype = torch.bfloat16 if amp else None

    def step() -> None:
        with autocast(dtype, torch.device("cpu")):
            output = model(example["kspace"], op)
        reconstruction_loss(output, example["target"], TrainConfig()).backward()

    step()  # warm-up (Toeplitz kernels, FFT plans)
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    wall = time.perf_counter() - start
    groups = {"fft": 0.0, "conv": 0.0, "other": 0.0}
    top = []
    for event in prof.key_averages():
        key, seconds = event.key.lower(), event.self_cpu_time_total / 1e6
        kind = (
            "fft"
            if any(w in key for w in FFT_WORDS)
            else "conv"
            if any(w in key for w in CONV_WORDS)
            else "other"
        )
        groups[kind] += seconds
        top.append((seconds, event.key))
    top.sort(reverse=True)
    return {
        "wall": wall,
        "total": sum(groups.values()),
        **groups,
        "top": [f"{k} {s:.2f}" for s, k in top[:5]],
    }


def _run(args: list[str]) -> dict:
    """This script as a 1-thread worker; its JSON result (last stdout line)."""
    return dict(run_json([sys.executable, __file__, *args], pinned_env(1)))


def _flag(value: bool) -> str:
    return "yes" if value else "no"


def _variants(model: str, size: str, native_bf16: bool) -> tuple:
    """The variants measured for ``model``: bf16 ones at the quick size, and the shipped settings in bf16
    wherever the CPU has native bf16 convolutions."""
    amp = AMP_NATIVE if native_bf16 else AMP_QUICK.get(model, ()) if size == "quick" else ()
    return (*VARIANTS, *amp)


def _bf16_gains(results: dict, models: list[str], native_bf16: bool, size: str) -> str:
    """One sentence: each bf16 row's speed against the fp32 row of the same settings ("" without any)."""

    def ratio(m: str, v: tuple) -> float:
        return float(results[(m, v[0], False, *v[2:])]["seconds"] / results[(m, *v)]["seconds"])

    gains = [
        f"`{m}` chans {v[0]} {ratio(m, v):.2f}x"
        for m in models
        for v in _variants(m, size, native_bf16)
        if v[1] and (m, v[0], False, *v[2:]) in results
    ]
    if not gains:
        return ""
    return "bf16 autocast against fp32 with the same settings (step time ratio): " + ", ".join(gains) + "."


def _tables(results: dict, profiles: dict, conv: dict, steps: int, size: str) -> str:
    models = sorted({key[0] for key in results}, key=MODELS.index)
    base = {m: results[(m, *VARIANTS[0])]["seconds"] for m in models}
    native = bool(conv["onednn_bf16"])
    rows = []
    for m in models:
        for v in _variants(m, size, native):
            r = results[(m, *v)]
            rate = 1.0 / r["seconds"]
            rows.append(
                [
                    f"`{m}`",
                    v[0],
                    "bf16" if v[1] else "fp32",
                    _flag(v[2]),
                    _flag(v[3]),
                    f"{r['seconds']:.2f}",
                    f"{rate:.3f}",
                    f"{base[m] / r['seconds']:.2f}x",
                    r.get("cnn", "?"),
                    r.get("dc", "-"),
                ]
            )
    header = [
        "model",
        "chans",
        "autocast",
        "channels-last",
        "view_share",
        "s / step",
        "examples/s",
        "vs chans 8 fp32",
        "CNN dtype",
        "DC dtype",
    ]
    prof_rows = [
        [
            f"`{m}`",
            "bf16" if amp else "fp32",
            f"{p['total']:.2f}",
            f"{p['fft']:.2f} ({p['fft'] / p['total']:.0%})",
            f"{p['conv']:.2f} ({p['conv'] / p['total']:.0%})",
            f"{p['other']:.2f}",
            "; ".join(p["top"][:3]),
        ]
        for (m, amp), p in profiles.items()
    ]
    conv_line = (
        f"One 3x3 convolution {CONV_SHAPE} -> 48 channels, forward: fp32 {conv['fp32']:.3f} s, bf16 "
        f"{conv['bf16']:.3f} s ({conv['fp32'] / conv['bf16']:.2f}x). This CPU: torch capability "
        f"{conv['capability']}, oneDNN native bf16 {'yes' if native else 'no'}"
        + (
            ": the bf16 convolutions run on native kernels. "
            if native
            else ": without it a bf16 convolution falls back to `aten::_slow_conv2d` (im2col), so "
            "`train.amp=on` (bf16 autocast on CPU) makes training slower here, not faster. "
        )
        + _bf16_gains(results, models, native, size)
    ).rstrip()
    d = SIZES[size]
    sizes = (
        f"{d['matrix']} x {d['matrix']}, {d['coils']} coils, {d['frames']} frames x {d['spokes']} spokes x "
        f"{2 * d['matrix']} samples"
    )
    command = f"python benchmarks/bench_train_throughput.py --size {size} --steps {steps}"
    if models != list(MODELS):
        command += f" --models {','.join(models)}"
    return "\n\n".join(
        [
            f"## Training throughput on this CPU, size {size} (train-throughput-{size})",
            machine_line().replace(f"{torch.get_num_threads()} CPU threads", "1 CPU thread per worker"),
            f"Command: `{command}`. One `synthetic:radial` example ({sizes}, true coil maps); one training "
            "step = autocast forward, L1 magnitude loss, backward, AdamW update, as `recon train` does it "
            "per example. `imunne`: exactly 5 iterations (last one differentiated), `alt-un`: 5 blocks. "
            f"Median of {steps} step(s) after a warm-up, each variant in its own 1-thread process on a "
            "machine that may be shared with other jobs: read the ratios, not the "
            "absolute times. The dtype columns are recorded in the run (first convolution's output; the "
            "operator's normal() inside the data-consistency step).",
            markdown_table(header, rows),
            conv_line,
            "Profile of one step (chans 8, fp32; self CPU seconds by operator kind: FFT/NUFFT/Toeplitz "
            "work vs convolutions, from `torch.profiler`):",
            markdown_table(
                ["model", "autocast", "self CPU s", "FFT/NUFFT s", "conv s", "other s", "top operators (s)"],
                prof_rows,
            ),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--profile", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--conv", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per variant (after a warm-up)")
    parser.add_argument("--size", choices=tuple(SIZES), default="protocol", help="example size")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of the models")
    args = parser.parse_args(argv)
    sizes = SIZES[args.size]
    if args.worker:
        name, chans, amp, last, share = args.worker
        result = worker(name, int(chans), amp == "1", last == "1", share == "1", sizes, args.steps)
        print(json.dumps(result))
        return 0
    if args.conv:
        print(json.dumps(conv_worker()))
        return 0
    if args.profile:
        print(json.dumps(profile_worker(args.profile[0], args.profile[1] == "1", sizes)))
        return 0
    common = ["--steps", str(args.steps), "--size", args.size]
    models = [m for m in MODELS if m in args.models.split(",")]
    conv = _run(["--conv", *common])
    print("conv", conv, flush=True)
    results = {}
    for m in models:
        for v in _variants(m, args.size, bool(conv["onednn_bf16"])):
            flags = [str(v[0]), *("1" if f else "0" for f in v[1:])]
            results[(m, *v)] = _run(["--worker", m, *flags, *common])
            print(m, v, results[(m, *v)], flush=True)
    profiles = {}
    for m in models:
        profiles[(m, False)] = _run(["--profile", m, "0", *common])
        print(m, profiles[(m, False)], flush=True)
    markdown = _tables(results, profiles, conv, args.steps, args.size)
    publish(f"train-throughput-{args.size}", markdown, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

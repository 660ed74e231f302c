"""The CU-Net's 2x2 average pooling: ``recon_cli.nn.unet.average_pool_2x2`` against ``F.avg_pool2d``.

The shipped ``cunet`` / ``alt-un`` / ``imunne`` networks (8 channels, depth 3, 20 frames of 128 x 128)
pool feature maps of shape (20, C, H, W) with C = 16, 32, 64 real channels (8, 16, 32 complex ones) at
H = W = 128, 64, 32. For each shape this
times the forward pass and forward + backward of both functions with ``torch.utils.benchmark.Timer``
(blocked autorange, median), in one process, interleaved, at ``--threads`` threads, and checks that they
agree. Results go to the "pooling" section of docs/benchmarks.md.

    python benchmarks/bench_pooling.py [--threads N] [--no-write]
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils import benchmark

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import benchmark_parser  # noqa: E402
from benchmarks.report import machine_line, markdown_table, publish  # noqa: E402
from recon_cli.nn.unet import average_pool_2x2  # noqa: E402

SHAPES = ((20, 16, 128, 128), (20, 32, 64, 64), (20, 64, 32, 32))  # as the shipped CU-Net pools them
NAMES = ("avg_pool2d", "strided")


def median_seconds(statement: str, x: torch.Tensor, pool: object) -> float:
    timer = benchmark.Timer(stmt=statement, globals={"x": x, "pool": pool})
    return float(timer.blocked_autorange(min_run_time=0.5).median)


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__, threads=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    rows = []
    for shape in SHAPES:
        x = torch.randn(*shape, generator=generator, requires_grad=True)
        ours, theirs = average_pool_2x2(x), F.avg_pool2d(x, 2)
        gap = float((ours - theirs).detach().abs().max())
        torch_pool = lambda t: F.avg_pool2d(t, 2)  # noqa: E731 - one name for the timer's globals
        times = {}
        for name, pool in (("avg_pool2d", torch_pool), ("strided", average_pool_2x2)):
            with torch.no_grad():
                times[name, "forward"] = median_seconds("pool(x)", x, pool)
            times[name, "backward"] = median_seconds("pool(x).sum().backward()", x, pool)
        rows.append(
            [
                " x ".join(map(str, shape)),
                *(
                    f"{1e3 * times[n, p]:.2f}"
                    for p in ("forward", "backward")
                    for n in ("avg_pool2d", "strided")
                ),
                f"{times['avg_pool2d', 'forward'] / times['strided', 'forward']:.1f}x",
                f"{times['avg_pool2d', 'backward'] / times['strided', 'backward']:.1f}x",
                f"{gap:.1e}",
            ]
        )
        print(rows[-1], flush=True)
    text = "\n".join(
        [
            "## 2x2 average pooling in the CU-Net (pooling)",
            "",
            machine_line(),
            f"Command: `python benchmarks/bench_pooling.py --threads {args.threads}`. The shapes the shipped "
            "CU-Net pools (20 frames, 8 channels, depth 3, 128 x 128); median of "
            "`torch.utils.benchmark.Timer.blocked_autorange`, both functions in one process. `strided` is "
            "`recon_cli.nn.unet.average_pool_2x2` (the four strided views of each 2 x 2 block added), "
            "`avg_pool2d` is `torch.nn.functional.avg_pool2d(x, 2)`; the last column is the largest "
            "difference of their outputs. `u_pass` uses the strided form only where no gradient is recorded.",
            "",
            markdown_table(
                [
                    "shape",
                    "forward avg_pool2d (ms)",
                    "forward strided (ms)",
                    "forward + backward avg_pool2d (ms)",
                    "forward + backward strided (ms)",
                    "forward speed-up",
                    "forward + backward speed-up",
                    "max difference",
                ],
                rows,
            ),
        ]
    )
    publish("pooling", text, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

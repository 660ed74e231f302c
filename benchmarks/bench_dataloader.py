"""Is data loading the bottleneck of `recon train`? Loader throughput against the model's step time.

For the synthetic radial and Cartesian sources and for a folder of fully sampled fastMRI-layout files
(written here with ``recon_cli.train.synthetic.write_fastmri_folder``), this measures

* loader throughput (examples, i.e. slices, per second) of the training ``DataLoader`` with 0, 1 and 2
  worker processes, after a warm-up batch (worker start-up reported separately);
* the model step: forward + backward of the default ``unet`` (32 channels, 4 pools) on one example,
  including the gridding inside the model, as the training loop runs it.

Loading keeps up when its time per example is below the step time (ratio < 1). Results go to the
"dataloader" section of docs/benchmarks.md.

    python benchmarks/bench_dataloader.py [--examples 12] [--quick]
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import benchmark_parser, load_average, repeat_timed  # noqa: E402
from benchmarks.report import machine_line, markdown_table, publish  # noqa: E402
from recon_cli.train.config import DataConfig, TrainConfig  # noqa: E402
from recon_cli.train.datasets import FastMRISlices  # noqa: E402
from recon_cli.train.examples import TrainingData, collate, operator_for, unbatch  # noqa: E402
from recon_cli.train.objective import reconstruction_loss  # noqa: E402
from recon_cli.train.sampler import BucketBatchSampler  # noqa: E402
from recon_cli.train.seeding import worker_init  # noqa: E402
from recon_cli.train.synthetic import SyntheticCine, write_fastmri_folder  # noqa: E402


def loader_rate(dataset: TrainingData, workers: int, examples: int) -> tuple[float, float]:
    """(examples per second after the first batch, seconds to the first batch) with ``workers``."""
    keys = [dataset.shape_key(i) for i in range(len(dataset))]
    sampler = BucketBatchSampler(keys, 1, seed=0)
    loader: DataLoader = DataLoader(
        dataset,  # type: ignore[arg-type]
        batch_sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        worker_init_fn=worker_init if workers else None,
        generator=torch.Generator().manual_seed(0),
    )
    start = time.perf_counter()
    iterator = iter(loader)
    next(iterator)
    first = time.perf_counter() - start
    start = time.perf_counter()
    count = 0
    for _ in range(examples):
        try:
            count += next(iterator)["kspace"].shape[0]
        except StopIteration:
            break
    rate = count / (time.perf_counter() - start)
    del iterator
    return rate, first


def step_seconds(dataset: TrainingData, repeats: int = 3) -> float:
    """Mean forward + backward seconds of the default unet on one example (after one warm-up)."""
    from recon_cli.registry import load_plugin, resolve_config

    plugin = load_plugin("unet")
    torch.manual_seed(0)
    model = plugin.build(resolve_config(plugin, {}))
    example = unbatch(collate([dataset[(0, 0)]]), 0, torch.device("cpu"))
    config = TrainConfig()

    def step() -> None:
        loss = reconstruction_loss(model(example["kspace"], operator_for(example)), example["target"], config)
        loss.backward()

    times, _ = repeat_timed(step, repeats + 1)
    return sum(times[1:]) / repeats


def shape_text(dataset: TrainingData) -> str:
    example = dataset[(0, 0)]
    return "x".join(str(n) for n in example["kspace"].shape)


def sources(folder: Path, quick: bool) -> dict[str, TrainingData]:
    matrix = 64 if quick else 128
    radial = DataConfig(matrix=matrix, frames=8 if quick else 20, coils=8, spokes=13, length=10_000)
    cartesian = DataConfig(matrix=matrix, frames=8 if quick else 20, coils=8, length=10_000)
    write_fastmri_folder(
        folder,
        2 if quick else 4,
        slices=4,
        coils=8 if quick else 15,
        matrix=matrix,
        cols=matrix + matrix // 8,
        seed=0,
    )
    return {
        "synthetic:radial": SyntheticCine("radial", radial, seed=0),
        "synthetic:cartesian": SyntheticCine("cartesian", cartesian, seed=0),
        "fastMRI folder": FastMRISlices(sorted(folder.glob("*.h5")), DataConfig(), seed=0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__, quick="smaller data (a smoke run)")
    parser.add_argument("--examples", type=int, default=12, help="examples timed per configuration")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated")
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, dataset in sources(Path(tmp), args.quick).items():
            step = step_seconds(dataset)
            for workers in (0, 1, 2):
                rate, first = loader_rate(dataset, workers, args.examples)
                rows.append(
                    [
                        name,
                        shape_text(dataset),
                        workers,
                        f"{rate:.2f}",
                        f"{first:.2f}",
                        f"{step:.2f}",
                        f"{(1 / rate) / step:.2f}",
                    ]
                )
                print(" | ".join(str(c) for c in rows[-1]), flush=True)
    header = [
        "source",
        "k-space per example",
        "workers",
        "loader examples/s",
        "first batch s",
        "unet step s/example",
        "load/step",
    ]
    markdown = "\n\n".join(
        [
            "## Data loading vs model step (`benchmarks/bench_dataloader.py`)",
            machine_line() + f" Load average at the start: {load_average():.1f} (a shared machine).",
            "Loader: the training `DataLoader` (bucketing sampler, batch 1), examples per second after the "
            "first batch; radial and Cartesian examples are simulated on the fly (phantom, coils, noise), "
            "fastMRI slices are read from HDF5 and undersampled with a new mask. Step: forward + backward of "
            "the default `unet` (32 channels, 4 pools, gridding included) on one example. "
            "`load/step` < 1 means loading keeps up with a single training process; during training, "
            "workers prepare the next examples while the model steps, so loading then costs nothing when "
            "cores are free (with 2 cores, workers mostly compete with the step).",
            markdown_table(header, rows),
        ]
    )
    publish("dataloader", markdown, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

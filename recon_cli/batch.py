"""Batches over many processes and machines: which share of the inputs this process reconstructs.

A batch is split round-robin over shards, so every input is reconstructed exactly once:

* ``--shard I/N`` by hand (I in 0..N-1);
* SLURM job arrays: ``SLURM_ARRAY_TASK_ID`` (less ``SLURM_ARRAY_TASK_MIN``) of ``SLURM_ARRAY_TASK_COUNT``;
* ``torchrun``: ``RANK`` of ``WORLD_SIZE``; each rank on ``cuda:LOCAL_RANK`` with ``--device auto``, and
  rank 0 gathers every rank's results for one summary.

``--shard`` replaces the SLURM split; torchrun ranks split each outer shard further (a job array of
torchrun jobs), so shards compose. Every process must see the same input list (same command line).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from recon_cli.errors import UsageError

if TYPE_CHECKING:
    from recon_cli.reconstruct import ProgressCallback, ScanResult
    from recon_cli.reconstruct_request import ReconstructRequest


@dataclass(frozen=True)
class Shard:
    """This process's share: inputs ``index``, ``index + count``, ... of the batch."""

    index: int = 0
    count: int = 1
    by: str = "single"  # single | --shard | slurm | torchrun | slurm+torchrun | --shard+torchrun

    def select(self, inputs: Sequence[Path]) -> list[Path]:
        """The inputs this shard reconstructs (round-robin, order kept)."""
        return list(inputs[self.index :: self.count])


def parse_shard(text: str) -> Shard:
    """``"I/N"`` -> Shard(I, N); UsageError for anything else."""
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = -1, 0
    if not sep or n < 1 or not 0 <= i < n:
        raise UsageError(f"--shard expects I/N with 0 <= I < N, got '{text}'")
    return Shard(i, n, "--shard")


def resolve_shard(option: str | None = None, env: Mapping[str, str] | None = None) -> Shard:
    """This process's shard from ``--shard``, SLURM's array variables and torchrun's ranks."""
    env = os.environ if env is None else env
    outer = parse_shard(option) if option else _slurm_shard(env)
    world = _int(env, "WORLD_SIZE", 1)
    if world <= 1:
        return outer
    rank = _int(env, "RANK", 0)
    if not 0 <= rank < world:
        raise UsageError(f"RANK {rank} is outside WORLD_SIZE {world}")
    by = "torchrun" if outer.by == "single" else f"{outer.by}+torchrun"
    return Shard(outer.index * world + rank, outer.count * world, by)


def _slurm_shard(env: Mapping[str, str]) -> Shard:
    if "SLURM_ARRAY_TASK_ID" not in env or "SLURM_ARRAY_TASK_COUNT" not in env:
        return Shard()
    index = _int(env, "SLURM_ARRAY_TASK_ID", 0) - _int(env, "SLURM_ARRAY_TASK_MIN", 0)
    count = _int(env, "SLURM_ARRAY_TASK_COUNT", 1)
    if count < 1 or not 0 <= index < count:
        raise UsageError(
            f"SLURM array task {env['SLURM_ARRAY_TASK_ID']} is not one of {count} tasks "
            "(SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT)"
        )
    return Shard(index, count, "slurm")


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    try:
        return int(env.get(key, default))
    except ValueError:
        raise UsageError(f"{key} must be an integer, got {env.get(key)!r}") from None


@dataclass
class BatchOutcome:
    """What this process did and, on the process that reports (rank 0), what every process did."""

    shard: Shard
    total: int  # inputs in the whole batch
    results: list[ScanResult]  # this process's
    all_results: list[ScanResult] | None  # every process's, in input order, on the reporting process
    reporting: bool  # whether this process prints the batch summary


def reconstruct_batch(
    inputs: Sequence[Path],
    request: ReconstructRequest,
    *,
    shard: Shard,
    fail_fast: bool = False,
    on_start: Callable[[Path], None] | None = None,
    on_done: Callable[[ScanResult], None] | None = None,
    on_progress: ProgressCallback | None = None,
) -> BatchOutcome:
    """Reconstruct this shard's inputs; under torchrun, gather every rank's results on rank 0."""
    from recon_cli.output_set import check_unique_stems
    from recon_cli.reconstruct import reconstruct_files

    check_unique_stems(inputs)  # on the whole batch, so that every shard refuses the same clash
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        mine = shard.select(inputs)
        request = dataclasses.replace(request, shard=_record(shard))
        results = reconstruct_files(
            mine, request, fail_fast=fail_fast, on_start=on_start, on_done=on_done, on_progress=on_progress
        )
        return BatchOutcome(shard, len(inputs), results, results, True)
    from recon_cli.train.distributed import gather_to_all, init_distributed, shutdown

    ctx = init_distributed(request.device)
    try:
        request = dataclasses.replace(request, device=str(ctx.device), shard=_record(shard))
        results = reconstruct_files(
            shard.select(inputs),
            request,
            fail_fast=fail_fast,
            on_start=on_start,
            on_done=on_done,
            on_progress=on_progress,
        )
        gathered = gather_to_all(results, ctx)
    finally:
        shutdown(ctx)
    order = {Path(p): i for i, p in enumerate(inputs)}
    everyone = sorted((r for part in gathered for r in part), key=lambda r: order.get(r.source, len(order)))
    return BatchOutcome(shard, len(inputs), results, everyone if ctx.is_main else None, ctx.is_main)


def _record(shard: Shard) -> dict[str, object] | None:
    return None if shard.count == 1 else {"index": shard.index, "count": shard.count, "by": shard.by}

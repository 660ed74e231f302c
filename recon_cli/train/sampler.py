"""Batches of equal-shape examples in a deterministic, resumable, evenly sharded order.

Scans of different matrix sizes, coil counts or frame counts cannot be stacked, so examples are grouped
by shape ("bucketing") and every batch comes from one bucket. The order of an epoch is a function of
(seed, epoch) only: the examples are shuffled, split into per-bucket batches, and the batches shuffled
again. The batches are then dealt to ranks round-robin, padded by repeating the first ones so every rank
gets the same number (as ``torch.utils.data.DistributedSampler`` does), and a rank can start an epoch at
any batch, which is how a resumed run continues mid-epoch with exactly the data it would have seen.

Real-time cine examples are large, so the default batch size is 1 and larger effective batches come from
gradient accumulation (``--accumulate``).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence

import torch
from torch.utils.data import Sampler

from recon_cli.train.seeding import derive_seed


class BucketBatchSampler(Sampler[list[tuple[int, int]]]):
    """Yields batches of ``(index, epoch)`` keys for ``dataset[(index, epoch)]``.

    Args:
        shape_keys: one hashable per example; examples with equal keys may share a batch.
        batch_size: examples per batch (the last batch of a bucket may be smaller unless ``drop_last``).
        seed: base seed of the order.
        rank, world_size: this process's share of the batches.
        shuffle: shuffle examples and batches (False: dataset order, for validation).
        drop_last: drop incomplete batches.
    """

    def __init__(
        self,
        shape_keys: Sequence[Hashable],
        batch_size: int,
        *,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"bad batch_size {batch_size} or rank {rank} of {world_size}")
        self.shape_keys = list(shape_keys)
        self.batch_size, self.seed, self.shuffle, self.drop_last = batch_size, seed, shuffle, drop_last
        self.rank, self.world_size = rank, world_size
        self.epoch, self.start = 0, 0
        if not self.epoch_batches(0):
            raise ValueError(f"no complete batch of {batch_size} examples of one shape")

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Iterate epoch ``epoch`` next, skipping this rank's first ``start`` batches."""
        self.epoch, self.start = int(epoch), int(start)

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """All ranks' batches of ``epoch`` (example indices), before sharding."""
        n = len(self.shape_keys)
        gen = torch.Generator().manual_seed(derive_seed(self.seed, "order", epoch))
        order = torch.randperm(n, generator=gen).tolist() if self.shuffle else list(range(n))
        buckets: dict[Hashable, list[int]] = {}
        for i in order:
            buckets.setdefault(self.shape_keys[i], []).append(i)
        batches = [
            members[j : j + self.batch_size]
            for members in buckets.values()
            for j in range(0, len(members), self.batch_size)
        ]
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        if self.shuffle:
            batches = [batches[i] for i in torch.randperm(len(batches), generator=gen).tolist()]
        return batches

    def rank_batches(self, epoch: int) -> list[list[int]]:
        """This rank's batches of ``epoch``: an even share, padded by repeating batches when needed."""
        batches = self.epoch_batches(epoch)
        total = -(-len(batches) // self.world_size) * self.world_size
        padded = (batches * (total // max(len(batches), 1) + 1))[:total]
        return padded[self.rank :: self.world_size]

    def __len__(self) -> int:
        """Batches per rank in one epoch (the same in every epoch)."""
        return -(-len(self.epoch_batches(0)) // self.world_size)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        epoch = self.epoch
        for batch in self.rank_batches(epoch)[self.start :]:
            yield [(i, epoch) for i in batch]


class ShardedSampler(Sampler[list[tuple[int, int]]]):
    """Validation: example ``i`` goes to rank ``i % world_size``, one example per batch, epoch 0.

    No padding, so every example counts once when the ranks' metric sums are reduced.
    """

    def __init__(self, length: int, *, rank: int = 0, world_size: int = 1) -> None:
        self.indices = list(range(rank, length, world_size))

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for i in self.indices:
            yield [(i, 0)]

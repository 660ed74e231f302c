"""Training examples: what a dataset yields, how examples are batched, and the operator each one needs.

An example is a dict of tensors plus a ``meta`` dict of plain values:

* ``kspace``: (frames, coils, ny, nx) Cartesian or (frames, coils, samples) non-Cartesian, complex64;
* ``mask``: Cartesian, (frames, 1, ny, nx) bool;
* ``traj``: non-Cartesian, (frames, 2, samples) float32 radians/voxel (ky, kx);
* ``dcf``: non-Cartesian, (frames, 1, samples) float32 Pipe-Menon weights (as the operator computes them);
* ``maps``: (coils, ny, nx) complex64, only when the model needs coil maps;
* ``target``: (frames, H, W) float32 magnitude or complex64, H x W the recon matrix (the model's output
  is centre-cropped to it);
* ``meta``: source, slice, index, epoch, ``im_size`` (ny, nx) and ``acceleration``.

The model is called exactly as ``recon_cli.reconstruct.reconstruct_scan`` calls it, ``model(kspace, op)``
with ``op`` the same operator class, so trained weights work unchanged in ``recon reconstruct``.
A batch holds examples of one shape (see ``BucketBatchSampler``) stacked on a new leading axis; the
loop feeds them to the model one at a time, because the model contract has no batch axis.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from typing import Any, Protocol

import torch

from recon_cli.ops.base import LinearOperator
from recon_cli.ops.cartesian import CartesianSense
from recon_cli.ops.nufft import NonCartesianSense, pipe_menon_dcf

Example = dict[str, Any]


class TrainingData(Protocol):
    """What the loop needs from a dataset (``FastMRISlices``, ``IsmrmrdSlices``, ``SyntheticCine``)."""

    trajectory: str  # "cartesian", "radial" or "cartesian/radial"

    def __len__(self) -> int: ...

    def __getitem__(self, key: tuple[int, int]) -> Example:
        """Example ``index`` as drawn in ``epoch``: ``dataset[(index, epoch)]``."""
        ...

    def shape_key(self, index: int) -> Hashable:
        """Equal keys mean stackable examples (known without loading the example)."""
        ...

    def describe(self) -> dict[str, Any]:
        """A summary of plain values for the model card."""
        ...


def cartesian_example(
    kspace: torch.Tensor,
    mask: torch.Tensor,
    target: torch.Tensor,
    meta: dict[str, Any],
    maps: torch.Tensor | None = None,
) -> Example:
    """An example of Cartesian data.

    Args:
        kspace: (frames, coils, ny, nx) complex, zero where not sampled.
        mask: broadcastable to (frames, 1, ny, nx), bool.
        target: (frames, H, W) float magnitude or complex.
        meta: plain values (source, slice, index, epoch, ...).
        maps: (coils, ny, nx) complex or None.
    """
    frames, _, ny, nx = kspace.shape
    full_mask = torch.broadcast_to(mask.to(torch.bool), (frames, 1, ny, nx)).contiguous()
    meta = {**meta, "im_size": (int(ny), int(nx)), "acceleration": _acceleration(full_mask)}
    example = {
        "kspace": kspace.to(torch.complex64),
        "mask": full_mask,
        "target": _target(target),
        "meta": meta,
    }
    if maps is not None:
        example["maps"] = maps.to(torch.complex64)
    return example


def radial_example(
    kspace: torch.Tensor,
    traj: torch.Tensor,
    dcf: torch.Tensor,
    target: torch.Tensor,
    meta: dict[str, Any],
    maps: torch.Tensor | None = None,
) -> Example:
    """An example of non-Cartesian data. kspace (frames, coils, samples); traj (frames, 2, samples);
    dcf (frames or 1, 1, samples); target (frames, H, W); maps (coils, ny, nx) or None;
    ``meta["im_size"]`` must give the image grid (ny, nx)."""
    frames = kspace.shape[0]
    example = {
        "kspace": kspace.to(torch.complex64),
        "traj": torch.broadcast_to(traj.to(torch.float32), (frames, *traj.shape[1:])).contiguous(),
        "dcf": torch.broadcast_to(dcf.to(torch.float32), (frames, *dcf.shape[1:])).contiguous(),
        "target": _target(target),
        "meta": dict(meta),
    }
    if maps is not None:
        example["maps"] = maps.to(torch.complex64)
    return example


def _target(target: torch.Tensor) -> torch.Tensor:
    return target.to(torch.complex64) if target.is_complex() else target.to(torch.float32)


def _acceleration(mask: torch.Tensor) -> float:
    fraction = float(mask.float().mean())
    return 1.0 / fraction if fraction > 0 else float("inf")


def shape_key(example: Example) -> Hashable:
    """What must agree for two examples to share a batch: every tensor's shape and dtype."""
    return tuple(
        (k, tuple(v.shape), str(v.dtype)) for k, v in sorted(example.items()) if isinstance(v, torch.Tensor)
    )


def collate(examples: list[Example]) -> Example:
    """Stack examples of equal shapes on a new leading axis; ``meta`` becomes a list of dicts."""
    batch: Example = {}
    for key in examples[0]:
        values = [e[key] for e in examples]
        batch[key] = torch.stack(values) if isinstance(values[0], torch.Tensor) else values
    return batch


def batch_size(batch: Example) -> int:
    return int(batch["kspace"].shape[0])


def unbatch(batch: Example, index: int, device: torch.device) -> Example:
    """Example ``index`` of a collated batch, its tensors on ``device``."""
    out = {
        k: (v[index].to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v[index])
        for k, v in batch.items()
    }
    return out


def operator_for(example: Example) -> LinearOperator:
    """The forward model of one example, built as ``recon_cli.reconstruct.build_operator`` builds it."""
    kspace, maps = example["kspace"], example.get("maps")
    coils = int(kspace.shape[1])
    if "traj" in example:
        im_size = tuple(example["meta"]["im_size"])
        return NonCartesianSense(coils, im_size, example["traj"], maps=maps, dcf=example["dcf"])
    return CartesianSense((coils, *kspace.shape[-2:]), mask=example["mask"], maps=maps)


class DensityCache:
    """Pipe-Menon density compensation per distinct trajectory, computed once per process.

    Real-time radial scans usually repeat one trajectory (golden angle from the first spoke), and the
    weights take seconds on a CPU, so they are kept by the trajectory's content hash.
    """

    def __init__(self, max_entries: int = 32) -> None:
        self.max_entries = max_entries
        self._weights: dict[tuple[str, tuple[int, ...]], torch.Tensor] = {}

    def __call__(self, traj: torch.Tensor, im_size: tuple[int, int]) -> torch.Tensor:
        """traj: (frames, 2, samples) float32 -> (frames, 1, samples) float32."""
        traj = traj.to(torch.float32).contiguous()
        key = (hashlib.sha1(traj.cpu().numpy().tobytes()).hexdigest(), tuple(int(n) for n in im_size))
        if key not in self._weights:
            if len(self._weights) >= self.max_entries:
                self._weights.pop(next(iter(self._weights)))
            self._weights[key] = pipe_menon_dcf(traj, im_size)
        return self._weights[key]


# One cache per process: a folder's scans, and a synthetic training set and its validation set, usually
# share one trajectory.
density_weights = DensityCache()

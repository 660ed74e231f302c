"""``synthetic:brain``: static Cartesian examples from real anatomy (slices of the MNI152 brain template).

Each example is one axial slice of ``recon_cli.phantoms.anatomy.brain_slices`` at ``data.matrix``,
optionally given a smooth random phase (``data.phase``), seen by ``data.coils`` coils (1: single-coil,
sensitivity one; more: birdcage maps), with complex Gaussian noise at ``data.snr`` and a Cartesian
mask of ``data.mask`` at ``data.acceleration`` drawn per example. The training set is the template's
``train`` part with new masks and noise every epoch; the validation set is the held-out ``test`` part
with fixed masks and noise, so validation and benchmark figures are on slices the network never saw.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import torch
from torch.utils.data import Dataset

from recon_cli.train.config import DataConfig
from recon_cli.train.datasets import undersampling_mask
from recon_cli.train.examples import Example, cartesian_example
from recon_cli.train.seeding import derive_seed


class BrainSlices(Dataset[Example]):
    """Simulated Cartesian k-space of brain-template slices.

    Args:
        config: matrix, coils, snr, phase, and the mask settings (mask, acceleration, center_fraction).
        part: "train" or "test" slices of the template.
        seed: base seed; rank: this process's rank.
        fresh: new masks, phases and noise every epoch (training) or fixed ones (validation).
        needs_maps: include the true coil maps.
    """

    trajectory = "cartesian"

    def __init__(
        self,
        config: DataConfig,
        *,
        part: str,
        seed: int,
        rank: int = 0,
        fresh: bool = True,
        needs_maps: bool = False,
    ) -> None:
        from recon_cli.phantoms.anatomy import brain_slices

        self.config, self.part, self.seed, self.rank = config, part, int(seed), int(rank)
        self.fresh, self.needs_maps = bool(fresh), needs_maps
        self.images = brain_slices(config.matrix, part)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def shape_key(self, index: int) -> Hashable:
        return ("brain",)

    def item_seed(self, index: int, epoch: int) -> int:
        if not self.fresh:
            return derive_seed(self.seed, "brain", self.part, index)
        return derive_seed(self.seed, "brain", self.part, index, epoch, self.rank)

    def __getitem__(self, key: tuple[int, int]) -> Example:
        from recon_cli.phantoms import coil_maps, simulate_cartesian
        from recon_cli.phantoms.anatomy import smooth_phase

        index, epoch = key
        c = self.config
        seed = self.item_seed(index, epoch)
        gen = torch.Generator().manual_seed(seed)
        shape = (c.matrix, c.matrix)
        image = self.images[index].to(torch.complex64)
        if c.phase:
            image = image * smooth_phase(shape, gen)
        if c.coils == 1:
            maps = torch.ones(1, *shape, dtype=torch.complex64)
        else:
            maps = coil_maps(c.coils, shape, generator=gen)
        mask = undersampling_mask(c, shape, 1, derive_seed(seed, "mask"))
        scan = simulate_cartesian(image[None], maps, snr=c.snr, generator=gen, mask=mask)
        meta = {
            "source": f"synthetic:brain ({self.part})",
            "slice": index,
            "index": index,
            "epoch": epoch,
            "seed": seed,
        }
        return cartesian_example(scan.kspace[0], mask, image[None], meta, maps if self.needs_maps else None)

    def describe(self) -> dict[str, Any]:
        c = self.config
        return {
            "source": "synthetic:brain (MNI ICBM152 2009a T1 axial slices from the nilearn package, "
            "simulated Cartesian k-space)",
            "part": self.part,
            "slices": len(self),
            "new every epoch": self.fresh,
            "matrix": c.matrix,
            "coils": c.coils,
            "complex (smooth phase)": c.phase,
            "snr": c.snr,
            "mask": c.mask,
            "acceleration": c.acceleration,
            "center_fraction": c.center_fraction,
        }

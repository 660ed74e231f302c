"""A built-in source of dynamic multi-coil training scans, so training works without any data files.

Each example is a moving numerical chest (``recon_cli.phantoms.cardiac_cine_phantom``) seen by birdcage
coils (``coil_maps``) with complex Gaussian noise, sampled either by golden-angle radial spokes
(``simulate_radial_cine``; the trajectory starts at spoke 0 like the bundled sample scan, so the density
compensation is computed once) or by a Cartesian mask drawn per frame (``simulate_cartesian``).
Everything random comes from a generator seeded by (base seed, index, epoch, rank), so an example is
reproducible; with ``fresh`` every epoch brings new phantoms (an endless source), without it the same
``length`` examples repeat (validation sets).
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from recon_cli.train.config import DataConfig
from recon_cli.train.datasets import undersampling_mask
from recon_cli.train.examples import Example, cartesian_example, density_weights, radial_example
from recon_cli.train.seeding import derive_seed


class SyntheticCine(Dataset[Example]):
    """Simulated radial or Cartesian cine examples.

    Args:
        kind: "radial" or "cartesian".
        config: sizes (matrix, frames, coils, spokes, samples), noise (snr), Cartesian mask settings.
        seed: base seed.
        rank: this process's rank (part of each example's seed when ``fresh``).
        length: examples per epoch (default ``config.length``).
        fresh: new examples every epoch (default ``config.fresh``).
        needs_maps: include the true coil maps.
        part: which brain-template slices the real-anatomy examples (``config.anatomy``) come from:
            "train", or "test" (held out; validation sets).
    """

    def __init__(
        self,
        kind: str,
        config: DataConfig,
        *,
        seed: int,
        rank: int = 0,
        length: int | None = None,
        fresh: bool | None = None,
        needs_maps: bool = False,
        part: str = "train",
    ) -> None:
        from recon_cli.sampling import golden_angle_radial

        self.kind, self.config, self.seed, self.rank = kind, config, int(seed), int(rank)
        self.length = int(config.length if length is None else length)
        self.fresh = bool(config.fresh if fresh is None else fresh)
        self.needs_maps, self.part = needs_maps, part
        self.trajectory = kind
        n = config.matrix
        self.samples = config.samples or 2 * n
        if kind == "radial":
            traj = golden_angle_radial(config.spokes, config.frames, self.samples)
            self.traj = torch.from_numpy(traj)
            self.dcf = density_weights(self.traj, (n, n))

    def __len__(self) -> int:
        return self.length

    def shape_key(self, index: int) -> Hashable:
        return (self.kind,)

    def item_seed(self, index: int, epoch: int) -> int:
        """The seed of example ``index`` in ``epoch`` (the same in every epoch unless ``fresh``)."""
        if not self.fresh:
            return derive_seed(self.seed, "synthetic", self.kind, index)
        return derive_seed(self.seed, "synthetic", self.kind, index, epoch, self.rank)

    def detail_level(self, seed: int) -> float:
        """The phantom detail of the example with ``seed``: uniform in [0, config.detail], drawn from a
        generator of its own, so the rest of the example is the same at any ``detail``."""
        if self.config.detail == 0:
            return 0.0
        gen = torch.Generator().manual_seed(derive_seed(seed, "detail"))
        return float(torch.rand((), generator=gen)) * self.config.detail

    def real_anatomy(self, seed: int) -> bool:
        """Whether the example with ``seed`` is a moving brain slice (probability ``config.anatomy``),
        decided by a generator of its own, so the other examples are the same at any ``anatomy``."""
        if self.config.anatomy == 0:
            return False
        gen = torch.Generator().manual_seed(derive_seed(seed, "anatomy"))
        return float(torch.rand((), generator=gen)) < self.config.anatomy

    def image(self, seed: int, gen: torch.Generator) -> torch.Tensor:
        """The ground-truth cine of the example with ``seed``: (frames, matrix, matrix) complex64."""
        from recon_cli.phantoms import cardiac_cine_phantom, moving_brain_cine

        c = self.config
        if self.real_anatomy(seed):
            return moving_brain_cine(c.matrix, c.frames, part=self.part, generator=gen)
        return cardiac_cine_phantom(c.matrix, c.frames, generator=gen, detail=self.detail_level(seed))

    def __getitem__(self, key: tuple[int, int]) -> Example:
        from recon_cli.phantoms import coil_maps

        index, epoch = key
        c = self.config
        seed = self.item_seed(index, epoch)
        gen = torch.Generator().manual_seed(seed)
        image = self.image(seed, gen)
        maps = coil_maps(c.coils, (c.matrix, c.matrix), generator=gen)
        meta = {"source": f"synthetic:{self.kind}", "slice": 0, "index": index, "epoch": epoch, "seed": seed}
        if self.kind == "radial":
            from recon_cli.phantoms import simulate_radial_cine

            scan = simulate_radial_cine(
                image, maps, self.traj, readout_length=self.samples, snr=c.snr, generator=gen
            )
            meta["im_size"] = (c.matrix, c.matrix)
            kspace, true_maps = self._compressed(scan.kspace[0], maps, coil_dim=-2)
            return radial_example(kspace, self.traj, self.dcf, image, meta, true_maps)
        from recon_cli.phantoms import simulate_cartesian

        mask = undersampling_mask(c, (c.matrix, c.matrix), c.frames, derive_seed(seed, "mask"))
        scan = simulate_cartesian(image, maps, snr=c.snr, generator=gen, mask=mask)
        kspace, true_maps = self._compressed(scan.kspace[0], maps, coil_dim=-3)
        return cartesian_example(kspace, mask, image, meta, true_maps)

    def _compressed(
        self, kspace: torch.Tensor, maps: torch.Tensor, coil_dim: int
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(k-space, true maps or None when not needed), on ``virtual_coils`` SVD virtual coils when set
        (and the model is given maps)."""
        if not self.needs_maps:
            return kspace, None
        n_virtual = self.config.virtual_coils
        if not 0 < n_virtual < kspace.shape[coil_dim]:
            return kspace, maps
        from recon_cli.coils.compression import compress_coils, compress_maps

        virtual, matrix = compress_coils(kspace, n_virtual, coil_dim=coil_dim)
        return virtual, compress_maps(maps.unsqueeze(0), matrix.unsqueeze(0))[0]

    def describe(self) -> dict[str, Any]:
        c = self.config
        info: dict[str, Any] = {
            "source": f"synthetic:{self.kind} (recon_cli.phantoms cardiac cine, birdcage coils, noise)",
            "examples per epoch": self.length,
            "new every epoch": self.fresh,
            "matrix": c.matrix,
            "frames": c.frames,
            "coils": c.coils,
            "snr": c.snr,
            "detail": f"uniform in [0, {c.detail}]" if c.detail else "0 (flat compartments)",
        }
        if c.anatomy:
            info["real anatomy"] = f"{c.anatomy:.0%} moving brain-template slices ({self.part} part)"
        if self.kind == "radial":
            info.update(spokes_per_frame=c.spokes, samples_per_spoke=self.samples)
        else:
            info.update(mask=c.mask, acceleration=c.acceleration, center_fraction=c.center_fraction)
        return info


def write_fastmri_folder(
    folder: Path,
    n_files: int,
    *,
    slices: int = 2,
    coils: int = 4,
    matrix: int = 32,
    cols: int | None = None,
    seed: int = 0,
    snr: float = 40.0,
) -> list[Path]:
    """Write fully sampled fastMRI-layout files of Shepp-Logan heads (for tests, benchmarks and demos).

    Each file holds ``slices`` heads of random zoom with a smooth phase, ``coils`` birdcage coils and
    noise; k-space is (slices, coils, 2 * matrix, cols) with the readout (rows) 2x oversampled as in
    fastMRI, ``reconstruction_rss`` is the fastMRI crop (slices, matrix, matrix), and the header names
    the matrices and fields of view so ``read_fastmri`` removes the oversampling.

    Args:
        folder: Output folder (created); files are ``phantom_000.h5``, ``phantom_001.h5``, ...
        n_files: Number of files.
        slices, coils, matrix: Sizes; ``cols`` (phase encodes) defaults to ``matrix + matrix // 8``.
        seed: Base seed; file ``i`` uses ``derive_seed(seed, "fastmri-phantom", i)``.
        snr: Image SNR of the noise.

    Returns:
        The paths written.
    """
    from recon_cli.io.fastmri import fastmri_header_xml, write_fastmri
    from recon_cli.ops.functional import center_crop, ifft2c, rss
    from recon_cli.phantoms import coil_maps, simulate_cartesian

    rows, cols = 2 * matrix, cols or matrix + matrix // 8
    xml = fastmri_header_xml(
        (rows, cols),
        (matrix, matrix),
        (440.0, 220.0 * cols / matrix, 5.0),
        (220.0, 220.0, 5.0),
        n_coils=coils,
    )
    paths = []
    for i in range(n_files):
        gen = torch.Generator().manual_seed(derive_seed(seed, "fastmri-phantom", i))
        image = _heads(slices, matrix, cols, gen)
        maps = coil_maps(coils, (rows, cols), generator=gen)
        kspace = simulate_cartesian(image, maps, snr=snr, generator=gen).kspace[:, 0]
        target = center_crop(rss(ifft2c(kspace), dim=1), (matrix, matrix))
        path = Path(folder) / f"phantom_{i:03d}.h5"
        paths.append(write_fastmri(path, kspace, reference=target, header_xml=xml, overwrite=True))
    return paths


def _heads(slices: int, matrix: int, cols: int, gen: torch.Generator) -> torch.Tensor:
    """Shepp-Logan heads of random zoom with a smooth phase, in the central half of a 2x oversampled
    readout. Returns (slices, 1, 2 * matrix, cols) complex64."""
    from recon_cli.phantoms import shepp_logan

    yy, xx = torch.meshgrid(torch.linspace(-1, 1, matrix), torch.linspace(-1, 1, cols), indexing="ij")
    phase = torch.polar(torch.ones_like(xx), 0.5 * xx - 0.3 * yy)
    image = torch.zeros(slices, 1, 2 * matrix, cols, dtype=torch.complex64)
    left = (cols - matrix) // 2
    for s in range(slices):
        head = torch.zeros(matrix, cols)
        head[:, left : left + matrix] = shepp_logan(
            matrix, scale=0.75 + 0.2 * float(torch.rand((), generator=gen))
        )
        image[s, 0, matrix // 2 : matrix // 2 + matrix] = head * phase
    return image

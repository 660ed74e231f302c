"""Datasets of training examples (see ``recon_cli.train.examples``) from folders of raw-data files.

* ``FastMRISlices``: fully sampled fastMRI files, one example per slice, undersampled on the fly by a
  ``recon_cli.sampling.cartesian_mask`` drawn from a seed derived from (base seed, file name, slice,
  epoch, rank): reproducible, new every epoch, different per file and per rank. The target is the file's
  ``reconstruction_rss`` (else the same rss crop computed from the fully sampled data).
* ``IsmrmrdSlices``: ISMRMRD scans (radial cine or Cartesian), one example per slice, with targets from
  ``recon_cli.train.references``. Fully sampled Cartesian scans are undersampled on the fly as above.

Every dataset indexes its files once (shapes, slice counts) and then opens a file only inside
``__getitem__``, with a context manager: no HDF5 handle is kept open, pickled to a worker or leaked, so
DataLoader workers each open what they read and a file can be rewritten once iteration stops.
Items are requested as ``dataset[(index, epoch)]`` by ``BucketBatchSampler``, which is how an item knows
its epoch even inside persistent workers.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from recon_cli.errors import InputDataError
from recon_cli.io.scan import Scan, ScanHeader
from recon_cli.ops.functional import center_crop, crop_readout_oversampling, ifft2c, rss
from recon_cli.train.config import DataConfig
from recon_cli.train.examples import Example, cartesian_example, density_weights, radial_example
from recon_cli.train.references import ReferenceSource, read_reference, resolve_reference
from recon_cli.train.seeding import derive_seed

RAW_SUFFIXES = (".h5", ".hdf5", ".mrd", ".ismrmrd")


def raw_files(folder: Path) -> list[Path]:
    """Raw-data files directly in ``folder``, sorted by name (hidden files skipped)."""
    files = [
        p
        for p in sorted(Path(folder).iterdir())
        if p.is_file() and p.suffix.lower() in RAW_SUFFIXES and not p.name.startswith(".")
    ]
    if not files:
        raise InputDataError(folder, f"no raw-data files ({', '.join(RAW_SUFFIXES)}) in the folder")
    return files


def undersampling_mask(
    config: DataConfig, shape: tuple[int, int], frames: int, seed: int, phase_axis: int = -1
) -> torch.Tensor:
    """A Cartesian mask of ``config``'s kind. Returns (frames, 1, ny, nx) bool."""
    from recon_cli.sampling import cartesian_mask

    kwargs = {"phase_axis": phase_axis} if phase_axis != -1 else {}
    mask = cartesian_mask(
        config.mask,
        shape,
        config.acceleration,
        config.center_fraction,
        np.random.default_rng(seed),
        frames,
        **kwargs,
    )
    return torch.from_numpy(mask).unsqueeze(1)


def estimated_maps(kspace: torch.Tensor, mask: torch.Tensor, source: Path, method: str) -> torch.Tensor:
    """Coil maps from undersampled Cartesian data. kspace (frames, coils, ny, nx) -> (coils, ny, nx)."""
    from recon_cli.coils import estimate_maps

    shape = (int(kspace.shape[-2]), int(kspace.shape[-1]))
    header = ScanHeader(recon_matrix=shape, encoded_matrix=shape, fov_mm=(1.0, 1.0, 1.0))
    scan = Scan(kspace=kspace[None], header=header, source=source, format="training", mask=mask[None])
    return estimate_maps(scan, method=method)[0]


@dataclass(frozen=True)
class _FastMRIEntry:
    path: Path
    slice: int
    rows: int  # after readout oversampling removal
    cols: int
    coils: int
    recon_matrix: tuple[int, int]
    reference_name: str | None


class FastMRISlices(Dataset[Example]):
    """Slices of fully sampled fastMRI files, undersampled on the fly.

    Args:
        files: fastMRI HDF5 files (multi-coil or single-coil), fully sampled.
        config: the data settings (mask kind, acceleration, centre fraction, coil method).
        seed: base seed; rank: this process's rank (part of every mask seed).
        needs_maps: estimate coil maps (ESPIRiT on the undersampled data) for models that need them.
    """

    trajectory = "cartesian"

    def __init__(
        self, files: Sequence[Path], config: DataConfig, *, seed: int, rank: int = 0, needs_maps: bool = False
    ) -> None:
        from recon_cli.io.fastmri import read_fastmri

        self.config, self.seed, self.rank, self.needs_maps = config, int(seed), int(rank), needs_maps
        self.entries: list[_FastMRIEntry] = []
        for path in files:
            scan = read_fastmri(path, slices=[0])  # header only; the file is closed again
            if scan.mask is not None:
                raise InputDataError(path, "undersampled k-space; training needs fully sampled fastMRI files")
            for s in range(_slice_count(Path(path))):
                self.entries.append(
                    _FastMRIEntry(
                        Path(path),
                        s,
                        int(scan.kspace.shape[-2]),
                        int(scan.kspace.shape[-1]),
                        scan.n_coils,
                        scan.header.recon_matrix,
                        scan.fastmri_info.reference_name if scan.fastmri_info else None,
                    )
                )

    def __len__(self) -> int:
        return len(self.entries)

    def shape_key(self, index: int) -> Hashable:
        e = self.entries[index]
        return (e.coils, e.rows, e.cols, e.recon_matrix)

    def __getitem__(self, key: tuple[int, int]) -> Example:
        index, epoch = key
        e = self.entries[index]
        kspace, reference = _read_fastmri_slice(e)
        kspace = crop_readout_oversampling(kspace, e.rows, dim=-2).unsqueeze(0)  # (1, coils, rows, cols)
        target = reference if reference is not None else center_crop(rss(ifft2c(kspace)), e.recon_matrix)
        seed = derive_seed(self.seed, "mask", e.path.name, e.slice, epoch, self.rank)
        mask = undersampling_mask(self.config, (e.rows, e.cols), 1, seed)
        kspace = kspace * mask
        maps = estimated_maps(kspace, mask, e.path, self.config.coil_method) if self.needs_maps else None
        meta = {"source": e.path.name, "slice": e.slice, "index": index, "epoch": epoch}
        return cartesian_example(kspace, mask, target.reshape(1, *target.shape[-2:]), meta, maps)

    def describe(self) -> dict[str, Any]:
        files = sorted({e.path.name for e in self.entries})
        shapes = sorted({(e.coils, e.rows, e.cols) for e in self.entries})
        return {
            "source": "fastMRI folder",
            "files": len(files),
            "examples": len(self),
            "shapes (coils, rows, cols)": [list(s) for s in shapes],
            "mask": self.config.mask,
            "acceleration": self.config.acceleration,
            "center_fraction": self.config.center_fraction,
        }


def _slice_count(path: Path) -> int:
    import h5py

    with h5py.File(path, "r") as f:
        return int(f["kspace"].shape[0])


def _read_fastmri_slice(entry: _FastMRIEntry) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One slice's k-space (coils, rows, cols) complex64 and reference (H, W) float32 or None."""
    import h5py

    try:
        with h5py.File(entry.path, "r") as f:
            raw = np.asarray(f["kspace"][entry.slice])
            ref = None if entry.reference_name is None else np.asarray(f[entry.reference_name][entry.slice])
    except (OSError, KeyError) as exc:
        raise InputDataError(entry.path, f"cannot read slice {entry.slice}: {exc}") from None
    if raw.dtype.names and {"r", "i"} <= set(raw.dtype.names):
        raw = raw["r"] + 1j * raw["i"]
    kspace = torch.from_numpy(np.ascontiguousarray(raw, dtype=np.complex64))
    kspace = kspace if kspace.dim() == 3 else kspace.unsqueeze(0)  # single-coil files
    return kspace, None if ref is None else torch.from_numpy(ref.astype(np.float32))


@dataclass(frozen=True)
class _ScanEntry:
    path: Path
    slice: int
    shape: tuple[int, ...]  # k-space of one slice: (frames, coils, ...)
    recon_matrix: tuple[int, int]
    reference: ReferenceSource


class IsmrmrdSlices(Dataset[Example]):
    """Slices of ISMRMRD scans with reference images (radial cine, or Cartesian).

    Args:
        files: ISMRMRD HDF5 files.
        config: the data settings (reference source, cache folder, mask for fully sampled Cartesian data).
        data_dir: the folder the files came from (default home of the reference cache).
        seed, rank: as for ``FastMRISlices``.
        needs_maps: estimate coil maps for models that need them.
    """

    def __init__(
        self,
        files: Sequence[Path],
        config: DataConfig,
        *,
        data_dir: Path,
        seed: int,
        rank: int = 0,
        needs_maps: bool = False,
    ) -> None:
        from recon_cli.io import read_scan

        self.config, self.seed, self.rank, self.needs_maps = config, int(seed), int(rank), needs_maps
        self.entries: list[_ScanEntry] = []
        kinds = set()
        for path in files:
            scan = read_scan(path)
            kinds.add("cartesian" if scan.is_cartesian else "radial")
            source = resolve_reference(Path(path), scan, config, data_dir)
            shape, matrix = tuple(scan.kspace.shape[1:]), scan.header.recon_matrix
            self.entries += [_ScanEntry(Path(path), s, shape, matrix, source) for s in range(scan.n_slices)]
        self.trajectory = "/".join(sorted(kinds))

    def __len__(self) -> int:
        return len(self.entries)

    def shape_key(self, index: int) -> Hashable:
        return (self.entries[index].shape, self.entries[index].recon_matrix)

    def __getitem__(self, key: tuple[int, int]) -> Example:
        from recon_cli.io import read_scan

        index, epoch = key
        e = self.entries[index]
        scan = read_scan(e.path)
        target = read_reference(e.reference, scan, e.slice)
        meta = {"source": e.path.name, "slice": e.slice, "index": index, "epoch": epoch}
        maps = None
        if self.needs_maps:
            from recon_cli.coils import estimate_maps

            maps = estimate_maps(scan, method=self.config.coil_method)[e.slice]
        if not scan.is_cartesian:
            assert scan.traj is not None
            traj = scan.traj[min(e.slice, scan.traj.shape[0] - 1)]
            meta["im_size"] = tuple(scan.image_shape)
            dcf = density_weights(traj, scan.image_shape)
            return radial_example(scan.kspace[e.slice], traj, dcf, target, meta, maps)
        return self._cartesian(scan, e, epoch, target, meta, maps)

    def _cartesian(
        self,
        scan: Scan,
        e: _ScanEntry,
        epoch: int,
        target: torch.Tensor,
        meta: dict[str, Any],
        maps: torch.Tensor | None,
    ) -> Example:
        kspace = scan.kspace[e.slice]
        if scan.mask is not None:
            mask = scan.mask[min(e.slice, scan.mask.shape[0] - 1)]
        else:  # fully sampled: undersample on the fly along the phase-encode lines (rows)
            seed = derive_seed(self.seed, "mask", e.path.name, e.slice, epoch, self.rank)
            mask = undersampling_mask(self.config, scan.image_shape, scan.n_frames, seed, phase_axis=-2)
            kspace = kspace * mask
        return cartesian_example(kspace, mask, target, meta, maps)

    def describe(self) -> dict[str, Any]:
        return {
            "source": "ISMRMRD folder",
            "files": len({e.path for e in self.entries}),
            "examples": len(self),
            "trajectory": self.trajectory,
            "references": sorted({e.reference.kind for e in self.entries}),
            "shapes (frames, coils, ...)": sorted({str(list(e.shape)) for e in self.entries}),
        }

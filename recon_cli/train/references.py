"""Target images of ISMRMRD training scans: the file's own, a folder of images, or a cached ``cs`` result.

* ``file``: ``dataset/reference`` inside the raw file (``Scan.reference``).
* ``folder``: ``<reference_dir>/<stem>.h5`` holding a ``reference`` (or ``images``, as written by
  ``recon reconstruct --format h5``) dataset of shape (slices, frames, ny, nx), ny x nx the recon matrix.
* ``cs``: the ``cs`` model's reconstruction (coil maps estimated when it needs them), computed once and
  cached as ``<cache_dir>/reference-cs/<stem>.h5`` (dataset ``reference``, magnitude, float32).
* ``auto``: the first of file, folder (when ``reference_dir`` is set) and cs that applies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from recon_cli.errors import InputDataError, ModelError, first_line
from recon_cli.io.scan import Scan
from recon_cli.train.config import DataConfig

_IMAGE_DATASETS = ("reference", "images")


@dataclass(frozen=True)
class ReferenceSource:
    """Where one scan's target images are: in the raw file itself, or in an HDF5 image file."""

    kind: str  # "file" | "folder" | "cs"
    path: Path | None = None


def cache_folder(config: DataConfig, data_dir: Path) -> Path:
    """Folder of computed references: ``cache_dir`` or ``<data folder>/.recon-cache``."""
    return Path(config.cache_dir) if config.cache_dir else Path(data_dir) / ".recon-cache"


def resolve_reference(path: Path, scan: Scan, config: DataConfig, data_dir: Path) -> ReferenceSource:
    """Choose the target of ``path`` by ``config.reference``; computes and caches a cs one when needed.

    Raises:
        InputDataError: the chosen reference is missing or has the wrong shape.
        ModelError: a cs reference is needed but the ``cs`` model is not available.
    """
    stem = _stem(path)
    choice = config.reference
    if choice == "auto":
        choice = "file" if scan.reference is not None else ("folder" if config.reference_dir else "cs")
    if choice == "file":
        if scan.reference is None:
            raise InputDataError(
                path, "no dataset/reference in the file (set data.reference to folder or cs)"
            )
        return ReferenceSource("file")
    if choice == "folder":
        if not config.reference_dir:
            raise InputDataError(path, "data.reference=folder needs data.reference_dir")
        source = ReferenceSource("folder", Path(config.reference_dir) / f"{stem}.h5")
    else:
        source = ReferenceSource("cs", cache_folder(config, data_dir) / "reference-cs" / f"{stem}.h5")
        if not source.path.exists():  # type: ignore[union-attr]
            write_cs_reference(scan, source.path, config.coil_method)  # type: ignore[arg-type]
    read_reference(source, scan, 0)  # checks it exists and fits
    return source


def read_reference(source: ReferenceSource, scan: Scan, slice_index: int) -> torch.Tensor:
    """Target of one slice, (frames, ny, nx) float32 magnitude (ny, nx the recon matrix)."""
    if source.kind == "file":
        assert scan.reference is not None
        return scan.reference[slice_index].abs().to(torch.float32)
    assert source.path is not None
    images = _read_images(source.path, slice_index)
    expected = (scan.n_frames, *scan.header.recon_matrix)
    if tuple(images.shape) != expected:
        raise InputDataError(
            source.path,
            f"reference slice has shape {tuple(images.shape)}, expected {expected} (frames, ny, nx)",
        )
    return images


def _read_images(path: Path, slice_index: int) -> torch.Tensor:
    import h5py

    if not path.is_file():
        raise InputDataError(path, "no such reference file")
    with h5py.File(path, "r") as f:
        name = next((n for n in _IMAGE_DATASETS if isinstance(f.get(n), h5py.Dataset)), None)
        if name is None:
            raise InputDataError(path, f"no {' or '.join(_IMAGE_DATASETS)} dataset")
        ds = f[name]
        if ds.ndim != 4 or slice_index >= ds.shape[0]:
            raise InputDataError(path, f"'{name}' has shape {ds.shape}; expected (slices, frames, ny, nx)")
        data = np.abs(np.asarray(ds[slice_index]))
    return torch.from_numpy(data.astype(np.float32))


def write_cs_reference(scan: Scan, out: Path, coil_method: str) -> Path:
    """Reconstruct ``scan`` with the ``cs`` model and write its magnitude as ``out`` (dataset ``reference``).

    Raises:
        ModelError: the ``cs`` model is not installed or fails to load.
    """
    import h5py

    from recon_cli.coils import estimate_maps
    from recon_cli.contract import coil_maps_mode
    from recon_cli.io.atomic import atomic_path
    from recon_cli.reconstruct import load_model, reconstruct_scan
    from recon_cli.registry import config_to_dict

    try:
        model = load_model("cs", device="cpu")
        required = coil_maps_mode(model.module) == "required"
        maps = estimate_maps(scan, method=coil_method) if required else None
        images = reconstruct_scan(scan, model, maps)
    except Exception as exc:  # noqa: BLE001 - a plugin may fail in any way; say which step failed
        detail = first_line(exc, None)
        raise ModelError(
            f"{scan.source}: data.reference=cs needs the 'cs' model to reconstruct a reference, and it "
            f"failed ({detail}); put references in the files or use data.reference=folder"
        ) from exc
    with atomic_path(out, overwrite=True) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("reference", data=images.abs().numpy().astype(np.float32))
        f.attrs["model"] = "cs"
        f.attrs["config"] = json.dumps(config_to_dict(model.config))
        f.attrs["source"] = str(scan.source)
    return out


def _stem(path: Path) -> str:
    from recon_cli.output_set import output_stem

    return output_stem(path)

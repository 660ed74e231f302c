"""Coil-map files (HDF5), as written by ``recon estimate-coils`` and read by ``recon reconstruct --coils``.

Layout:

* dataset ``maps``: (slices, coils, ny, nx) complex64, on the scan's image grid;
* attributes ``method``, ``layout``, ``parameters`` (JSON of the estimation options), ``compressed``;
* with coil compression (``--compress N``): ``maps`` holds the N virtual coils and dataset
  ``compression`` the (slices, N, coils) matrices that made them from the physical coils.

``read_maps`` always returns maps on the scan's physical coils, so a reconstruction can use the file
without knowing about compression: virtual maps are mapped back with ``matrix^H`` (exactly equivalent to
reconstructing the compressed data, see ``compression.py``). Code that wants the speed of fewer coils
reads ``read_compression`` and ``read_maps(..., virtual=True)`` and compresses the scan with
``compress_scan(scan, matrices=...)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recon_cli.coils.compression import uncompress_maps
from recon_cli.errors import InputDataError
from recon_cli.io.atomic import atomic_path
from recon_cli.io.scan import Scan


def write_maps(
    path: Path,
    maps: torch.Tensor,
    *,
    method: str,
    parameters: dict[str, Any] | None = None,
    compression: torch.Tensor | None = None,
    overwrite: bool = False,
) -> Path:
    """Save maps to HDF5 (atomically).

    Args:
        path: output file.
        maps: (slices, coils, ny, nx) complex; virtual coils when ``compression`` is given.
        method: the estimation method's name.
        parameters: the estimation options, stored as JSON.
        compression: (slices, virtual coils, coils) complex matrices, or None.
        overwrite: replace an existing file.

    Returns:
        The written path.
    """
    import h5py

    with atomic_path(path, overwrite) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("maps", data=maps.cpu().numpy().astype(np.complex64), compression="gzip")
        f.attrs["method"] = method
        f.attrs["layout"] = "slices, coils, ny, nx"
        f.attrs["parameters"] = json.dumps(parameters or {})
        f.attrs["compressed"] = compression is not None
        if compression is not None:
            f.create_dataset("compression", data=compression.cpu().numpy().astype(np.complex64))
            f["compression"].attrs["layout"] = "slices, virtual coils, coils"
    return Path(path)


def _load(path: Path) -> tuple[torch.Tensor, torch.Tensor | None]:
    import h5py

    path = Path(path)
    if not path.exists():
        raise InputDataError(path, "no such coil-map file")
    try:
        with h5py.File(path, "r") as f:
            if "maps" not in f:
                raise InputDataError(path, "no 'maps' dataset (write one with `recon estimate-coils`)")
            maps = torch.from_numpy(np.asarray(f["maps"]).astype(np.complex64))
            matrices = None
            if "compression" in f:
                matrices = torch.from_numpy(np.asarray(f["compression"]).astype(np.complex64))
    except OSError as exc:
        raise InputDataError(path, f"unreadable HDF5 coil-map file: {str(exc).splitlines()[0]}") from None
    return maps, matrices


def read_compression(path: Path) -> torch.Tensor | None:
    """The (slices, virtual coils, coils) compression matrices of a map file, or None."""
    return _load(path)[1]


def read_maps(path: Path, scan: Scan, *, virtual: bool = False) -> torch.Tensor:
    """Load maps written by ``write_maps`` and check they fit ``scan``.

    Args:
        path: the map file.
        scan: the (uncompressed) scan the maps are for.
        virtual: return compressed maps as stored (virtual coils) instead of on the physical coils.

    Returns:
        (slices, coils, ny, nx) complex64; ``coils`` is the scan's unless ``virtual``.
    """
    maps, matrices = _load(path)
    if matrices is not None:
        if tuple(matrices.shape[:2]) != tuple(maps.shape[:2]) or matrices.shape[2] != scan.n_coils:
            raise InputDataError(
                path,
                f"compression matrices {tuple(matrices.shape)} do not fit the maps {tuple(maps.shape)} "
                f"and the scan's {scan.n_coils} coils",
            )
        if not virtual:
            maps = uncompress_maps(maps, matrices)
    coils = maps.shape[1] if virtual else scan.n_coils
    expected = (scan.n_slices, coils, *scan.image_shape)
    if tuple(maps.shape) != expected:
        raise InputDataError(path, f"coil maps have shape {tuple(maps.shape)}, the scan needs {expected}")
    return maps

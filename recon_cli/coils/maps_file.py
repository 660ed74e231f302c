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
from recon_cli.errors import InputDataError, first_line
from recon_cli.io.atomic import atomic_path
from recon_cli.io.plausibility import MAX_ENCODED_MATRIX, check_matrix, check_stored
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
    if not path.is_file():
        raise InputDataError(path, "no such coil-map file")
    try:
        with h5py.File(path, "r") as f:
            maps = _complex_array(path, f, "maps", 4)
            if maps is None:
                raise InputDataError(path, "no 'maps' dataset (write one with `recon estimate-coils`)")
            matrices = _complex_array(path, f, "compression", 3)
    except OSError as exc:
        raise InputDataError(path, f"unreadable HDF5 coil-map file: {first_line(exc, None)}") from None
    return maps, matrices


def _complex_array(path: Path, f: Any, name: str, ndim: int) -> torch.Tensor | None:
    """Dataset ``name`` as complex64 of rank ``ndim``, checked before and after reading; None if absent."""
    import h5py

    node = f.get(name)
    if node is None:
        return None
    if not isinstance(node, h5py.Dataset) or node.ndim != ndim:
        shape = tuple(node.shape) if isinstance(node, h5py.Dataset) else "a group"
        raise InputDataError(path, f"'{name}' has shape {shape}; expected {ndim} dimensions")
    check_stored(path, f"'{name}'", node)
    check_matrix(path, f"'{name}' shape", node.shape, MAX_ENCODED_MATRIX)
    try:
        values = np.asarray(node[()]).astype(np.complex64)
    except (TypeError, ValueError):
        raise InputDataError(path, f"'{name}' is not numeric (dtype {node.dtype})") from None
    if not np.isfinite(values).all():
        raise InputDataError(path, f"'{name}' contains NaN/Inf values")
    return torch.from_numpy(values)


def read_compression(path: Path) -> torch.Tensor | None:
    """The (slices, virtual coils, coils) compression matrices of a map file, or None."""
    return _load(path)[1]


def read_maps(
    path: Path, scan: Scan, *, virtual: bool = False, part: tuple[int, int] | None = None
) -> torch.Tensor:
    """Load maps written by ``write_maps`` and check they fit ``scan``.

    Args:
        path: the map file.
        scan: the (uncompressed) scan the maps are for.
        virtual: return compressed maps as stored (virtual coils) instead of on the physical coils.
        part: (index, slices): ``scan`` is slice ``index`` alone of a file of ``slices`` slices; the maps
            are checked against the whole file and that slice's are returned.

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
    expected = (scan.n_slices if part is None else part[1], coils, *scan.image_shape)
    if tuple(maps.shape) != expected:
        raise InputDataError(path, f"coil maps have shape {tuple(maps.shape)}, the scan needs {expected}")
    return maps if part is None else maps[part[0] : part[0] + 1]

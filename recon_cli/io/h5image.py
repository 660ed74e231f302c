"""HDF5 output of the complex images with their geometry and provenance, and a reader for it.

Layout of the file (docs/formats.md has the full description):

* ``images``: ``(slices, frames, ny, nx)`` complex64 (gzip-compressed, one chunk per image), with
  dataset attributes ``axes = "slice,frame,y,x"`` and ``units``. ``magnitude`` (optional): the same
  shape, float32, with the same attributes.
* root attributes, self-describing: ``axes``, ``units`` (image values), ``length_units`` ("mm"),
  ``time_units`` ("ms"), ``coordinate_system`` ("LPS"), ``recon_version``; geometry: ``matrix`` (ny, nx),
  ``recon_matrix``, ``fov_mm`` (fov_y, fov_x, thickness), ``pixel_spacing_mm`` (row spacing, column
  spacing), ``slice_thickness_mm``, ``slice_spacing_mm``, ``readout_axis``, ``frame_time_ms`` (absent
  when unknown), ``slice_positions`` (slices, 3), ``row_direction`` and ``column_direction`` (3,) (DICOM's
  row and column direction cosines: the column index x increases along the row direction, the row index
  y along the column direction), ``slice_dir`` (3,) and ``affine_lps`` (4, 4) from (x, y, slice, 1) to
  LPS mm (see ``recon_cli.io.geometry``); then the caller's ``attrs`` (recon reconstruct writes
  provenance there: ``model``, ``config``, ``input_file``, ``weights``). Caller values that HDF5 cannot
  hold directly (dicts, lists of text, None) are stored as JSON text and listed in the ``json_attrs``
  attribute so ``read_h5_images`` decodes them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from recon_cli import __version__
from recon_cli.io.atomic import atomic_path
from recon_cli.io.geometry import image_array, volume_geometry

if TYPE_CHECKING:
    from recon_cli.io.scan import ScanHeader

_JSON_LIST = "json_attrs"
AXES = "slice,frame,y,x"
UNITS = "arbitrary (complex signal after recon's orthonormal FFTs; no physical unit)"


def write_h5_images(
    path: Path | str,
    images: Any,
    header: ScanHeader,
    *,
    attrs: dict[str, Any] | None = None,
    magnitude: bool = False,
    overwrite: bool = False,
) -> Path:
    """Write complex images, their geometry and the caller's attributes to an HDF5 file.

    Args:
        path: Output file (``.h5``).
        images: ``(slices, frames, ny, nx)`` complex64 or real tensor/array; stored as complex64.
        header: Geometry and timing of the scan.
        attrs: Extra root attributes, e.g. ``{"model": "imunne", "config": {...}}``.
        magnitude: Also store a float32 ``magnitude`` dataset.
        overwrite: Replace an existing file.

    Returns:
        The written path.

    Raises:
        OutputExistsError: ``path`` exists and ``overwrite`` is False.
        ValueError: ``attrs`` uses a name this writer reserves.
    """
    import h5py

    data = image_array(images).astype(np.complex64, copy=False)
    n_slices, _, ny, nx = data.shape
    own = _geometry_attrs(header, n_slices, (ny, nx))
    user = dict(attrs or {})
    clash = sorted(set(user) & (set(own) | {_JSON_LIST}))
    if clash:
        raise ValueError(f"attrs {clash} clash with attributes write_h5_images sets itself")
    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp, h5py.File(tmp, "w") as f:
        chunks = (1, 1, ny, nx)
        datasets = [
            f.create_dataset("images", data=data, chunks=chunks, compression="gzip", compression_opts=4)
        ]
        if magnitude:
            mag = np.abs(data).astype(np.float32)
            datasets.append(
                f.create_dataset("magnitude", data=mag, chunks=chunks, compression="gzip", compression_opts=4)
            )
        for dataset in datasets:
            dataset.attrs["axes"], dataset.attrs["units"] = AXES, UNITS
        for key, value in own.items():
            f.attrs[key] = value
        encoded = []
        for key, value in user.items():
            stored, as_json = _encode(value)
            f.attrs[key] = stored
            if as_json:
                encoded.append(key)
        f.attrs[_JSON_LIST] = json.dumps(encoded)
    return path


def read_h5_images(path: Path | str) -> tuple[np.ndarray, dict[str, Any]]:
    """Read a file written by ``write_h5_images``.

    Returns:
        ``images`` ``(slices, frames, ny, nx)`` complex64 and the root attributes (JSON values decoded,
        numeric arrays as NumPy arrays, text as ``str``).
    """
    import h5py

    with h5py.File(path, "r") as f:
        images = np.asarray(f["images"][()], dtype=np.complex64)
        raw = {key: f.attrs[key] for key in f.attrs}
    encoded = set(json.loads(_text(raw.pop(_JSON_LIST, "[]"))))
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in encoded:
            out[key] = json.loads(_text(value))
        elif isinstance(value, bytes | np.bytes_ | str):
            out[key] = _text(value)
        elif isinstance(value, np.generic):
            out[key] = value.item()
        else:
            out[key] = value
    return images, out


def _geometry_attrs(header: ScanHeader, n_slices: int, shape: tuple[int, int]) -> dict[str, Any]:
    geom = volume_geometry(header, n_slices, shape)
    attrs: dict[str, Any] = {
        "axes": AXES,
        "units": UNITS,
        "length_units": "mm",
        "time_units": "ms",
        "coordinate_system": "LPS",
        "recon_version": __version__,
        "matrix": np.array(shape, dtype=np.int64),
        "recon_matrix": np.array(header.recon_matrix, dtype=np.int64),
        "fov_mm": np.array(header.fov_mm, dtype=np.float64),
        "pixel_spacing_mm": np.array(geom.pixel_spacing, dtype=np.float64),
        "slice_thickness_mm": geom.slice_thickness,
        "slice_spacing_mm": geom.slice_spacing,
        "readout_axis": int(header.readout_axis),
        "slice_positions": geom.centres,
        "row_direction": geom.row_direction,
        "column_direction": geom.column_direction,
        "slice_dir": geom.slice_dir,
        "affine_lps": geom.affine_lps(),
    }
    if header.frame_time_ms is not None:
        attrs["frame_time_ms"] = float(header.frame_time_ms)
    return attrs


def _encode(value: Any) -> tuple[Any, bool]:
    """(value HDF5 can store, whether it was JSON-encoded)."""
    if isinstance(value, str | bool | int | float | np.generic):
        return value, False
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return value, False
    return json.dumps(value, default=str), True


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes | np.bytes_) else str(value)

"""NIfTI-1 output (``.nii.gz``) of reconstructed magnitude images, with a scanner-based RAS+ affine."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from recon_cli import __version__
from recon_cli.io.atomic import atomic_path
from recon_cli.io.geometry import magnitude, volume_geometry

if TYPE_CHECKING:
    from recon_cli.io.scan import ScanHeader

_SCANNER = 1  # NIfTI xform code "scanner-based anatomical coordinates"


def write_nifti(path: Path | str, images: Any, header: ScanHeader, *, overwrite: bool = False) -> Path:
    """Write the magnitude of ``images`` as a NIfTI-1 volume (3-D for one frame, 4-D for cine).

    The stored array is float32 ``(x = column, y = row, slice[, frame])``; slices are put in increasing
    position along the slice normal so one affine describes them (a warning says when the spacing is
    irregular and the affine is approximate). sform and qform are both set (code 1, scanner); zooms are
    (column spacing, row spacing, slice spacing[, frame time]) in mm and ms; ``descrip`` names recon's
    version and the values (magnitude, arbitrary units), ``intent_name`` "magnitude" (docs/formats.md).

    Args:
        path: Output file, normally ending ``.nii.gz``.
        images: ``(slices, frames, ny, nx)`` complex64 or real tensor/array.
        header: Geometry and timing of the scan.
        overwrite: Replace an existing file.

    Returns:
        The written path.

    Raises:
        OutputExistsError: ``path`` exists and ``overwrite`` is False.
    """
    import nibabel as nib

    mag = magnitude(images)
    n_slices, n_frames, ny, nx = mag.shape
    geom = volume_geometry(header, n_slices, (ny, nx))
    order = geom.spatial_order()
    geom, mag = geom.take(order), mag[order]
    if not geom.is_regular():
        warnings.warn(
            f"{path}: slice positions are not evenly spaced; the NIfTI affine is approximate",
            stacklevel=2,
        )
    data = np.ascontiguousarray(mag.transpose(3, 2, 0, 1))  # (x, y, slice, frame)
    if n_frames == 1:
        data = data[..., 0]
    affine = geom.affine_ras()
    img = nib.Nifti1Image(data, affine)
    hdr = img.header
    hdr.set_data_dtype(np.float32)
    img.set_sform(affine, code=_SCANNER)
    img.set_qform(affine, code=_SCANNER)
    frame_time = header.frame_time_ms
    if n_frames > 1:
        zooms = tuple(float(z) for z in hdr.get_zooms()[:3])
        hdr.set_zooms((*zooms, float(frame_time) if frame_time else 1.0))
    hdr.set_xyzt_units(xyz="mm", t="msec" if frame_time else "unknown")
    freq, phase = (0, 1) if header.readout_axis == -1 else (1, 0)
    hdr.set_dim_info(freq=freq, phase=phase, slice=2)
    hdr["descrip"] = f"recon {__version__} magnitude, arbitrary units".encode()
    hdr["intent_name"] = b"magnitude"  # intent code 0 (none): plain image values
    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        nib.save(img, tmp)
    return path

"""The torch-free part of reading a fastMRI file: shape limits, the ISMRMRD XML header (a dataset or a root
attribute), matrices and fields of view, and the assumptions a fastMRI file forces on a reader.

Shared by ``io/fastmri.py`` (``read_fastmri``) and ``io/summary.py`` (``recon info``, which must not import
torch), so both check the same limits and report the same guesses. Matrices and FOVs are in array order:
x is the rows (the readout), y the columns.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from recon_cli.errors import InputDataError
from recon_cli.io.plausibility import (
    MAX_COILS,
    MAX_ENCODED_MATRIX,
    MAX_MATRIX,
    MAX_SLICES,
    check_count,
    check_fov,
    check_matrix,
)
from recon_cli.io.scan import ScanHeader, SliceGeometry

__all__ = ["assume_orientation", "check_coil_count", "check_shape", "header_text", "parse_geometry"]


def check_shape(path: Path, shape: tuple[int, ...]) -> None:
    """Slices, coils, rows and columns of ``kspace`` within ``plausibility``'s limits."""
    check_count(path, "slices", shape[0], MAX_SLICES)
    if len(shape) == 4:
        check_count(path, "coils", shape[1], MAX_COILS)
    check_matrix(path, "kspace matrix (rows, cols)", shape[-2:], MAX_ENCODED_MATRIX)


def header_text(f: Any, path: Path) -> str | None:
    """The ISMRMRD XML: the ``ismrmrd_header`` dataset, or a root attribute of that name (some writers)."""
    import h5py

    node = f.get("ismrmrd_header")
    if isinstance(node, h5py.Dataset):
        value = node[()]
    elif "ismrmrd_header" in f.attrs:
        value = f.attrs["ismrmrd_header"]
    else:
        return None
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(-1)[0]
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    raise InputDataError(path, f"ismrmrd_header is not text (a {type(value).__name__})")


def check_coil_count(hdr: Any, n_coils: int, guesses: list[str]) -> None:
    """A header stating another number of receiver channels than kspace holds: the data wins (a guess)."""
    system = getattr(hdr, "acquisitionSystemInformation", None)
    stated = getattr(system, "receiverChannels", None)
    if stated is not None and int(stated) != n_coils:
        guesses.append(
            f"the header states {stated} receiver channels but kspace holds {n_coils} coils; "
            f"the data's {n_coils} were used"
        )


def assume_orientation(
    header: ScanHeader, n_slices: int, guesses: list[str], indices: list[int] | None = None
) -> ScanHeader:
    """fastMRI files carry no slice geometry: place the array as fastMRI displays it (a guess).

    fastMRI shows the image of ``kspace`` with its first axis (rows) top to bottom and its second
    (columns) left to right; as a transverse slice in the radiological convention that is rows towards
    patient posterior and columns towards patient left (DICOM ImageOrientationPatient 1/0/0/0/1/0),
    slices stacked towards superior at the slice thickness, the file's stack centred on the origin.

    Args:
        header: The header to place (its slice thickness spaces the slices).
        n_slices: Slices in the file.
        guesses: Receives the assumption.
        indices: The file's slice indices that were read (default all).

    Returns:
        The header with one ``SliceGeometry`` per read slice.
    """
    thickness = header.fov_mm[2] if header.fov_mm[2] > 0 else 1.0
    if header.fov_mm[2] <= 0:
        guesses.append("the header gives no slice thickness; 1 mm was assumed")
    geometry = tuple(
        SliceGeometry(
            position=(0.0, 0.0, (s - (n_slices - 1) / 2) * thickness),
            read_dir=(0.0, 1.0, 0.0),  # rows (the readout axis of fastMRI files) run towards posterior
            phase_dir=(1.0, 0.0, 0.0),  # columns run towards patient left
            slice_dir=(0.0, 0.0, 1.0),
        )
        for s in (range(n_slices) if indices is None else indices)
    )
    guesses.append(
        "no slice geometry in fastMRI files: a transverse slice was assumed, rows towards patient "
        "posterior and columns towards patient left (as fastMRI displays the array)"
        + (f", slices contiguous at {thickness:g} mm" if n_slices > 1 else "")
    )
    return dataclasses.replace(header, geometry=geometry)


def parse_geometry(xml: str | None, path: Path, shape: tuple[int, int], guesses: list[str]) -> dict[str, Any]:
    """Matrices and FOVs (array order: x = rows, y = cols) from the ismrmrd_header, or defaults."""
    if xml is None or not xml.strip():
        guesses.append(
            "no ismrmrd_header: recon matrix = array shape, FOV = 1 mm per pixel and no readout "
            "oversampling were assumed"
        )
        fov = (float(shape[0]), float(shape[1]), 1.0)
        return {"enc": shape, "recon": shape, "enc_fov": fov, "recon_fov": fov, "xml": None, "hdr": None}
    hdr = _parse_xml(xml, path, guesses)
    try:
        e, r = hdr.encoding[0].encodedSpace, hdr.encoding[0].reconSpace
        spaces = [((s.matrixSize.x, s.matrixSize.y), s.fieldOfView_mm) for s in (e, r)]
        spaces = [(m, (f.x, f.y, f.z)) for m, f in spaces]
    except (IndexError, AttributeError, TypeError, ValueError):
        raise InputDataError(
            path, "ismrmrd_header lacks encodedSpace/reconSpace matrix sizes and FOVs"
        ) from None
    geo: dict[str, Any] = {
        "enc": check_matrix(path, "encoded matrix (x, y)", spaces[0][0], MAX_ENCODED_MATRIX),
        "recon": check_matrix(path, "recon matrix (x, y)", spaces[1][0], MAX_MATRIX),
        "enc_fov": check_fov(path, "encoded field of view (x, y, z)", spaces[0][1]),
        "recon_fov": check_fov(path, "recon field of view (x, y, z)", spaces[1][1]),
    }
    geo.update(xml=xml, hdr=hdr)
    return geo


def _parse_xml(xml: str, path: Path, guesses: list[str]) -> Any:
    """The ISMRMRD header (``ismrmrd_header.parse_header_text``: a lenient parse is a guess)."""
    from recon_cli.io.ismrmrd_header import parse_header_text

    return parse_header_text(path, xml, guesses)

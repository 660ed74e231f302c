"""Find out what a file holds from its content (never its name) and read it into a ``Scan``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from recon_cli.errors import InputDataError, first_line

if TYPE_CHECKING:
    from recon_cli.io.scan import Scan

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def detect_format(path: Path | str) -> str:
    """Return "ismrmrd" or "fastmri"; raise ``InputDataError`` naming the file and the problem."""
    import h5py

    path = Path(path)
    try:
        if path.is_dir():
            raise InputDataError(path, "is a directory, not a raw-data file")
        size = path.stat().st_size  # raises for a missing file, a symlink loop, a forbidden folder
        if size == 0:
            raise InputDataError(path, "file is empty")
        with path.open("rb") as fh:
            head = fh.read(8)
        # HDF5 may place its superblock at 512, 1024, ... when a user block is present.
        if head != _HDF5_SIGNATURE and not _has_offset_signature(path, size):
            raise InputDataError(path, "not an HDF5 file (expected ISMRMRD or fastMRI raw data)")
    except FileNotFoundError:
        raise InputDataError(
            path, "no such file" + (" (a broken symbolic link)" if path.is_symlink() else "")
        ) from None
    except OSError as exc:  # permission denied, a symlink loop, an I/O error
        raise InputDataError(path, f"cannot read: {(exc.strerror or first_line(exc)).lower()}") from None
    try:
        with h5py.File(path, "r") as f:
            if "kspace" in f and isinstance(f["kspace"], h5py.Dataset):
                return "fastmri"
            for name in f:
                group = f[name]
                if isinstance(group, h5py.Group) and "xml" in group:
                    return "ismrmrd"
    except OSError as exc:
        problem = f"unreadable HDF5 file (truncated or corrupt): {first_line(exc)}"
        raise InputDataError(path, problem) from None
    raise InputDataError(path, "HDF5 file holds neither fastMRI 'kspace' nor an ISMRMRD dataset")


def read_scan(path: Path | str, **options: object) -> Scan:
    """Read any supported raw-data file. ``options`` go to the format's reader."""
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "fastmri":
        from recon_cli.io.fastmri import read_fastmri

        return read_fastmri(path, **options)  # type: ignore[arg-type]
    from recon_cli.io.ismrmrd import read_ismrmrd

    return read_ismrmrd(path, **options)  # type: ignore[arg-type]


def _has_offset_signature(path: Path, size: int) -> bool:
    offset = 512
    with path.open("rb") as fh:
        while offset + 8 <= size and offset <= 1 << 20:
            fh.seek(offset)
            if fh.read(8) == _HDF5_SIGNATURE:
                return True
            offset *= 2
    return False

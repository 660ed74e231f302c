"""The sizes a memory plan needs, read from a raw-data file's headers (never its samples; torch-free).

ISMRMRD: the XML header and the acquisition headers (``recon_cli.io.summary.describe_file``, which cuts the
heads out of the table by raw chunk). fastMRI: the k-space dataset's shape and the XML header's fields of
view; the readout oversampling the reader removes is removed here too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from recon_cli.errors import InputDataError
from recon_cli.io.detect import detect_format
from recon_cli.io.plausibility import check_stored


@dataclass(frozen=True)
class ScanShape:
    """What the reader will hand the pipeline, per file.

    Attributes:
        slices, frames, coils: counts.
        cartesian: Cartesian k-space (ky, kx) per coil, else ``samples`` per frame and coil.
        kspace: per frame and coil: (ky, kx) Cartesian, (samples,) non-Cartesian.
        image: (ny, nx) the operator's image grid (before cropping to ``recon``).
        recon: (ny, nx) the output matrix.
        traj_slices: trajectory sets stored (1 when all slices share one).
    """

    path: str
    format: str
    slices: int
    frames: int
    coils: int
    cartesian: bool
    kspace: tuple[int, ...]
    image: tuple[int, int]
    recon: tuple[int, int]
    traj_slices: int = 1

    @property
    def samples(self) -> int:
        """K-space values per frame and coil."""
        n = 1
        for v in self.kspace:
            n *= v
        return n

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "kspace": list(self.kspace),
            "image": list(self.image),
            "recon": list(self.recon),
        }


def scan_shape(path: Path) -> ScanShape:
    """The shapes of ``path`` from its headers.

    Raises:
        InputDataError: the file is missing or not raw data recon reads (naming the file).
    """
    path = Path(path)
    if not path.is_file():
        raise InputDataError(path, "no such file")
    fmt = detect_format(path)
    if fmt == "fastmri":
        return _fastmri_shape(path)
    from recon_cli.io.summary import describe_file

    row = describe_file(path)
    image = (int(row["matrix"][0]), int(row["matrix"][1]))
    cartesian = row["trajectory"] == "cartesian"
    if cartesian:
        encoded = (int(row["encoded_matrix"][0]), int(row["encoded_matrix"][1]))
        kspace: tuple[int, ...] = encoded
        grid = encoded
    else:
        kspace, grid = (int(row["samples_per_frame"]),), image
    return ScanShape(
        str(path), "ismrmrd", int(row["slices"]), int(row["frames"]), int(row["coils"]), cartesian,
        kspace, grid, image, 1,
    )  # fmt: skip


def _fastmri_shape(path: Path) -> ScanShape:
    import h5py

    from recon_cli.io import fastmri_header as fh

    try:
        with h5py.File(path, "r") as f:
            ds = f["kspace"]
            shape = tuple(int(n) for n in ds.shape)
            if len(shape) not in (3, 4):
                raise InputDataError(path, f"kspace has rank {len(shape)} {shape}; expected 3 or 4")
            fh.check_shape(path, shape)  # the reader's plausibility checks, before anything is sized
            check_stored(path, "kspace", ds)
            rows, cols = shape[-2:]
            geo = fh.parse_geometry(fh.header_text(f, path), path, (rows, cols), [])
    except InputDataError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        line = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise InputDataError(path, f"unreadable fastmri file: {line}") from None
    n_out = min(rows, max(1, round(rows * geo["recon_fov"][0] / geo["enc_fov"][0])))
    recon = (int(geo["recon"][0]), int(geo["recon"][1]))
    coils = shape[1] if len(shape) == 4 else 1
    return ScanShape(str(path), "fastmri", shape[0], 1, coils, True, (n_out, cols), (n_out, cols), recon, 1)

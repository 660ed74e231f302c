"""The acquisition table of an ISMRMRD dataset: headers in memory, samples on demand, and which
acquisitions are imaging, calibration or noise. Torch-free (``recon info`` uses it too).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np

from recon_cli.errors import InputDataError
from recon_cli.io.ismrmrd_header import short_error
from recon_cli.io.ismrmrd_lib import ismrmrd
from recon_cli.io.plausibility import MAX_ACQUISITIONS, MAX_COILS, check_count, check_stored

__all__ = ["Table", "acquisition_heads", "classify", "flag", "open_group"]

_IGNORED = (
    ismrmrd.ACQ_IS_NOISE_MEASUREMENT,
    ismrmrd.ACQ_IS_NAVIGATION_DATA,
    ismrmrd.ACQ_IS_PHASECORR_DATA,
    ismrmrd.ACQ_IS_HPFEEDBACK_DATA,
    ismrmrd.ACQ_IS_DUMMYSCAN_DATA,
    ismrmrd.ACQ_IS_RTFEEDBACK_DATA,
    ismrmrd.ACQ_IS_SURFACECOILCORRECTIONSCAN_DATA,
    ismrmrd.ACQ_IS_PHASE_STABILIZATION_REFERENCE,
    ismrmrd.ACQ_IS_PHASE_STABILIZATION,
)


def flag(flags: np.ndarray, bit: int) -> np.ndarray:
    """Whether ISMRMRD flag ``bit`` (1-based, as in ``ismrmrd.ACQ_*``) is set in each entry of ``flags``."""
    return (flags.astype(np.uint64) & np.uint64(1 << (bit - 1))) != 0


class Table:
    """The acquisition table of one dataset: headers in memory, samples read on demand."""

    def __init__(self, path: Path, group: h5py.Group) -> None:
        self.path = path
        table = group.get("data")
        if not isinstance(table, h5py.Dataset) or table.shape[0] == 0:
            raise InputDataError(path, "ISMRMRD dataset holds no acquisitions")
        check_count(path, "acquisitions", table.shape[0], MAX_ACQUISITIONS)
        check_stored(path, "the acquisition table", table)
        try:
            self.heads: np.ndarray = acquisition_heads(table)
            self.heads["flags"], self.heads["idx"]["slice"]  # noqa: B018 - fail early on odd layouts
        except (KeyError, ValueError, TypeError, OSError) as exc:
            raise InputDataError(path, f"unreadable ISMRMRD acquisition table: {short_error(exc)}") from None
        self._table = table

    def _column(self, name: str, index: np.ndarray) -> list[np.ndarray]:
        try:
            return list(self._table.fields(name)[np.sort(index)]) if len(index) else []
        except (KeyError, ValueError, TypeError, OSError) as exc:
            raise InputDataError(self.path, f"unreadable acquisition {name}: {short_error(exc)}") from None

    def readouts(self, index: np.ndarray) -> list[np.ndarray]:
        """Readouts of the (increasing) acquisitions ``index``: a list of (coils, samples_i) complex64."""
        heads = self.heads[index]
        coils, ns = heads["active_channels"].astype(int), heads["number_of_samples"].astype(int)
        if np.unique(coils).size > 1:
            raise InputDataError(self.path, f"inconsistent coil counts across readouts: {np.unique(coils)}")
        if coils.size and not 1 <= coils[0] <= MAX_COILS:
            raise InputDataError(
                self.path, f"{coils[0]} active channels is outside the plausible 1..{MAX_COILS}"
            )
        out = []
        for raw, c, n in zip(self._column("data", index), coils, ns, strict=True):
            if raw.size != 2 * c * n or n == 0:
                raise InputDataError(self.path, "readout length does not match its header's sample count")
            out.append(raw.view(np.complex64).reshape(c, n))
        if any(not np.isfinite(x.view(np.float32)).all() for x in out):
            raise InputDataError(self.path, "k-space holds NaN or Inf samples")
        return out

    def samples(self, index: np.ndarray) -> np.ndarray:
        """(n, coils, samples) complex64 readouts of the acquisitions ``index``, which share one length."""
        ns = np.unique(self.heads["number_of_samples"][index])
        if ns.size > 1:
            raise InputDataError(self.path, f"inconsistent sample counts across readouts: {ns}")
        return np.stack(self.readouts(index))

    def trajectories(self, index: np.ndarray) -> np.ndarray:
        """(n, samples, 2) float32 (kx, ky) trajectory points of the acquisitions ``index``."""
        heads = self.heads[index]
        dims, ns = heads["trajectory_dimensions"].astype(int), heads["number_of_samples"].astype(int)
        if (dims == 0).any():
            raise InputDataError(
                self.path, "radial/spiral data without trajectories (trajectory_dimensions=0)"
            )
        if (dims < 2).any() or np.unique(dims).size > 1:
            raise InputDataError(self.path, f"unusable trajectory dimensions {np.unique(dims)} (need 2 or 3)")
        if np.unique(ns).size > 1:
            raise InputDataError(
                self.path, f"inconsistent sample counts across readouts: {np.unique(ns)} (need one length)"
            )
        raw = self._column("traj", index)
        if any(r.size != d * n for r, d, n in zip(raw, dims, ns, strict=True)):
            raise InputDataError(self.path, "trajectory length does not match its header's sample count")
        traj = np.stack(raw).reshape(len(index), int(ns[0]), int(dims[0]))[..., :2]
        if not np.isfinite(traj).all():
            raise InputDataError(self.path, "trajectory holds NaN or Inf values")
        return traj.astype(np.float32)


def acquisition_heads(table: h5py.Dataset) -> np.ndarray:
    """The fixed-size ``head`` of every ISMRMRD acquisition, without touching the samples.

    HDF5 reads each record's variable-length ``traj`` and ``data`` even when only ``head`` is asked for
    (memory grows with the samples: 130 MiB for an 84 MB file); an unfiltered chunked table is therefore
    read chunk by chunk as raw bytes and the heads cut out at their offset in the file's record type.
    Compressed or contiguous tables fall back to HDF5's own field read.
    """
    plist = table.id.get_create_plist()
    if table.chunks is None or plist.get_layout() != h5py.h5d.CHUNKED or plist.get_nfilters() > 0:
        return np.asarray(table.fields("head")[:])
    file_type = table.id.get_type()
    member = file_type.get_member_index(b"head")
    record = np.dtype(
        {
            "names": ["head"],
            "formats": [file_type.get_member_type(member).dtype],
            "offsets": [file_type.get_member_offset(member)],
            "itemsize": file_type.get_size(),
        }
    )
    rows, step = int(table.shape[0]), int(table.chunks[0])
    parts = []
    for start in range(0, rows, step):
        _, raw = table.id.read_direct_chunk((start,))
        parts.append(np.frombuffer(raw, dtype=record, count=min(step, rows - start))["head"].copy())
    return np.concatenate(parts) if parts else np.asarray(table.fields("head")[:])


@contextmanager
def open_group(path: Path, dataset: str) -> Iterator[h5py.Group]:
    try:
        handle = h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        raise InputDataError(path, f"cannot open as HDF5: {short_error(exc)}") from None
    with handle:
        group = handle.get(dataset)
        if not isinstance(group, h5py.Group):
            raise InputDataError(path, f"no ISMRMRD dataset group '{dataset}' in the file")
        yield group


def classify(path: Path, heads: np.ndarray, guesses: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of (noise, imaging, calibration) acquisitions, after the encoding/contrast/set choice."""
    flags = heads["flags"]
    noise = flag(flags, ismrmrd.ACQ_IS_NOISE_MEASUREMENT)
    ignored = np.any([flag(flags, b) for b in _IGNORED], axis=0)
    cal_only = flag(flags, ismrmrd.ACQ_IS_PARALLEL_CALIBRATION)
    cal_both = flag(flags, ismrmrd.ACQ_IS_PARALLEL_CALIBRATION_AND_IMAGING)
    imaging, calib = ~ignored & ~(cal_only & ~cal_both), ~ignored & (cal_only | cal_both)
    if noise.all():
        raise InputDataError(path, "only noise acquisitions, no imaging data")
    if not imaging.any():
        raise InputDataError(path, "no imaging acquisitions (only noise, calibration or navigator data)")
    keep = heads["encoding_space_ref"] == 0
    if (imaging & ~keep).any():
        guesses.append("the file has several encoding spaces; only encoding space 0 was read")
    for name in ("contrast", "set"):
        values = heads["idx"][name]
        first = values[imaging & keep].min() if (imaging & keep).any() else 0
        if np.unique(values[imaging & keep]).size > 1:
            guesses.append(f"only {name} {first} of {np.unique(values[imaging & keep]).tolist()} was read")
        keep &= values == first
    if not (imaging & keep).any():
        raise InputDataError(path, "no imaging acquisitions in encoding space 0")
    return np.flatnonzero(noise), np.flatnonzero(imaging & keep), np.flatnonzero(calib & keep)

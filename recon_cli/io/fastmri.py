"""fastMRI HDF5 raw data: read into a ``Scan`` (the writer is ``fastmri_write``, re-exported here).

fastMRI files hold ``kspace`` (slices, coils, rows, cols) multi-coil or (slices, rows, cols) single-coil,
complex64, with the readout along the rows (2x oversampled, e.g. 640) and phase encoding along the
columns (e.g. 368); an ``ismrmrd_header`` XML string; targets ``reconstruction_rss`` (multi-coil) or
``reconstruction_esc`` (single-coil), (slices, H, W) float32, computed as
``center_crop(rss(ifft2c(kspace)), (H, W))``; an optional 1-D ``mask`` over the columns (test sets);
and root attributes (acquisition, patient_id, max, norm, acceleration, num_low_frequency, ...).

The reader keeps fastMRI's array orientation: ``Scan.kspace`` is (slices, 1, coils, rows, cols) and
``header.readout_axis`` is -2. Readout oversampling is removed in k-space along the rows by the ratio of
encoded to recon field of view in x, keeping the central rows exactly where fastMRI's image crop keeps
them, so ``center_crop(rss(ifft2c(scan.kspace)), recon_matrix)`` equals ``reconstruction_rss``.
Matrices and FOVs are given in array order: ``recon_matrix = (recon x, recon y)`` (rows are x, the
readout; columns are y), ``fov_mm = (recon fov x, recon fov y, recon fov z)``; ``encoded_matrix`` is
the k-space matrix after oversampling removal (it matches ``kspace``; the file's value is in
``fastmri_info.stored_matrix``). ``header.acceleration`` is (phase-encoding factor, 1) from the
``acceleration`` attribute, else from the XML's parallelImaging section.

The XML header is read from the ``ismrmrd_header`` dataset or, as some writers store it, a root attribute
of that name. Sizes are checked against ``plausibility`` before any sample is read. fastMRI files carry
no slice geometry: the image is placed as fastMRI displays it (``fastmri_header.assume_orientation``).
Every such assumption (no header, lenient XML, orientation, a coil count the header contradicts, an
ignored reference) is one sentence in ``Scan.guesses``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recon_cli.errors import InputDataError, UsageError, first_line
from recon_cli.io.fastmri_header import (
    assume_orientation,
    check_coil_count,
    check_shape,
    header_text,
    parse_geometry,
)
from recon_cli.io.fastmri_write import fastmri_header_xml, write_fastmri
from recon_cli.io.ismrmrd_header import IdentityFields, identity_fields
from recon_cli.io.plausibility import MAX_ACCELERATION, check_matrix, check_stored, slice_positions
from recon_cli.io.scan import FastmriInfo, Scan, ScanHeader
from recon_cli.ops.functional import crop_readout_oversampling

__all__ = ["fastmri_header_xml", "read_fastmri", "write_fastmri"]

_REFERENCE_NAMES = {
    4: ("reconstruction_rss", "reconstruction_esc"),
    3: ("reconstruction_esc", "reconstruction_rss"),
}


def read_fastmri(
    path: Path | str, *, slices: slice | Sequence[int] | None = None, prewhiten: bool = False
) -> Scan:
    """Read a fastMRI HDF5 file.

    Args:
        path: The file.
        prewhiten: Accepted for a common reader interface; fastMRI files hold no noise scans, so True
            is an error.
        slices: Read only these slices (a ``slice``, or indices: sorted, duplicates dropped); None: all.

    Returns:
        A ``Scan`` with kspace (slices, 1, coils, rows, cols) complex64 (readout oversampling removed
        along the rows), ``reference`` (slices, 1, H, W) float32 when the file has one, ``mask``
        (1, 1, 1, 1, cols) bool for undersampled data (None when every column holds data), and the
        file's layout, attributes and reference name in ``fastmri_info``; every assumption made in
        ``guesses``.

    Raises:
        InputDataError: the file is unreadable or its data unusable (naming the file and the problem).
    """
    import h5py

    path = Path(path)
    if prewhiten:
        raise InputDataError(path, "prewhitening requested but fastMRI files carry no noise acquisitions")
    try:
        with h5py.File(path, "r") as f:
            raw = _read_raw(f, path, slices)
        return _build_scan(path, raw)
    except (InputDataError, UsageError):
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError, IndexError) as exc:
        raise InputDataError(path, f"unreadable fastMRI file: {first_line(exc)}") from None


def _read_raw(f: Any, path: Path, slices: slice | Sequence[int] | None) -> dict[str, Any]:
    """Everything the scan needs, as numpy arrays and plain Python values."""
    import h5py

    ds = f.get("kspace")
    if not isinstance(ds, h5py.Dataset):
        raise InputDataError(path, "no 'kspace' dataset (not a fastMRI file)")
    if ds.ndim not in (3, 4):
        raise InputDataError(
            path,
            f"kspace has rank {ds.ndim} {tuple(ds.shape)}; expected 3 (slices, rows, cols) single-coil "
            "or 4 (slices, coils, rows, cols) multi-coil",
        )
    if ds.size == 0:
        raise InputDataError(path, f"kspace is empty (shape {tuple(ds.shape)})")
    check_shape(path, tuple(int(n) for n in ds.shape))  # before reading anything
    check_stored(path, "kspace", ds)
    sel = _slice_selection(slices, ds.shape[0])
    indices = list(range(int(ds.shape[0])))[sel] if isinstance(sel, slice) else list(sel)
    kspace = _as_complex(ds[sel], ds.dtype, path)
    if not np.isfinite(kspace).all():
        raise InputDataError(path, "kspace contains NaN or Inf values")
    raw: dict[str, Any] = {"kspace": kspace, "guesses": [], "attrs": _attrs(f.attrs)}
    raw["slices"] = (int(ds.shape[0]), indices)
    raw["reference_name"], raw["reference"] = _read_reference(f, kspace.ndim, sel, kspace.shape[0], raw)
    raw["mask"] = np.asarray(f["mask"][()]) if isinstance(f.get("mask"), h5py.Dataset) else None
    node = f.get("sampling_mask")  # recon's 2-D pattern, (rows, cols), when `mask` (columns) cannot say it
    raw["sampling_mask"] = np.asarray(node[()]) != 0 if isinstance(node, h5py.Dataset) else None
    raw["xml"] = header_text(f, path)
    return raw


def _slice_selection(slices: slice | Sequence[int] | None, n: int) -> slice | list[int]:
    if slices is None:
        return slice(None)
    if isinstance(slices, slice):
        if len(range(*slices.indices(n))) == 0:
            raise UsageError(f"slice selection {slices} selects none of the {n} slices")
        return slices
    return slice_positions(slices, n)


def _as_complex(data: np.ndarray, dtype: np.dtype, path: Path) -> np.ndarray:
    """complex64 from a complex array or a compound (real, imag) one; real data is an error."""
    if np.iscomplexobj(data):
        return data.astype(np.complex64, copy=False)
    names = dtype.names or ()
    for re, im in (("r", "i"), ("real", "imag")):
        if re in names and im in names:
            return (data[re] + 1j * data[im]).astype(np.complex64)
    raise InputDataError(path, f"kspace is real-valued (dtype {dtype}); fastMRI k-space must be complex")


def _read_reference(
    f: Any, ndim: int, sel: Any, n_slices: int, raw: dict[str, Any]
) -> tuple[str | None, Any]:
    """The file's own target image: rss for multi-coil, esc for single-coil, else whichever exists."""
    import h5py

    for name in _REFERENCE_NAMES[ndim]:
        ds = f.get(name)
        if isinstance(ds, h5py.Dataset):
            ref = np.asarray(ds[sel], dtype=np.float32)
            if ref.ndim == 3 and ref.shape[0] == n_slices and not np.isfinite(ref).all():
                raw["guesses"].append(f"the reference '{name}' was ignored: it contains NaN/Inf values")
                continue
            if ref.ndim == 3 and ref.shape[0] == n_slices:
                return name, ref
            raw["guesses"].append(
                f"the reference '{name}' was ignored: its shape {ref.shape} does not fit {n_slices} slices"
            )
    return None, None


def _attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, np.generic):
            value = value.item()
        elif isinstance(value, np.ndarray):
            value = value.tolist()
        out[str(key)] = value
    return out


def _build_scan(path: Path, raw: dict[str, Any]) -> Scan:
    kspace = raw["kspace"]
    if kspace.ndim == 3:
        kspace = kspace[:, None]
    kspace = torch.from_numpy(np.ascontiguousarray(kspace)).unsqueeze(1)  # (slices, 1, coils, rows, cols)
    rows, cols = int(kspace.shape[-2]), int(kspace.shape[-1])
    guesses: list[str] = raw["guesses"]
    geo = parse_geometry(raw["xml"], path, (rows, cols), guesses)
    mask = _mask(raw["mask"], kspace, path)
    n_out = min(rows, max(1, round(rows * geo["recon_fov"][0] / geo["enc_fov"][0])))
    if geo["recon_fov"][0] > geo["enc_fov"][0]:
        guesses.append(
            "the recon field of view exceeds the encoded one along the readout; no oversampling was removed"
        )
    if raw["sampling_mask"] is not None:
        mask = _mask_2d(raw["sampling_mask"], (rows, cols), n_out, path)
    if n_out < rows:
        kspace = crop_readout_oversampling(kspace, n_out, dim=-2)
    header = _header(raw, geo, (int(kspace.shape[-2]), cols), path)
    check_coil_count(geo["hdr"], int(kspace.shape[2]), guesses)
    header = assume_orientation(header, raw["slices"][0], guesses, raw["slices"][1])
    info = FastmriInfo(
        layout="multicoil" if raw["kspace"].ndim == 4 else "singlecoil",
        reference_name=raw["reference_name"],
        stored_shape=tuple(int(n) for n in raw["kspace"].shape),
        stored_matrix=(int(geo["enc"][0]), int(geo["enc"][1])),
        readout_oversampling=rows / kspace.shape[-2],
        attrs=raw["attrs"],
    )
    ref = raw["reference"]
    return Scan(
        kspace=kspace.to(torch.complex64),
        header=header,
        source=path,
        format="fastmri",
        mask=mask,
        reference=None if ref is None else torch.from_numpy(ref).unsqueeze(1),
        guesses=tuple(guesses),
        fastmri_info=info,
    )


def _mask(mask: np.ndarray | None, kspace: torch.Tensor, path: Path) -> torch.Tensor | None:
    """Column mask (1, 1, 1, 1, cols) bool from the file's ``mask``, else from all-zero columns."""
    cols = int(kspace.shape[-1])
    if mask is not None:
        mask = np.asarray(mask).reshape(-1)
        if mask.size != cols:
            raise InputDataError(path, f"mask has {mask.size} entries but kspace has {cols} columns")
        return torch.from_numpy(mask != 0).reshape(1, 1, 1, 1, cols)
    sampled = (kspace != 0).flatten(0, -2).any(dim=0)  # over slices, coils, rows
    if bool(sampled.all()):
        return None
    return sampled.reshape(1, 1, 1, 1, cols)


def _mask_2d(mask: np.ndarray, shape: tuple[int, int], n_out: int, path: Path) -> torch.Tensor:
    """A 2-D sampling pattern (rows, cols) -> (1, 1, 1, rows, cols) bool; it must fit k-space as stored."""
    if mask.shape != shape:
        raise InputDataError(path, f"sampling_mask has shape {mask.shape} but kspace has {shape}")
    if n_out < shape[0]:
        raise InputDataError(path, "a 2-D sampling_mask cannot be combined with readout oversampling")
    return torch.from_numpy(mask).reshape(1, 1, 1, *shape)


def _header(raw: dict[str, Any], geo: dict[str, Any], encoded: tuple[int, int], path: Path) -> ScanHeader:
    """``encoded`` is the k-space matrix after readout oversampling removal (as the ISMRMRD reader)."""
    attrs, hdr = raw["attrs"], geo["hdr"]
    acceleration = (1, 1)
    if "acceleration" in attrs:
        factor = attrs["acceleration"]
        if isinstance(factor, bool) or not isinstance(factor, int | float) or not 1 <= factor <= 1024:
            raise InputDataError(path, f"attribute 'acceleration' = {factor!r} is not a factor in 1..1024")
        acceleration = (max(1, round(float(factor))), 1)
    identity = IdentityFields(patient={}, study={}, series={}, sequence={})
    if hdr is not None:  # patient, study, series and sequence fields present in the ISMRMRD XML header
        identity = identity_fields(hdr)
        acceleration = _xml_acceleration(hdr, acceleration, path)
    if attrs.get("patient_id"):
        identity["patient"]["id"] = str(attrs["patient_id"])
    if attrs.get("acquisition"):
        identity["series"].setdefault("description", str(attrs["acquisition"]))
    return ScanHeader(
        recon_matrix=tuple(geo["recon"]),
        encoded_matrix=encoded,
        fov_mm=tuple(geo["recon_fov"]),
        trajectory="cartesian",
        readout_axis=-2,
        acceleration=acceleration,
        xml=geo["xml"],
        **identity,
    )


def _xml_acceleration(hdr: Any, acceleration: tuple[int, int], path: Path) -> tuple[int, int]:
    """The XML's parallel imaging factors where the file's attributes gave none."""
    par = hdr.encoding[0].parallelImaging
    if acceleration == (1, 1) and par is not None and par.accelerationFactor is not None:
        af = par.accelerationFactor
        factors = (af.kspace_encoding_step_1, af.kspace_encoding_step_2)
        ky, kz = check_matrix(path, "acceleration factor (ky, kz)", factors, MAX_ACCELERATION)
        return (ky, kz)
    return acceleration

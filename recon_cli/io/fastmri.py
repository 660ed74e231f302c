"""fastMRI HDF5 raw data: read into a ``Scan``, and write the same layout (sample data, tests).

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
``extra["encoded_matrix_file"]``). ``header.acceleration`` is (phase-encoding factor, 1) from the
``acceleration`` attribute, else from the XML's parallelImaging section.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recon_cli.errors import InputDataError, UsageError
from recon_cli.io.atomic import atomic_path
from recon_cli.io.ismrmrd_header import fill_identity
from recon_cli.io.scan import Scan, ScanHeader
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
        file's attributes, reference name and any warnings in ``extra``.

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
    except (InputDataError, UsageError):
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise InputDataError(path, f"unreadable fastMRI file: {_short(exc)}") from None
    return _build_scan(path, raw)


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
    sel = _slice_selection(slices, ds.shape[0])
    kspace = _as_complex(ds[sel], ds.dtype, path)
    if not np.isfinite(kspace).all():
        raise InputDataError(path, "kspace contains NaN or Inf values")
    raw: dict[str, Any] = {"kspace": kspace, "warnings": [], "attrs": _attrs(f.attrs)}
    raw["reference_name"], raw["reference"] = _read_reference(f, kspace.ndim, sel, kspace.shape[0], raw)
    raw["mask"] = np.asarray(f["mask"][()]) if isinstance(f.get("mask"), h5py.Dataset) else None
    node = f.get("sampling_mask")  # recon's 2-D pattern, (rows, cols), when `mask` (columns) cannot say it
    raw["sampling_mask"] = np.asarray(node[()]) != 0 if isinstance(node, h5py.Dataset) else None
    xml = f.get("ismrmrd_header")
    if isinstance(xml, h5py.Dataset):
        value = xml[()]
        raw["xml"] = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    else:
        raw["xml"] = None
    return raw


def _slice_selection(slices: slice | Sequence[int] | None, n: int) -> slice | list[int]:
    if slices is None:
        return slice(None)
    if isinstance(slices, slice):
        if len(range(*slices.indices(n))) == 0:
            raise UsageError(f"slice selection {slices} selects none of the {n} slices")
        return slices
    idx = sorted({int(i) for i in slices})
    if not idx or idx[0] < 0 or idx[-1] >= n:
        raise UsageError(f"slice indices {list(slices)} out of range for {n} slices")
    return idx


def _as_complex(data: np.ndarray, dtype: np.dtype, path: Path) -> np.ndarray:
    """complex64 from a complex array or a compound (real, imag) one; real data is an error."""
    if np.iscomplexobj(data):
        return data.astype(np.complex64, copy=False)
    names = dtype.names or ()
    for re, im in (("r", "i"), ("real", "imag")):
        if re in names and im in names:
            return (data[re] + 1j * data[im]).astype(np.complex64)
    raise InputDataError(path, f"kspace is real-valued (dtype {dtype}); fastMRI k-space must be complex")


def _read_reference(f: Any, ndim: int, sel: Any, n_slices: int, raw: dict) -> tuple[str | None, Any]:
    """The file's own target image: rss for multi-coil, esc for single-coil, else whichever exists."""
    import h5py

    for name in _REFERENCE_NAMES[ndim]:
        ds = f.get(name)
        if isinstance(ds, h5py.Dataset):
            ref = np.asarray(ds[sel], dtype=np.float32)
            if ref.ndim == 3 and ref.shape[0] == n_slices:
                return name, ref
            raw["warnings"].append(f"ignored '{name}': shape {ref.shape} does not match {n_slices} slices")
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
    warnings: list[str] = raw["warnings"]
    geo = _parse_geometry(raw["xml"], path, (rows, cols), warnings)
    mask = _mask(raw["mask"], kspace, path)
    n_out = round(rows * geo["recon_fov"][0] / geo["enc_fov"][0])
    if raw["sampling_mask"] is not None:
        mask = _mask_2d(raw["sampling_mask"], (rows, cols), n_out, path)
    if n_out < rows:
        kspace = crop_readout_oversampling(kspace, n_out, dim=-2)
    header = _header(raw, geo, (int(kspace.shape[-2]), cols))
    extra = {
        "encoded_matrix_file": geo["enc"],
        "attrs": raw["attrs"],
        "reference_name": raw["reference_name"],
        "warnings": warnings,
        "layout": "multicoil" if raw["kspace"].ndim == 4 else "singlecoil",
        "original_shape": tuple(int(n) for n in raw["kspace"].shape),
        "readout_oversampling": rows / kspace.shape[-2],
    }
    ref = raw["reference"]
    return Scan(
        kspace=kspace.to(torch.complex64),
        header=header,
        source=path,
        format="fastmri",
        mask=mask,
        reference=None if ref is None else torch.from_numpy(ref).unsqueeze(1),
        extra=extra,
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


def _parse_geometry(xml: str | None, path: Path, shape: tuple[int, int], warnings: list[str]) -> dict:
    """Matrices and FOVs (array order: x = rows, y = cols) from the ismrmrd_header, or defaults."""
    if xml is None or not xml.strip():
        warnings.append("no ismrmrd_header: recon matrix = array shape, FOV = 1 mm per pixel assumed")
        fov = (float(shape[0]), float(shape[1]), 1.0)
        return {"enc": shape, "recon": shape, "enc_fov": fov, "recon_fov": fov, "xml": None, "hdr": None}
    hdr = _parse_xml(xml, path, warnings)
    try:
        e, r = hdr.encoding[0].encodedSpace, hdr.encoding[0].reconSpace
        spaces = [((int(s.matrixSize.x), int(s.matrixSize.y)), s.fieldOfView_mm) for s in (e, r)]
        spaces = [(m, (float(f.x), float(f.y), float(f.z))) for m, f in spaces]
    except (IndexError, AttributeError, TypeError, ValueError):
        raise InputDataError(
            path, "ismrmrd_header lacks encodedSpace/reconSpace matrix sizes and FOVs"
        ) from None
    geo = {"enc": spaces[0][0], "recon": spaces[1][0], "enc_fov": spaces[0][1], "recon_fov": spaces[1][1]}
    geo.update(xml=xml, hdr=hdr)
    if min(geo["enc"] + geo["recon"]) <= 0 or min(geo["enc_fov"][:2] + geo["recon_fov"][:2]) <= 0:
        raise InputDataError(path, "ismrmrd_header has a non-positive matrix size or field of view")
    return geo


def _parse_xml(xml: str, path: Path, warnings: list[str]) -> Any:
    """The ISMRMRD header: strict schema parsing first, then ignoring unknown elements (with a warning)."""
    from xsdata.formats.dataclass.parsers import XmlParser
    from xsdata.formats.dataclass.parsers.config import ParserConfig

    from recon_cli.io.ismrmrd_lib import ismrmrd

    try:
        return ismrmrd.xsd.CreateFromDocument(xml)
    except Exception as exc:  # noqa: BLE001 - xsdata raises many types; retry leniently
        strict_error = _short(exc)
    try:
        parser = XmlParser(config=ParserConfig(fail_on_unknown_properties=False))
        hdr = parser.from_string(xml, ismrmrd.xsd.ismrmrdHeader)
    except Exception as exc:  # noqa: BLE001
        raise InputDataError(path, f"ismrmrd_header XML could not be parsed: {_short(exc)}") from None
    warnings.append(f"ismrmrd_header does not follow the ISMRMRD schema ({strict_error}); read leniently")
    return hdr


def _header(raw: dict[str, Any], geo: dict, encoded: tuple[int, int]) -> ScanHeader:
    """``encoded`` is the k-space matrix after readout oversampling removal (as the ISMRMRD reader)."""
    attrs, hdr = raw["attrs"], geo["hdr"]
    header = ScanHeader(
        recon_matrix=tuple(geo["recon"]),
        encoded_matrix=encoded,
        fov_mm=tuple(geo["recon_fov"]),
        trajectory="cartesian",
        readout_axis=-2,
        xml=geo["xml"],
    )
    if "acceleration" in attrs:
        header.acceleration = (max(1, round(float(attrs["acceleration"]))), 1)
    if hdr is not None:
        _fill_from_xml(header, hdr)
    if attrs.get("patient_id"):
        header.patient["id"] = str(attrs["patient_id"])
    if attrs.get("acquisition"):
        header.series.setdefault("description", str(attrs["acquisition"]))
    return header


def _fill_from_xml(header: ScanHeader, hdr: Any) -> None:
    """Patient, study, series and sequence fields present in the ISMRMRD XML header."""
    fill_identity(header, hdr)
    par = hdr.encoding[0].parallelImaging
    if header.acceleration == (1, 1) and par is not None and par.accelerationFactor is not None:
        af = par.accelerationFactor
        header.acceleration = (int(af.kspace_encoding_step_1), int(af.kspace_encoding_step_2))


def fastmri_header_xml(
    encoded_matrix: tuple[int, int],
    recon_matrix: tuple[int, int],
    encoded_fov_mm: tuple[float, float, float],
    recon_fov_mm: tuple[float, float, float],
    *,
    n_coils: int = 1,
    patient_id: str | None = None,
    field_strength_t: float = 3.0,
    protocol_name: str | None = None,
) -> str:
    """An ISMRMRD XML header as fastMRI files carry it.

    Args:
        encoded_matrix: (x, y) of the acquired k-space; x is the readout (fastMRI's rows), with oversampling.
        recon_matrix: (x, y) of the reconstructed image (fastMRI crops the image to it).
        encoded_fov_mm: (x, y, z) field of view of the encoded space; x / recon x is the readout oversampling.
        recon_fov_mm: (x, y, z) field of view of the reconstructed image; z is the slice thickness.
        n_coils: Receiver channels.
        patient_id: Stored as subjectInformation/patientID when given.
        field_strength_t: Main field in tesla (sets the H1 resonance frequency too).
        protocol_name: Stored as measurementInformation/protocolName when given.

    Returns:
        The XML document as a string, built with ``ismrmrd.xsd``.
    """
    from recon_cli.io.ismrmrd_lib import xsd as x

    def space(matrix: tuple[int, int], fov: tuple[float, float, float]) -> Any:
        return x.encodingSpaceType(
            matrixSize=x.matrixSizeType(x=matrix[0], y=matrix[1], z=1),
            fieldOfView_mm=x.fieldOfViewMm(x=fov[0], y=fov[1], z=fov[2]),
        )

    limits = x.encodingLimitsType(
        kspace_encoding_step_1=x.limitType(
            minimum=0, maximum=encoded_matrix[1] - 1, center=encoded_matrix[1] // 2
        ),
        slice=x.limitType(minimum=0, maximum=0, center=0),
    )
    encoding = x.encodingType(
        encodedSpace=space(encoded_matrix, encoded_fov_mm),
        reconSpace=space(recon_matrix, recon_fov_mm),
        encodingLimits=limits,
        trajectory=x.trajectoryType("cartesian"),
    )
    header = x.ismrmrdHeader(
        experimentalConditions=x.experimentalConditionsType(
            H1resonanceFrequency_Hz=round(42.577478e6 * field_strength_t)
        ),
        encoding=[encoding],
        acquisitionSystemInformation=x.acquisitionSystemInformationType(
            systemFieldStrength_T=field_strength_t, receiverChannels=n_coils
        ),
        subjectInformation=None if patient_id is None else x.subjectInformationType(patientID=patient_id),
        measurementInformation=None
        if protocol_name is None
        else x.measurementInformationType(
            patientPosition=x.patientPositionType("HFS"), protocolName=protocol_name
        ),
    )
    return x.ToXML(header, encoding="utf-8")


def write_fastmri(
    path: Path | str,
    kspace: np.ndarray | torch.Tensor,
    *,
    reference: np.ndarray | torch.Tensor | None = None,
    reference_name: str | None = None,
    mask: np.ndarray | torch.Tensor | None = None,
    header_xml: str | None = None,
    attrs: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    compression: str | None = None,
) -> Path:
    """Write a fastMRI-layout HDF5 file atomically.

    Args:
        path: Output file; an existing one is replaced only with ``overwrite``.
        kspace: (slices, coils, rows, cols) multi-coil or (slices, rows, cols) single-coil complex.
        reference: (slices, H, W) target image, stored as float32.
        reference_name: Dataset name for ``reference``; default ``reconstruction_rss`` for multi-coil and
            ``reconstruction_esc`` for single-coil data.
        mask: 1-D column mask (cols,), stored as bool.
        header_xml: ISMRMRD XML header (e.g. from ``fastmri_header_xml``), stored as ``ismrmrd_header``.
        attrs: Root attributes (acquisition, patient_id, max, norm, ...).
        overwrite: Replace an existing file.
        compression: h5py compression for the arrays ("gzip" or None).

    Returns:
        The path written.
    """
    import h5py

    k = _numpy(kspace).astype(np.complex64)
    if k.ndim not in (3, 4):
        raise ValueError(f"kspace must be 3-D or 4-D, got shape {k.shape}")
    opts = {"compression": compression} if compression else {}
    with atomic_path(path, overwrite=overwrite) as tmp:
        with h5py.File(tmp, "w", track_order=True) as f:
            f.create_dataset("kspace", data=k, **opts)
            if reference is not None:
                name = reference_name or ("reconstruction_rss" if k.ndim == 4 else "reconstruction_esc")
                f.create_dataset(name, data=_numpy(reference).astype(np.float32), **opts)
            if mask is not None:
                f.create_dataset("mask", data=_numpy(mask).reshape(-1) != 0)
            if header_xml is not None:
                f.create_dataset("ismrmrd_header", data=header_xml.encode("utf-8"))
            for key, value in (attrs or {}).items():
                f.attrs[key] = value
    return Path(path)


def _numpy(a: np.ndarray | torch.Tensor) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]

"""The ISMRMRD XML header parsed into a ``ScanHeader`` (built from a ``Scan`` in ``ismrmrd_xml``).

Field mapping (ISMRMRD x is the readout and our last image axis, so (y, x) pairs are swapped):

* ``recon_matrix`` = reconSpace (y, x); ``fov_mm`` = reconSpace FOV (y, x, z); ``encoded_matrix`` =
  encodedSpace (y, x / readout oversampling), the oversampling being encoded FOV x / recon FOV x.
* ``patient``: name, id, birth_date, sex, weight_kg (subjectInformation); ``study``: date, time, id,
  description (studyInformation), institution (acquisitionSystemInformation); ``series``: description,
  protocol_name, date, time, patient_position (measurementInformation); ``sequence``: TR_ms, TE_ms,
  TI_ms, flip_deg, sequence_type (sequenceParameters), field_T (systemFieldStrength_T). Values are
  strings (ISO dates and times as written in the XML: 2024-01-31, 13:45:00) except the sequence numbers.
* User parameters (double) ``frame_time_ms`` and ``slice_spacing_mm`` and (string) ``trajectory_units``
  carry what the XML has no field for; otherwise frame time comes from acquisition time stamps (2.5 ms
  ticks) and slice spacing from the slice positions.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, TypedDict

import h5py
import numpy as np
from xsdata.formats.dataclass.parsers import XmlParser
from xsdata.formats.dataclass.parsers.config import ParserConfig

from recon_cli.errors import InputDataError
from recon_cli.io.ismrmrd_lib import xsd
from recon_cli.io.plausibility import (
    MAX_ACCELERATION,
    MAX_ENCODED_MATRIX,
    MAX_MATRIX,
    check_fov,
    check_matrix,
)
from recon_cli.io.scan import ScanHeader, SliceGeometry, Trajectory

__all__ = [
    "TICK_MS",
    "check_encoding",
    "compact",
    "IdentityFields",
    "identity_fields",
    "parse_header_text",
    "parse_xml",
    "scan_header",
    "short_error",
    "with_timing_geometry",
]

TICK_MS = 2.5  # unit of ISMRMRD acquisition_time_stamp
TRAJ_UNITS = "trajectory_units"  # userParameterString recon writes for non-Cartesian data
_TRAJECTORIES: dict[str, Trajectory] = {
    "cartesian": "cartesian",
    "epi": "cartesian",
    "radial": "radial",
    "goldenangle": "radial",
    "spiral": "spiral",
}


def short_error(exc: BaseException) -> str:
    """First line of an exception's message, at most 160 characters."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]


def compact(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Map counter values to 0..n-1 in sorted order. Returns (indices int64, n)."""
    unique, inverse = np.unique(values, return_inverse=True)
    return inverse.astype(np.int64).ravel(), int(unique.size)


def parse_xml(
    path: Path, group: h5py.Group, guesses: list[str] | None = None
) -> tuple[xsd.ismrmrdHeader, str]:
    """The parsed XML header of an ISMRMRD group and its text (see ``parse_header_text``)."""
    node = group.get("xml")
    if not isinstance(node, h5py.Dataset) or node.size == 0:
        raise InputDataError(path, "ISMRMRD dataset has no XML header")
    raw = node[()] if node.ndim == 0 else node[(0,) * node.ndim]
    if isinstance(raw, np.ndarray) or not isinstance(raw, bytes | str):
        raise InputDataError(path, f"ISMRMRD XML header is not text (dtype {node.dtype})")
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    return parse_header_text(path, text, guesses), text


def parse_header_text(path: Path, text: str, guesses: list[str] | None = None) -> xsd.ismrmrdHeader:
    """Parse ISMRMRD XML: strictly against the schema first, then ignoring unknown elements.

    A lenient parse is recorded in ``guesses``. A value the schema's type cannot hold (xsdata's
    ConverterWarning: "1.0" for an integer, "-inf" for the trajectory) is an error, never kept as text.

    Raises:
        InputDataError: unparsable XML, or a field with a value of the wrong type.
    """
    import warnings

    from xsdata.exceptions import ConverterWarning

    strict_error = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            hdr = xsd.CreateFromDocument(text)
        except Exception as exc:  # noqa: BLE001 - xsdata raises many types; retry leniently below
            strict_error = short_error(exc)
        if strict_error is not None:
            try:
                hdr = XmlParser(config=ParserConfig(fail_on_unknown_properties=False)).from_string(
                    text, xsd.ismrmrdHeader
                )
            except Exception as exc:  # noqa: BLE001
                raise InputDataError(path, f"unparsable ISMRMRD XML header: {short_error(exc)}") from None
    bad = [w for w in caught if issubclass(w.category, ConverterWarning)]
    if bad:
        text_of = " ".join(str(bad[0].message).split())
        raise InputDataError(path, f"ISMRMRD XML header has a value of the wrong type: {text_of[:160]}")
    if strict_error is None:
        return hdr
    if guesses is not None:
        guesses.append(f"the XML header breaks the ISMRMRD schema ({strict_error}); unknown parts ignored")
    return hdr


def check_encoding(path: Path, enc: xsd.encodingType) -> None:
    """Encoded and recon matrix sizes, fields of view and acceleration factors are plausible.

    Raises:
        InputDataError: naming the file and the offending value.
    """
    spaces = {"encoded": enc.encodedSpace, "recon": enc.reconSpace}
    for name, space in spaces.items():
        matrix = getattr(space, "matrixSize", None)
        fov = getattr(space, "fieldOfView_mm", None)
        if matrix is None or fov is None:
            raise InputDataError(path, f"XML header lacks the {name} space's matrix size or field of view")
        limit = MAX_ENCODED_MATRIX if name == "encoded" else MAX_MATRIX
        check_matrix(path, f"{name} matrix (x, y)", (matrix.x, matrix.y), limit)
        check_fov(path, f"{name} field of view (x, y, z)", (fov.x, fov.y, fov.z))
    accel = enc.parallelImaging.accelerationFactor if enc.parallelImaging else None
    if accel:
        factors = (accel.kspace_encoding_step_1, accel.kspace_encoding_step_2)
        check_matrix(path, "acceleration factor (ky, kz)", factors, MAX_ACCELERATION)


def scan_header(hdr: xsd.ismrmrdHeader, text: str) -> tuple[ScanHeader, float]:
    """ScanHeader from the XML (timing/geometry added later) and the readout oversampling factor."""
    enc = hdr.encoding[0]
    e, r = enc.encodedSpace, enc.reconSpace
    oversampling = e.fieldOfView_mm.x / r.fieldOfView_mm.x if r.fieldOfView_mm.x > 0 else 1.0
    nx = round(e.matrixSize.x / oversampling) if oversampling > 1 else e.matrixSize.x
    name = enc.trajectory.value if enc.trajectory is not None else "cartesian"
    accel = enc.parallelImaging.accelerationFactor if enc.parallelImaging else None
    header = ScanHeader(
        recon_matrix=(int(r.matrixSize.y), int(r.matrixSize.x)),
        encoded_matrix=(int(e.matrixSize.y), int(nx)),
        fov_mm=(float(r.fieldOfView_mm.y), float(r.fieldOfView_mm.x), float(r.fieldOfView_mm.z)),
        trajectory=_TRAJECTORIES.get(name, "other"),
        readout_axis=-1,
        acceleration=(int(accel.kspace_encoding_step_1), int(accel.kspace_encoding_step_2))
        if accel
        else (1, 1),
        xml=text,
        **identity_fields(hdr),
    )
    return header, float(max(oversampling, 1.0))


def _put(target: dict[str, Any], key: str, value: object) -> None:
    if value is not None and str(value) != "":
        target[key] = value if isinstance(value, float) else str(value)


class IdentityFields(TypedDict):
    """``ScanHeader`` keyword arguments naming the patient, study, series and sequence."""

    patient: dict[str, str]
    study: dict[str, str]
    series: dict[str, str]
    sequence: dict[str, float | str]


def identity_fields(hdr: xsd.ismrmrdHeader) -> IdentityFields:
    """Patient, study, series and sequence fields (strings; dates ISO, e.g. 2024-01-31 and 13:45:00)."""
    patient: dict[str, str] = {}
    study_fields: dict[str, str] = {}
    series: dict[str, str] = {}
    sequence: dict[str, float | str] = {}
    subj, study, meas = hdr.subjectInformation, hdr.studyInformation, hdr.measurementInformation
    system, seq = hdr.acquisitionSystemInformation, hdr.sequenceParameters
    if subj is not None:
        for key, value in (("name", subj.patientName), ("id", subj.patientID), ("sex", subj.patientGender)):
            _put(patient, key, value)
        _put(patient, "birth_date", subj.patientBirthdate)
        if subj.patientWeight_kg is not None:
            _put(patient, "weight_kg", f"{subj.patientWeight_kg:g}")
    if study is not None:
        for key, value in (("date", study.studyDate), ("time", study.studyTime), ("id", study.studyID)):
            _put(study_fields, key, value)
        _put(study_fields, "description", study.studyDescription)
    if system is not None:
        _put(study_fields, "institution", system.institutionName)
        if system.systemFieldStrength_T is not None:
            sequence["field_T"] = float(system.systemFieldStrength_T)
    if meas is not None:
        for key, value in (("description", meas.seriesDescription), ("protocol_name", meas.protocolName)):
            _put(series, key, value)
        for key, value in (("date", meas.seriesDate), ("time", meas.seriesTime)):
            _put(series, key, value)
        if meas.patientPosition is not None:
            _put(series, "patient_position", meas.patientPosition.value)
    if seq is not None:
        for key, values in (
            ("TR_ms", seq.TR),
            ("TE_ms", seq.TE),
            ("TI_ms", seq.TI),
            ("flip_deg", seq.flipAngle_deg),
        ):
            if values:
                sequence[key] = float(values[0])
        _put(sequence, "sequence_type", seq.sequence_type)
    return {"patient": patient, "study": study_fields, "series": series, "sequence": sequence}


def stated_trajectory_units(hdr: xsd.ismrmrdHeader) -> str | None:
    """The user parameter string ``trajectory_units`` (normalised, samples or radians), if any."""
    params = hdr.userParameters.userParameterString if hdr.userParameters else []
    value = next((str(p.value).strip().lower() for p in params if p.name == TRAJ_UNITS), None)
    return value if value in ("normalised", "samples", "radians") else None


def _user_double(hdr: xsd.ismrmrdHeader, name: str, guesses: list[str]) -> float | None:
    """The user parameter (double) ``name``; a non-finite one is ignored (a guess)."""
    params = hdr.userParameters.userParameterDouble if hdr.userParameters else []
    value = next((float(p.value) for p in params if p.name == name), None)
    if value is not None and not math.isfinite(value):
        guesses.append(f"the user parameter {name} = {value} is not a finite number; it was ignored")
        return None
    return value


def _vec3(values: Any) -> tuple[float, float, float]:
    x, y, z = (float(v) for v in values)
    return (x, y, z)


def _slice_geometry(head: np.void) -> tuple[SliceGeometry, list[str]]:
    """Geometry of one acquisition header, and what had to be assumed (phrases naming no slice)."""
    read, phase, normal = (np.asarray(head[k], np.float64) for k in ("read_dir", "phase_dir", "slice_dir"))
    position = np.asarray(head["position"], np.float64)
    assumed = []
    if not (np.isfinite(read).all() and np.isfinite(phase).all() and np.isfinite(normal).all()):
        read, phase, normal = np.eye(3)
        assumed.append("non-finite direction vectors: the identity orientation was assumed")
    elif np.linalg.norm(read) < 1e-6 or np.linalg.norm(phase) < 1e-6:
        read, phase, normal = np.eye(3)
        assumed.append("zero direction vectors: the identity orientation was assumed")
    elif np.linalg.norm(normal) < 1e-6:
        normal = np.cross(read, phase)
        assumed.append("no slice normal: read x phase direction was assumed")
    read, phase, normal = _orthonormal(read, phase, normal, assumed)
    if not np.isfinite(position).all():
        position = np.zeros(3)
        assumed.append("a non-finite position: the origin was assumed")
    return SliceGeometry(_vec3(position), _vec3(read), _vec3(phase), _vec3(normal)), assumed


def _orthonormal(
    read: np.ndarray, phase: np.ndarray, normal: np.ndarray, assumed: list[str], tol: float = 1e-3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit, mutually perpendicular (read, phase, normal); each repair is appended to ``assumed``."""
    lengths = [float(np.linalg.norm(v)) for v in (read, phase, normal)]
    if any(abs(n - 1) > tol for n in lengths):
        assumed.append("direction vectors not of unit length: they were normalised")
    read, phase, normal = (v / n for v, n in zip((read, phase, normal), lengths, strict=True))
    if abs(float(read @ phase)) > tol:
        phase = phase - (read @ phase) * read
        if np.linalg.norm(phase) < 1e-6:
            assumed.append("parallel read and phase directions: the identity orientation was assumed")
            return np.eye(3)[0], np.eye(3)[1], np.eye(3)[2]
        phase = phase / np.linalg.norm(phase)
        assumed.append("read and phase directions not perpendicular: phase was made perpendicular")
    if abs(float(normal @ read)) > tol or abs(float(normal @ phase)) > tol:
        normal = np.cross(read, phase)
        assumed.append("a slice normal not perpendicular to the slice: read x phase was used")
    return read, phase, normal


def _slice_list(indices: list[int], n: int) -> str:
    if len(indices) == n and n > 1:
        return "all slices"
    return ("slice " if len(indices) == 1 else "slices ") + ", ".join(map(str, indices))


def with_timing_geometry(
    header: ScanHeader, hdr: xsd.ismrmrdHeader, heads: np.ndarray, counter: str, guesses: list[str]
) -> ScanHeader:
    """The header with frame time, slice geometry and spacing from the imaging acquisitions' headers.

    Assumptions (no direction vectors, no frame time, no slice spacing) are appended to ``guesses``.
    """
    frames, n_frames = compact(heads["idx"][counter])
    frame_time_ms = _user_double(hdr, "frame_time_ms", guesses)
    if frame_time_ms is None and n_frames > 1:
        stamps = heads["acquisition_time_stamp"].astype(np.float64)
        means = np.array([stamps[frames == f].mean() for f in range(n_frames)])
        step = float(np.median(np.diff(means))) * TICK_MS
        frame_time_ms = step if step > 0 else None
        if frame_time_ms is None:
            guesses.append("the acquisition time stamps do not advance between frames; frame time unknown")
    slices, n_slices = compact(heads["idx"]["slice"])
    assumed: dict[str, list[int]] = {}
    geometry = []
    for s in range(n_slices):
        slice_geometry, problems = _slice_geometry(heads[np.flatnonzero(slices == s)[0]])
        geometry.append(slice_geometry)
        for problem in problems:
            assumed.setdefault(problem, []).append(s)
    guesses += [f"{_slice_list(where, n_slices)}: {problem}" for problem, where in assumed.items()]
    slice_spacing_mm = _user_double(hdr, "slice_spacing_mm", guesses)
    if slice_spacing_mm is None and n_slices > 1:
        along = [float(np.dot(g.position, g.slice_dir)) for g in geometry]
        spacing = float(np.median(np.abs(np.diff(along))))
        slice_spacing_mm = spacing if spacing > 0 else None
        if slice_spacing_mm is None:
            guesses.append(
                "the slices share one position; they were stacked at the slice thickness "
                f"({header.fov_mm[2]:g} mm)"
            )
    return dataclasses.replace(
        header, frame_time_ms=frame_time_ms, geometry=tuple(geometry), slice_spacing_mm=slice_spacing_mm
    )

"""The one builder of ISMRMRD XML headers (``ismrmrd.xsd``; the inverse of ``ismrmrd_header``).

``header_xml`` writes a header from an ``Encoding`` (ISMRMRD's own (x, y, z) order) and a ``ScanHeader``'s
identity, system and sequence fields; ``build_xml`` is that for a ``Scan`` (what ``ismrmrd_write``
stores) and ``fastmri_write.fastmri_header_xml`` for a fastMRI file. Field mapping as in
``ismrmrd_header`` ((y, x) pairs swapped for a ``Scan``); user parameters carry frame time, slice spacing
and, for non-Cartesian data, ``trajectory_units = normalised``.

ISMRMRD requires the H1 resonance frequency: it is ``GYROMAGNETIC_RATIO_HZ_PER_T`` times the scan's field
strength, or ``DEFAULT_FIELD_STRENGTH_T`` when the scan records none (a header then still states no
``systemFieldStrength_T``, so what a reader finds is unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xsdata.models.datatype import XmlDate, XmlTime

from recon_cli.io.ismrmrd_header import TRAJ_UNITS
from recon_cli.io.ismrmrd_lib import xsd
from recon_cli.io.scan import Scan, ScanHeader

__all__ = ["DEFAULT_FIELD_STRENGTH_T", "GYROMAGNETIC_RATIO_HZ_PER_T", "Encoding", "build_xml", "header_xml"]

GYROMAGNETIC_RATIO_HZ_PER_T = 42.577478518e6
"""gamma / (2 pi) of the proton (1H) in Hz per tesla: 42.577478518 MHz/T (CODATA 2018)."""
DEFAULT_FIELD_STRENGTH_T = 3.0
"""Main field in tesla assumed for the H1 resonance frequency when a scan records none; fastMRI-layout
headers also record it (``fastmri_header_xml``'s default), as they always have."""
_PATIENT_POSITIONS = {m.value for m in xsd.patientPositionType}


def _xml_date(text: object, kind: type[XmlDate] | type[XmlTime]) -> Any:
    value = str(text or "").strip()
    if kind is XmlDate and len(value) == 8 and value.isdigit():
        value = f"{value[:4]}-{value[4:6]}-{value[6:]}"
    if kind is XmlTime and len(value) >= 6 and value[:6].isdigit():
        value = f"{value[:2]}:{value[2:4]}:{value[4:6]}"
    try:
        return kind.from_string(value) if value else None
    except (ValueError, TypeError):
        return None


@dataclass(frozen=True)
class Encoding:
    """One ISMRMRD encoding, in ISMRMRD's order: x is the readout, y the phase encoding.

    Attributes:
        encoded_matrix, recon_matrix: (x, y) of the encoded k-space and of the reconstructed image.
        encoded_fov_mm, recon_fov_mm: (x, y, z) fields of view; z is the slice thickness.
        lines: Phase-encoding lines (Cartesian) or readouts per frame (non-Cartesian).
        centre_line: The encoding-limits centre of ``kspace_encoding_step_1``.
        slices: Slices (the ``slice`` limit).
        frames: Frames (the ``phase`` limit); None writes no phase limit.
        trajectory: ISMRMRD trajectory name (cartesian, radial, spiral, other).
        acceleration: Parallel-imaging factors (step 1, step 2); None writes no parallelImaging section.
        separate_calibration: Calibration lines were acquired separately (calibrationMode separate).
    """

    encoded_matrix: tuple[int, int]
    recon_matrix: tuple[int, int]
    encoded_fov_mm: tuple[float, float, float]
    recon_fov_mm: tuple[float, float, float]
    lines: int
    centre_line: int
    slices: int = 1
    frames: int | None = None
    trajectory: str = "cartesian"
    acceleration: tuple[int, int] | None = None
    separate_calibration: bool = False


def _encoding(e: Encoding) -> Any:
    def space(matrix: tuple[int, int], fov: tuple[float, float, float]) -> Any:
        return xsd.encodingSpaceType(
            matrixSize=xsd.matrixSizeType(x=matrix[0], y=matrix[1], z=1),
            fieldOfView_mm=xsd.fieldOfViewMm(x=fov[0], y=fov[1], z=fov[2]),
        )

    limits = xsd.encodingLimitsType(
        kspace_encoding_step_1=xsd.limitType(minimum=0, maximum=e.lines - 1, center=e.centre_line),
        slice=xsd.limitType(minimum=0, maximum=e.slices - 1, center=0),
        phase=None if e.frames is None else xsd.limitType(minimum=0, maximum=e.frames - 1, center=0),
    )
    encoding = xsd.encodingType(
        encodedSpace=space(e.encoded_matrix, e.encoded_fov_mm),
        reconSpace=space(e.recon_matrix, e.recon_fov_mm),
        encodingLimits=limits,
        trajectory=xsd.trajectoryType(e.trajectory),
    )
    if e.acceleration is not None:
        encoding.parallelImaging = xsd.parallelImagingType(
            accelerationFactor=xsd.accelerationFactorType(
                kspace_encoding_step_1=e.acceleration[0], kspace_encoding_step_2=e.acceleration[1]
            ),
            calibrationMode=xsd.calibrationModeType.SEPARATE if e.separate_calibration else None,
        )
    return encoding


def header_xml(
    encoding: Encoding,
    header: ScanHeader,
    *,
    n_coils: int,
    measurement: bool = True,
    trajectory_units: str | None = None,
) -> str:
    """An ISMRMRD XML header: ``encoding``, and ``header``'s identity, system, sequence and timing fields.

    Args:
        encoding: The encoding section (``header``'s matrices and fields of view are not used).
        header: Patient, study, series and sequence fields (``sequence["field_T"]``, when present, is
            the recorded field strength), frame time and slice spacing.
        n_coils: Receiver channels.
        measurement: Write the measurementInformation section (patient position, default HFS).
        trajectory_units: Stated as the user parameter string ``trajectory_units`` when given.

    Returns:
        The XML document.
    """
    field_t = header.sequence.get("field_T")
    xml = xsd.ismrmrdHeader(
        encoding=[_encoding(encoding)],
        experimentalConditions=xsd.experimentalConditionsType(
            H1resonanceFrequency_Hz=round(
                GYROMAGNETIC_RATIO_HZ_PER_T * float(field_t or DEFAULT_FIELD_STRENGTH_T)
            )
        ),
    )
    _identity_to_xml(xml, header, measurement)
    _system_to_xml(xml, header, n_coils, trajectory_units)
    return str(xsd.ToXML(xml, encoding="utf-8"))


def build_xml(scan: Scan) -> str:
    """The ISMRMRD XML header of ``scan``, built with ``ismrmrd.xsd``."""
    h = scan.header
    ny, nx = scan.image_shape
    fov = (h.fov_mm[1], h.fov_mm[0], h.fov_mm[2])
    lines = (
        ny if scan.is_cartesian else scan.kspace.shape[-1] // (scan.readout_length or scan.kspace.shape[-1])
    )
    name = h.trajectory if h.trajectory in ("cartesian", "radial", "spiral") else "other"
    if not scan.is_cartesian and name == "cartesian":
        name = "other"
    encoding = Encoding(
        encoded_matrix=(nx, ny),
        recon_matrix=(h.recon_matrix[1], h.recon_matrix[0]),
        encoded_fov_mm=fov,
        recon_fov_mm=fov,
        lines=int(lines),
        centre_line=ny // 2 if scan.is_cartesian else 0,
        slices=scan.n_slices,
        frames=scan.n_frames,
        trajectory=name,
        acceleration=h.acceleration if h.acceleration != (1, 1) or scan.acs is not None else None,
        separate_calibration=scan.acs is not None,
    )
    # ISMRMRD has no field for trajectory units; recon's writer stores normalised units and says so
    units = None if scan.is_cartesian else "normalised"
    return header_xml(encoding, h, n_coils=scan.n_coils, trajectory_units=units)


def _drop_empty(element: Any) -> Any:
    """``element`` unless every field is None or empty (then None, so no empty XML element is written)."""
    return element if any(v not in (None, [], "") for v in vars(element).values()) else None


def _identity_to_xml(header: xsd.ismrmrdHeader, h: ScanHeader, measurement: bool) -> None:
    """Subject, study and (with ``measurement``) measurement sections from patient/study/series fields."""
    p, st, se = h.patient, h.study, h.series
    sex = str(p.get("sex", "")).strip()[:1].upper()
    weight = p.get("weight_kg")
    header.subjectInformation = _drop_empty(
        xsd.subjectInformationType(
            patientName=p.get("name"),
            patientID=p.get("id"),
            patientBirthdate=_xml_date(p.get("birth_date"), XmlDate),
            patientGender=sex if sex in ("M", "F", "O") else None,
            patientWeight_kg=float(weight) if weight not in (None, "") else None,
        )
    )
    header.studyInformation = _drop_empty(
        xsd.studyInformationType(
            studyDate=_xml_date(st.get("date"), XmlDate),
            studyTime=_xml_date(st.get("time"), XmlTime),
            studyID=st.get("id"),
            studyDescription=st.get("description"),
        )
    )
    if not measurement:
        return
    position = str(se.get("patient_position", "HFS"))
    header.measurementInformation = xsd.measurementInformationType(
        patientPosition=xsd.patientPositionType(position if position in _PATIENT_POSITIONS else "HFS"),
        seriesDescription=se.get("description"),
        protocolName=se.get("protocol_name"),
        seriesDate=_xml_date(se.get("date"), XmlDate),
        seriesTime=_xml_date(se.get("time"), XmlTime),
    )


def _system_to_xml(
    header: xsd.ismrmrdHeader, h: ScanHeader, n_coils: int, trajectory_units: str | None
) -> None:
    """System, sequence and user-parameter sections."""
    st, sq = h.study, h.sequence
    header.acquisitionSystemInformation = xsd.acquisitionSystemInformationType(
        receiverChannels=n_coils,
        institutionName=st.get("institution"),
        systemFieldStrength_T=float(sq["field_T"]) if "field_T" in sq else None,
    )
    seq = {key: [float(sq[key])] for key in ("TR_ms", "TE_ms", "TI_ms", "flip_deg") if key in sq}
    header.sequenceParameters = _drop_empty(
        xsd.sequenceParametersType(
            TR=seq.get("TR_ms", []),
            TE=seq.get("TE_ms", []),
            TI=seq.get("TI_ms", []),
            flipAngle_deg=seq.get("flip_deg", []),
            sequence_type=sq.get("sequence_type"),
        )
    )
    doubles = [
        xsd.userParameterDoubleType(name=name, value=float(value))
        for name, value in (("frame_time_ms", h.frame_time_ms), ("slice_spacing_mm", h.slice_spacing_mm))
        if value is not None
    ]
    strings = (
        []
        if trajectory_units is None
        else [xsd.userParameterStringType(name=TRAJ_UNITS, value=trajectory_units)]
    )
    if doubles or strings:
        header.userParameters = xsd.userParametersType(
            userParameterDouble=doubles, userParameterString=strings
        )

"""The ISMRMRD XML header built from a ``Scan`` with ``ismrmrd.xsd`` (the inverse of ``ismrmrd_header``).

Field mapping as in ``ismrmrd_header`` ((y, x) pairs swapped); user parameters carry frame time, slice
spacing and, for non-Cartesian data, ``trajectory_units = normalised`` (what ``ismrmrd_write`` stores).
"""

from __future__ import annotations

from typing import Any

from xsdata.models.datatype import XmlDate, XmlTime

from recon_cli.io.ismrmrd_header import TRAJ_UNITS
from recon_cli.io.ismrmrd_lib import xsd
from recon_cli.io.scan import Scan

__all__ = ["build_xml"]

_GYROMAGNETIC_HZ_PER_T = 42_577_478.5
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


def build_xml(scan: Scan) -> str:
    """The ISMRMRD XML header of ``scan``, built with ``ismrmrd.xsd``."""
    h = scan.header
    ny, nx = scan.image_shape
    fov = xsd.fieldOfViewMm(x=h.fov_mm[1], y=h.fov_mm[0], z=h.fov_mm[2])
    recon = xsd.encodingSpaceType(
        matrixSize=xsd.matrixSizeType(x=h.recon_matrix[1], y=h.recon_matrix[0], z=1), fieldOfView_mm=fov
    )
    encoded = xsd.encodingSpaceType(matrixSize=xsd.matrixSizeType(x=nx, y=ny, z=1), fieldOfView_mm=fov)
    lines = (
        ny if scan.is_cartesian else scan.kspace.shape[-1] // (scan.readout_length or scan.kspace.shape[-1])
    )
    limits = xsd.encodingLimitsType(
        kspace_encoding_step_1=xsd.limitType(
            minimum=0, maximum=lines - 1, center=ny // 2 if scan.is_cartesian else 0
        ),
        slice=xsd.limitType(minimum=0, maximum=scan.n_slices - 1, center=0),
        phase=xsd.limitType(minimum=0, maximum=scan.n_frames - 1, center=0),
    )
    name = h.trajectory if h.trajectory in ("cartesian", "radial", "spiral") else "other"
    if not scan.is_cartesian and name == "cartesian":
        name = "other"
    encoding = xsd.encodingType(
        encodedSpace=encoded, reconSpace=recon, encodingLimits=limits, trajectory=xsd.trajectoryType(name)
    )
    if h.acceleration != (1, 1) or scan.acs is not None:
        encoding.parallelImaging = xsd.parallelImagingType(
            accelerationFactor=xsd.accelerationFactorType(
                kspace_encoding_step_1=h.acceleration[0], kspace_encoding_step_2=h.acceleration[1]
            ),
            calibrationMode=xsd.calibrationModeType.SEPARATE if scan.acs is not None else None,
        )
    field_t = h.sequence.get("field_T")
    header = xsd.ismrmrdHeader(
        encoding=[encoding],
        experimentalConditions=xsd.experimentalConditionsType(
            H1resonanceFrequency_Hz=int(round(_GYROMAGNETIC_HZ_PER_T * float(field_t or 1.5)))
        ),
    )
    _identity_to_xml(header, scan)
    return xsd.ToXML(header, encoding="utf-8")


def _drop_empty(element: Any) -> Any:
    """``element`` unless every field is None or empty (then None, so no empty XML element is written)."""
    return element if any(v not in (None, [], "") for v in vars(element).values()) else None


def _identity_to_xml(header: xsd.ismrmrdHeader, scan: Scan) -> None:
    """Subject, study and measurement sections from ``scan.header``'s patient/study/series fields."""
    p, st, se = scan.header.patient, scan.header.study, scan.header.series
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
    position = str(se.get("patient_position", "HFS"))
    header.measurementInformation = xsd.measurementInformationType(
        patientPosition=xsd.patientPositionType(position if position in _PATIENT_POSITIONS else "HFS"),
        seriesDescription=se.get("description"),
        protocolName=se.get("protocol_name"),
        seriesDate=_xml_date(se.get("date"), XmlDate),
        seriesTime=_xml_date(se.get("time"), XmlTime),
    )
    _system_to_xml(header, scan)


def _system_to_xml(header: xsd.ismrmrdHeader, scan: Scan) -> None:
    """System, sequence and user-parameter sections from ``scan.header``."""
    h = scan.header
    st, sq = h.study, h.sequence
    header.acquisitionSystemInformation = xsd.acquisitionSystemInformationType(
        receiverChannels=scan.n_coils,
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
    # ISMRMRD has no field for trajectory units; recon's writer stores normalised units and says so
    strings = [] if scan.is_cartesian else [xsd.userParameterStringType(name=TRAJ_UNITS, value="normalised")]
    if doubles or strings:
        header.userParameters = xsd.userParametersType(
            userParameterDouble=doubles, userParameterString=strings
        )

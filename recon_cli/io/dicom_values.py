"""DICOM value representations: text and numbers made valid for their VR (DS, LO, SH, CS, DA, TM)."""

from __future__ import annotations

import re


def ds(value: float) -> str:
    """A decimal string of at most 16 characters (DICOM DS)."""
    from pydicom.valuerep import format_number_as_ds

    return str(format_number_as_ds(float(value)))


def number(value: object) -> float | None:
    """First number in ``value`` (ISMRMRD may give lists such as "[2.5]"), or None."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list | tuple) and value:
        return number(value[0])
    match = re.search(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?", str(value)) if value is not None else None
    return float(match.group()) if match else None


def optional_ds(value: object) -> str:
    """DS text of the first number in ``value``; empty (a Type 2 "unknown") when there is none."""
    found = number(value)
    return ds(found) if found is not None else ""


def lo(value: object) -> str:
    """LO/PN-safe text: no backslashes or control characters, at most 64 characters."""
    return re.sub(r"[\\\x00-\x1f]", " ", str(value)).strip()[:64]


def sh(value: object) -> str:
    """SH text: as ``lo``, at most 16 characters."""
    return lo(value)[:16]


def cs(value: object) -> str:
    """CS: upper-case letters, digits, space and underscore, at most 16 characters."""
    return re.sub(r"[^A-Z0-9 _]", "", str(value).upper())[:16]


def sex(value: object) -> str:
    """PatientSex: M, F or O; empty when the header says something else."""
    letter = str(value).strip()[:1].upper()
    return letter if letter in ("M", "F", "O") else ""


def da(value: object) -> str:
    """DICOM date YYYYMMDD from "YYYY-MM-DD" or "YYYYMMDD"; empty when it is neither."""
    text = str(value).replace("-", "").strip()
    return text if re.fullmatch(r"\d{8}", text) else ""


def tm(value: object) -> str:
    """DICOM time HHMMSS[.ffffff] from "HH:MM:SS[.f]"; empty when invalid."""
    text = str(value).replace(":", "").strip()
    return text if re.fullmatch(r"\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?", text) else ""

"""DICOM output: one MR Image Storage instance (classic MR Image IOD) per (slice, frame), written as a whole
series at once. docs/formats.md describes every attribute written.

Conventions:

* Pixels are 16-bit unsigned integers ``round(magnitude / slope)`` with one slope for the whole series
  (the largest magnitude maps to 65535), so intensities compare across slices and frames. The MR Image
  IOD has no Modality LUT (RescaleSlope/RescaleIntercept are not part of it), so the slope is stored in
  a Real World Value Mapping item (``magnitude = pixel * RealWorldValueSlope + 0``, no units); the VOI
  window is given in stored pixel values (99.5th percentile).
* Timing of a dynamic series (frames > 1): TemporalPositionIdentifier (1-based frame) and
  NumberOfTemporalPositions; TemporalResolution (0020,0110) and RepetitionTime (0018,0080) hold the time
  from one frame to the next, as vendors write cine series and as dcm2niix and BIDS read the volume time;
  the sequence's own TR between readouts goes into ImageComments. TriggerTime is not written: a
  real-time acquisition is not cardiac-gated (its condition, gating in ScanOptions, does not hold).
  Static series keep the sequence TR in RepetitionTime.
* Laterality is written empty (Type 2C, "unknown"): raw data does not say which body part was scanned.
* UIDs are deterministic (``pydicom.uid.generate_uid`` with entropy sources): Study and FrameOfReference
  UIDs from the scan's identity (header XML, patient/study fields, geometry; or ``uid_seed``), the Series
  UID additionally from the series number, description and pixel data, each SOPInstanceUID from the
  Series UID and the instance index. Reruns give the same UIDs. Anonymised series (``anonymize=True``,
  ``recon_cli.io.deidentify``: PS3.15 Annex E basic profile) derive them from a fresh random seed
  instead: consistent within the series, unrelated to the identified series and to other runs.
* The series is written into a hidden temporary folder beside the target and renamed into place, so a
  reader never sees a half-written series and an existing non-empty folder is only replaced with
  ``overwrite=True``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from recon_cli import __version__
from recon_cli.errors import OutputExistsError
from recon_cli.io import dicom_values as vr
from recon_cli.io.atomic import atomic_folder, occupied
from recon_cli.io.deidentify import deidentify
from recon_cli.io.geometry import VolumeGeometry, magnitude, volume_geometry

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from recon_cli.io.scan import ScanHeader

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
_MAX_PIXEL = 65535


def write_dicom_series(
    folder: Path | str,
    images: Any,
    header: ScanHeader,
    *,
    overwrite: bool = False,
    anonymize: bool = False,
    series_description: str | None = None,
    series_number: int = 1,
    uid_seed: str | None = None,
) -> list[Path]:
    """Write the magnitude of ``images`` as a DICOM MR series, files ``IM_0001_s000_f000.dcm``, ...

    Args:
        folder: Output folder (created; must not exist or be empty unless ``overwrite``).
        images: ``(slices, frames, ny, nx)`` complex64 or real tensor/array.
        header: Geometry, timing, patient/study/series and sequence fields of the scan.
        overwrite: Replace an existing folder.
        anonymize: De-identify (PS3.15 Annex E basic profile, ``recon_cli.io.deidentify``).
        series_description: SeriesDescription; default the header's series description or "recon".
        series_number: SeriesNumber.
        uid_seed: Text the Study/FrameOfReference UIDs are derived from (default: the header's content).

    Returns:
        The written files, in InstanceNumber order (slice-major, frame-minor).

    Raises:
        OutputExistsError: ``folder`` exists, is not an empty folder, and ``overwrite`` is False.
    """
    folder = Path(folder)
    if occupied(folder) and not overwrite:
        raise OutputExistsError(folder)
    mag = magnitude(images)
    n_slices, n_frames, ny, nx = mag.shape
    geom = volume_geometry(header, n_slices, (ny, nx))
    slope = float(vr.ds(max(float(mag.max()), 1e-30) / _MAX_PIXEL))
    pixels = np.clip(np.rint(mag.astype(np.float64) / slope), 0, _MAX_PIXEL).astype("<u2")
    description = series_description or header.series.get("description") or "recon"
    uids = _series_uids(header, pixels, anonymize, series_number, description, uid_seed)
    base = _series_dataset(header, geom, uids, description, series_number, n_frames)
    _set_pixel_module(base, mag, slope, (ny, nx))
    if anonymize:
        deidentify(base, uids["anonymous_id"])
    names = []
    with atomic_folder(folder, overwrite) as tmp:
        for s in range(n_slices):
            for f in range(n_frames):
                index = s * n_frames + f
                ds = _instance(base, geom, uids["series"], index, s, f, n_frames)
                ds.PixelData = pixels[s, f].tobytes()
                name = f"IM_{index + 1:04d}_s{s:03d}_f{f:03d}.dcm"
                ds.save_as(tmp / name, enforce_file_format=True, overwrite=False)
                names.append(name)
    return [folder / name for name in names]


def _series_uids(
    header: ScanHeader,
    pixels: np.ndarray,
    anonymize: bool,
    series_number: int,
    description: str,
    uid_seed: str | None,
) -> dict[str, str]:
    """Study, FrameOfReference and Series UIDs plus a dummy patient ID for anonymised series.

    Identified series: deterministic, from the scan's identity (or ``uid_seed``). Anonymised series: from
    a random seed, so no UID or ID can be traced back to (or recomputed from) the patient's identity.
    """
    from pydicom.uid import generate_uid

    digest = hashlib.sha256(pixels.tobytes() + repr(pixels.shape).encode()).hexdigest()
    seed = uid_seed if uid_seed is not None else _header_identity(header)
    if uid_seed is None and not (header.xml or header.patient or header.study):
        seed += digest  # nothing identifies the scan: tell scans apart by their images
    if anonymize:
        seed, digest = secrets.token_hex(16), secrets.token_hex(16)
    scope = "anonymous" if anonymize else "identified"
    study = generate_uid(entropy_srcs=["study", scope, seed])
    return {
        "study": study,
        "frame_of_reference": generate_uid(entropy_srcs=["frame-of-reference", scope, seed]),
        "series": generate_uid(entropy_srcs=["series", study, str(series_number), description, digest]),
        "anonymous_id": "ANON" + secrets.token_hex(6).upper(),
    }


def _header_identity(header: ScanHeader) -> str:
    """Text identifying the scan (not its reconstruction): XML, patient/study fields, geometry."""
    fields = {
        "xml": header.xml or "",
        "patient": dict(header.patient),
        "study": dict(header.study),
        "geometry": [repr(g) for g in header.geometry],
        "matrix": list(header.recon_matrix),
        "fov": list(header.fov_mm),
    }
    return json.dumps(fields, sort_keys=True, default=str)


def _series_dataset(
    header: ScanHeader,
    geom: VolumeGeometry,
    uids: Mapping[str, str],
    description: str,
    series_number: int,
    n_frames: int,
) -> Dataset:
    """Attributes shared by every instance: SOP common, patient, study, series, equipment, MR image."""
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = MR_IMAGE_STORAGE
    ds.ImageType = ["DERIVED", "PRIMARY", "OTHER"]  # value 3: a defined term of the MR Image module
    ds.Modality = "MR"
    ds.Manufacturer = "recon"
    ds.SoftwareVersions = f"recon {__version__}"
    ds.StudyInstanceUID = uids["study"]
    ds.SeriesInstanceUID = uids["series"]
    ds.FrameOfReferenceUID = uids["frame_of_reference"]
    ds.PositionReferenceIndicator = ""
    ds.SeriesNumber = int(series_number)
    ds.Laterality = ""  # Type 2C: empty = unknown (raw data does not name the body part)
    ds.SeriesDescription = vr.lo(description)
    ds.ProtocolName = vr.lo(header.series.get("protocol_name", description))
    ds.PatientPosition = vr.cs(_lookup(header, "patient_position"))
    ds.DerivationDescription = "Reconstructed from raw k-space by recon"
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    _set_patient_study(ds, header)
    _set_mr_module(ds, header, geom, n_frames)
    return ds


def _set_patient_study(ds: Dataset, header: ScanHeader) -> None:
    """Patient and General Study modules (type-2 attributes present, possibly empty)."""
    patient, study, series = header.patient, header.study, header.series
    ds.StudyID = vr.sh(study.get("id", ""))
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.PatientName = vr.lo(patient.get("name", ""))
    ds.PatientID = vr.lo(patient.get("id", ""))
    ds.PatientBirthDate = vr.da(patient.get("birth_date", ""))
    ds.PatientSex = vr.sex(patient.get("sex", ""))
    weight = vr.number(patient.get("weight_kg"))
    if weight is not None and weight > 0:
        ds.PatientWeight = vr.ds(weight)
    ds.StudyDate = vr.da(study.get("date", ""))
    ds.StudyTime = vr.tm(study.get("time", ""))
    ds.StudyDescription = vr.lo(study.get("description", ""))
    if study.get("institution"):
        ds.InstitutionName = vr.lo(study["institution"])
    for keyword, value in (
        ("SeriesDate", vr.da(series.get("date", ""))),
        ("SeriesTime", vr.tm(series.get("time", ""))),
    ):
        if value:
            setattr(ds, keyword, value)
            setattr(ds, keyword.replace("Series", "Content"), value)


def _set_mr_module(ds: Dataset, header: ScanHeader, geom: VolumeGeometry, n_frames: int) -> None:
    """MR Image and Image Plane attributes that are the same for every slice."""
    seq = header.sequence
    ds.ScanningSequence = vr.cs(seq.get("scanning_sequence", "RM")) or "RM"
    ds.SequenceVariant = vr.cs(seq.get("sequence_variant", "NONE")) or "NONE"
    ds.ScanOptions = ""  # no cardiac gating, so no TriggerTime (MR Image module condition)
    ds.MRAcquisitionType = "2D"
    ds.EchoTrainLength = ""
    _set_timing(ds, seq.get("TR_ms"), header.frame_time_ms if n_frames > 1 else None)
    ds.EchoTime = vr.optional_ds(seq.get("TE_ms"))
    for keyword, key in (
        ("FlipAngle", "flip_deg"),
        ("MagneticFieldStrength", "field_T"),
        ("InversionTime", "TI_ms"),
    ):
        value = vr.number(seq.get(key))
        if value is not None and value > 0:  # ISMRMRD writes TI = 0 for sequences without inversion
            setattr(ds, keyword, vr.ds(value))
    dy, dx = geom.pixel_spacing
    ds.PixelSpacing = [vr.ds(dy), vr.ds(dx)]
    ds.ImageOrientationPatient = [vr.ds(round(v, 10)) for v in geom.orientation()]
    ds.SliceThickness = vr.ds(geom.slice_thickness)
    ds.SpacingBetweenSlices = vr.ds(geom.slice_spacing)


def _set_timing(ds: Dataset, tr_ms: object, frame_time_ms: float | None) -> None:
    """RepetitionTime, TemporalResolution and ImageComments (see the module docstring).

    Args:
        ds: The series' shared dataset.
        tr_ms: The sequence's TR between readouts (ms), as the header gives it, or None.
        frame_time_ms: Time from one frame to the next (ms) for a dynamic series, else None.
    """
    tr = vr.number(tr_ms)
    if frame_time_ms is None or not frame_time_ms > 0:
        ds.RepetitionTime = vr.ds(tr) if tr is not None else ""
        return
    ds.RepetitionTime = vr.ds(frame_time_ms)
    ds.TemporalResolution = vr.ds(frame_time_ms)
    readout = f"; sequence TR between readouts {vr.ds(tr)} ms" if tr is not None else ""
    ds.ImageComments = f"frame time {vr.ds(frame_time_ms)} ms (RepetitionTime){readout}"


def _set_pixel_module(ds: Dataset, mag: np.ndarray, slope: float, shape: tuple[int, int]) -> None:
    """Image Pixel, Real World Value Mapping and VOI LUT attributes (window from the 99.5th percentile)."""
    from pydicom.dataset import Dataset

    ds.Rows, ds.Columns = shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    mapping = Dataset()
    mapping.LUTExplanation = "reconstructed magnitude, arbitrary units"
    mapping.LUTLabel = "MAGNITUDE"
    mapping.RealWorldValueFirstValueMapped = 0
    mapping.RealWorldValueLastValueMapped = _MAX_PIXEL
    mapping.RealWorldValueIntercept = 0.0
    mapping.RealWorldValueSlope = float(slope)
    units = Dataset()
    units.CodeValue, units.CodingSchemeDesignator, units.CodeMeaning = "1", "UCUM", "no units"
    mapping.MeasurementUnitsCodeSequence = [units]
    ds.RealWorldValueMappingSequence = [mapping]
    width = (float(np.percentile(mag, 99.5)) or float(mag.max()) or slope) / slope  # in stored values
    ds.WindowCenter = vr.ds(width / 2)
    ds.WindowWidth = vr.ds(width)
    if width < 1.0:  # LINEAR requires a width >= 1; LINEAR_EXACT allows any positive width
        ds.VOILUTFunction = "LINEAR_EXACT"


def _instance(
    base: Dataset,
    geom: VolumeGeometry,
    series_uid: str,
    index: int,
    s: int,
    f: int,
    n_frames: int,
) -> Dataset:
    """One instance: a copy of ``base`` with its UID, number, position, timing and file meta."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = copy.deepcopy(base)
    ds.SOPInstanceUID = generate_uid(entropy_srcs=["instance", series_uid, str(index)])
    ds.InstanceNumber = index + 1
    ds.AcquisitionNumber = 1
    ds.ImagePositionPatient = [vr.ds(round(float(v), 6)) for v in geom.corner(s)]
    ds.SliceLocation = vr.ds(round(geom.slice_location(s), 6))
    if n_frames > 1:
        ds.TemporalPositionIdentifier = f + 1
        ds.NumberOfTemporalPositions = n_frames
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return ds


def _lookup(header: ScanHeader, key: str) -> str:
    for fields in (header.series, header.study, header.patient):
        if fields.get(key):
            return str(fields[key])
    return ""

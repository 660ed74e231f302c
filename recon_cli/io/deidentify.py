"""De-identification of recon's DICOM output: DICOM PS3.15 Annex E, Basic Application Level
Confidentiality Profile, for the attributes recon writes.

Actions, as PS3.15 Table E.1-1 names them: ``Z`` replace with a zero-length value (or a dummy value of the
same VR: PatientName and PatientID get one), ``X`` remove, ``U`` replace UIDs with new ones that stay
consistent inside the written series. Where the table allows a choice (``X/Z``, ``Z/D``, ...) the first
action that keeps the instance valid is taken: Type 2 attributes are emptied, Type 3 ones removed.
UIDs are replaced by the writer (``recon_cli.io.dicom``), which derives every UID of an anonymised series
from a fresh random seed instead of the scan's identity. Afterwards PatientIdentityRemoved is ``YES`` and
the method is recorded as text (within LO's 64 characters) and as the code ``(113100, DCM, "Basic
Application Confidentiality Profile")``; LongitudinalTemporalInformationModified is ``REMOVED`` because
dates and times are emptied or removed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

# keyword -> action of the basic profile (PS3.15 Table E.1-1) for every identifying attribute recon writes
BASIC_PROFILE: dict[str, str] = {
    "AccessionNumber": "Z",
    "ContentDate": "Z",  # Z/D; Type 2C in the General Image module: emptied
    "ContentTime": "Z",
    "DerivationDescription": "X",
    "ImageComments": "X",
    "InstitutionName": "X",  # X/Z/D
    "PatientBirthDate": "Z",
    "PatientID": "Z",
    "PatientName": "Z",
    "PatientSex": "Z",
    "PatientWeight": "X",
    "ProtocolName": "X",  # X/D
    "ReferringPhysicianName": "Z",
    "SeriesDate": "X",  # X/D
    "SeriesDescription": "X",
    "SeriesTime": "X",  # X/D
    "SoftwareVersions": "X",
    "StudyDate": "Z",
    "StudyDescription": "X",
    "StudyID": "Z",
    "StudyTime": "Z",
    # U: replaced by the writer with UIDs from a random seed, consistent within the series
    "FrameOfReferenceUID": "U",
    "SOPInstanceUID": "U",
    "SeriesInstanceUID": "U",
    "StudyInstanceUID": "U",
}

DEIDENTIFICATION_METHOD = "DICOM PS3.15 E.1 Basic Application Confidentiality Profile"
BASIC_PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")
# Z allows a dummy value of the same VR; these two are dummies so PACS that insist on a value accept them
_DUMMIES = {"PatientName": "ANONYMOUS"}


def deidentify(ds: Dataset, anonymous_id: str) -> None:
    """Apply the basic profile's Z and X actions to ``ds`` in place and record what was done.

    Args:
        ds: A dataset built by the DICOM writer (one series' shared attributes).
        anonymous_id: Dummy PatientID for the series (random, not derived from the patient's identity).
    """
    from pydicom.dataset import Dataset

    for keyword, action in BASIC_PROFILE.items():
        if action == "X" and keyword in ds:
            delattr(ds, keyword)
        elif action == "Z":
            setattr(ds, keyword, anonymous_id if keyword == "PatientID" else _DUMMIES.get(keyword, ""))
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = DEIDENTIFICATION_METHOD
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = BASIC_PROFILE_CODE
    ds.DeidentificationMethodCodeSequence = [code]
    ds.LongitudinalTemporalInformationModified = "REMOVED"

"""The one ISMRMRD header builder: one gyromagnetic constant, one default field strength, both writer paths
(fastMRI-layout headers and ``write_ismrmrd``) through it; read back with the standard library's XML
parser and with the ``ismrmrd`` package's strict schema parser."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import h5py
import ismrmrd.xsd as xsd
import pytest

from recon_cli.io.detect import read_scan
from recon_cli.io.fastmri import fastmri_header_xml
from recon_cli.io.ismrmrd import write_ismrmrd
from recon_cli.io.ismrmrd_xml import DEFAULT_FIELD_STRENGTH_T, GYROMAGNETIC_RATIO_HZ_PER_T, build_xml
from tests.helpers import small_cine

NS = {"i": "http://www.ismrm.org/ISMRMRD"}
CODATA_1H_MHZ_PER_T = 42.577478518  # CODATA 2018, gamma_p / (2 pi)


def _fields(text: str) -> tuple[int, float | None, int]:
    """(H1 resonance frequency in Hz, systemFieldStrength_T or None, receiverChannels) of an XML header."""
    root = ET.fromstring(text)
    h1 = root.findtext("i:experimentalConditions/i:H1resonanceFrequency_Hz", namespaces=NS)
    field = root.findtext("i:acquisitionSystemInformation/i:systemFieldStrength_T", namespaces=NS)
    coils = root.findtext("i:acquisitionSystemInformation/i:receiverChannels", namespaces=NS)
    assert h1 is not None and coils is not None
    return int(h1), None if field is None else float(field), int(coils)


def test_the_constant_is_codata_and_the_default_is_3_tesla() -> None:
    assert GYROMAGNETIC_RATIO_HZ_PER_T == pytest.approx(CODATA_1H_MHZ_PER_T * 1e6, rel=0, abs=1e-3)
    assert DEFAULT_FIELD_STRENGTH_T == 3.0


@pytest.mark.parametrize("field", [None, 1.5, 2.89362, 7.0])
def test_fastmri_headers_record_the_field_and_its_frequency(field: float | None) -> None:
    text = fastmri_header_xml(
        (64, 40), (32, 32), (440.0, 220.0, 5.0), (220.0, 220.0, 5.0), n_coils=6, field_strength_t=field
    )
    tesla = 3.0 if field is None else field
    assert _fields(text) == (round(CODATA_1H_MHZ_PER_T * 1e6 * tesla), tesla, 6)
    hdr = xsd.CreateFromDocument(text)  # the schema's strict parser
    assert hdr.encoding[0].encodedSpace.matrixSize.x == 64 and hdr.encoding[0].reconSpace.matrixSize.y == 32
    assert hdr.encoding[0].encodingLimits.kspace_encoding_step_1.center == 20
    assert hdr.measurementInformation is None and hdr.subjectInformation is None


@pytest.mark.parametrize("kind", ["cartesian", "radial"])
def test_ismrmrd_headers_state_a_field_only_when_the_scan_has_one(kind: str, tmp_path: Path) -> None:
    _, _, scan = small_cine(kind, n=16, frames=2, coils=3, seed=2)
    assert scan.header.sequence["field_T"] == 1.5  # the simulator's
    assert _fields(build_xml(scan)) == (round(CODATA_1H_MHZ_PER_T * 1.5e6), 1.5, 3)
    sequence = {k: v for k, v in scan.header.sequence.items() if k != "field_T"}
    silent = dataclasses.replace(scan, header=dataclasses.replace(scan.header, sequence=sequence))
    h1, field, _ = _fields(build_xml(silent))
    assert field is None and h1 == round(CODATA_1H_MHZ_PER_T * 1e6 * DEFAULT_FIELD_STRENGTH_T)
    back = read_scan(write_ismrmrd(tmp_path / "silent.h5", silent))
    assert "field_T" not in back.header.sequence  # nothing is invented on reading
    assert read_scan(write_ismrmrd(tmp_path / "stated.h5", scan)).header.sequence["field_T"] == 1.5


def test_the_sample_fastmri_header_states_3_tesla() -> None:
    path = Path(__file__).resolve().parents[1] / "sample_data" / "fastmri_brain_phantom_multicoil.h5"
    with h5py.File(path, "r") as f:
        text = bytes(f["ismrmrd_header"][()]).decode()
    assert _fields(text)[:2] == (round(CODATA_1H_MHZ_PER_T * 3e6), 3.0)
    assert read_scan(path).header.sequence["field_T"] == 3.0

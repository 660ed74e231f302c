"""fastMRI files have no slice geometry (issue 13.10): recon places the image as fastMRI displays it.

fastMRI shows ``reconstruction_rss`` (and recon's PNG previews show the image) with the array's first
axis top to bottom and its second left to right. The NIfTI and DICOM outputs must put the same pixel in
the same place: a transverse slice, columns towards patient left (screen right in the radiological
convention), rows towards posterior. Checked with nibabel's axis codes, the DICOM orientation, and
dcm2niix (an independent DICOM-to-NIfTI converter) on a seeded image with two markers.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from recon_cli.io.dicom import write_dicom_series
from recon_cli.io.fastmri import fastmri_header_xml, read_fastmri, write_fastmri
from recon_cli.io.nifti import write_nifti

ROWS, COLS = 40, 32
TOP, RIGHT = (3, 16), (20, 28)  # (row, column) of two markers: near the top, and near the right edge


@pytest.fixture()
def scan_and_image(tmp_path: Path):  # noqa: ANN201
    rng = np.random.default_rng(10)
    kspace = (rng.standard_normal((2, 2, ROWS, COLS)) + 1j * rng.standard_normal((2, 2, ROWS, COLS))).astype(
        np.complex64
    )
    xml = fastmri_header_xml((ROWS, COLS), (ROWS, COLS), (200.0, 160.0, 4.0), (200.0, 160.0, 4.0), n_coils=2)
    scan = read_fastmri(write_fastmri(tmp_path / "raw.h5", kspace, header_xml=xml))
    image = np.full((2, 1, ROWS, COLS), 0.1, np.float32)
    image[:, :, TOP[0], TOP[1]] = 1.0
    image[:, :, RIGHT[0], RIGHT[1]] = 0.7
    return scan, image


def _marker_world(data: np.ndarray, affine: np.ndarray, value: float) -> np.ndarray:
    """RAS position (mm) of the first slice's voxel closest to ``value``."""
    volume = data[..., 0] if data.ndim == 3 else data
    index = np.unravel_index(np.argmin(np.abs(volume - value)), volume.shape)
    return (affine @ np.array([index[0], index[1], 0, 1.0]))[:3]


def test_default_orientation_is_recorded_as_a_guess(scan_and_image) -> None:  # noqa: ANN001
    scan, _ = scan_and_image
    assert any("rows towards patient posterior and columns towards patient left" in g for g in scan.guesses)
    assert [g.position[2] for g in scan.header.geometry] == [-2.0, 2.0]  # contiguous at 4 mm, centred


def test_nifti_and_dicom_show_the_array_as_fastmri_does(scan_and_image, tmp_path: Path) -> None:  # noqa: ANN001
    scan, image = scan_and_image
    nifti = nib.load(write_nifti(tmp_path / "x.nii.gz", image, scan.header))
    assert nib.aff2axcodes(nifti.affine) == ("L", "P", "S")  # x = columns -> left, y = rows -> posterior
    files = write_dicom_series(tmp_path / "dicom", image, scan.header)
    ds = pydicom.dcmread(files[0])
    np.testing.assert_allclose([float(v) for v in ds.ImageOrientationPatient], [1, 0, 0, 0, 1, 0], atol=1e-9)
    assert ds.Rows == ROWS and ds.Columns == COLS
    assert ds.pixel_array[TOP] == ds.pixel_array.max()  # stored as displayed: row 0 at the top

    ours = np.asarray(nifti.get_fdata())
    top, right = _marker_world(ours, nifti.affine, 1.0), _marker_world(ours, nifti.affine, 0.7)
    assert top[1] > right[1]  # the top of the screen is anterior (RAS y larger)
    assert right[0] < top[0]  # the right of the screen is patient left (RAS x smaller)

    dcm2niix = shutil.which("dcm2niix")
    assert dcm2niix, "dcm2niix is needed (apt-get install dcm2niix)"
    out = tmp_path / "dcm2niix"
    out.mkdir()
    subprocess.run(
        [dcm2niix, "-z", "n", "-f", "conv", "-o", str(out), str(tmp_path / "dicom")],
        check=True,
        capture_output=True,
    )
    converted = nib.load(next(out.glob("conv*.nii")))
    data = np.asarray(converted.get_fdata())
    assert nib.aff2axcodes(converted.affine)[2] == "S"
    np.testing.assert_allclose(_marker_world(data, converted.affine, data.max()), top, atol=0.05)
    second = data.max() * 0.7
    np.testing.assert_allclose(_marker_world(data, converted.affine, second), right, atol=0.05)


def test_selected_slices_keep_their_place_in_the_stack(scan_and_image) -> None:  # noqa: ANN001
    scan, _ = scan_and_image
    second = read_fastmri(scan.source, slices=[1])
    assert [g.position for g in second.header.geometry] == [scan.header.geometry[1].position]

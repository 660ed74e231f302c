"""Where each pixel lies in the patient: shared geometry for the NIfTI, DICOM and HDF5 writers.

Conventions:

* Images are ``(slices, frames, ny, nx)``; index order for the affines is (x = column, y = row, slice).
* Slice positions are ISMRMRD's: the centre of the slice in patient coordinates LPS, millimetres.
* ``header.readout_axis == -1`` (ISMRMRD): columns run along ``read_dir`` and rows along ``phase_dir``;
  ``-2`` (fastMRI): rows run along ``read_dir`` and columns along ``phase_dir``.
* ``header.geometry`` may be empty: a transverse slice as the array is displayed (row 0 at the top):
  columns towards patient left, rows towards posterior, slices towards superior (DICOM orientation
  ``1\\0\\0\\0\\1\\0``, NIfTI axis codes L, P, S) whichever axis is the readout, the stack centred on the
  origin. Readers record that assumption in ``Scan.guesses``. With a single entry for several slices,
  that entry is slice 0 and the rest are stacked along ``slice_dir``.
* DICOM ImagePositionPatient is the LPS centre of pixel (row 0, column 0). ImageOrientationPatient is
  (row direction, column direction) in DICOM's words: the row direction runs along a row, so the
  column index (x) increases along it; the column direction runs down a column, so the row index (y)
  increases along it. ``VolumeGeometry.row_direction`` and ``column_direction`` are those two triplets.
  NIfTI is RAS+: the RAS affine is the LPS one with the x and y rows negated.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from recon_cli.io.scan import ScanHeader

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def image_array(images: Any) -> np.ndarray:
    """Images as a NumPy array, checked to be 4-D.

    Args:
        images: ``(slices, frames, ny, nx)`` torch tensor or array, complex or real, any device.

    Returns:
        ``(slices, frames, ny, nx)`` array (complex64 or float32).
    """
    if hasattr(images, "detach"):
        images = images.detach().cpu().numpy()
    arr = np.asarray(images)
    if arr.ndim != 4:
        raise ValueError(f"images must be (slices, frames, ny, nx); got shape {arr.shape}")
    return arr.astype(np.complex64 if np.iscomplexobj(arr) else np.float32, copy=False)


def magnitude(images: Any) -> np.ndarray:
    """``|images|`` as float32 ``(slices, frames, ny, nx)``."""
    return np.abs(image_array(images)).astype(np.float32, copy=False)


@dataclass(frozen=True)
class VolumeGeometry:
    """Resolved geometry of a stack of 2-D slices (all vectors LPS, millimetres).

    Attributes:
        row_direction: (3,) unit vector along a row, in which the column index (x) increases (DICOM's
            row direction cosines, the first triplet of ImageOrientationPatient).
        column_direction: (3,) unit vector down a column, in which the row index (y) increases (DICOM's
            column direction cosines, the second triplet).
        slice_dir: (3,) unit slice normal.
        centres: (slices, 3) centre of each slice.
        pixel_spacing: (row spacing dy, column spacing dx).
        slice_thickness: slice thickness.
        slice_spacing: distance between neighbouring slice centres.
        shape: (ny, nx) of each image.
    """

    row_direction: np.ndarray
    column_direction: np.ndarray
    slice_dir: np.ndarray
    centres: np.ndarray
    pixel_spacing: tuple[float, float]
    slice_thickness: float
    slice_spacing: float
    shape: tuple[int, int]

    @property
    def n_slices(self) -> int:
        return int(self.centres.shape[0])

    def corner(self, s: int) -> np.ndarray:
        """(3,) LPS centre of pixel (row 0, column 0) of slice ``s`` (DICOM ImagePositionPatient)."""
        (ny, nx), (dy, dx) = self.shape, self.pixel_spacing
        along_row = (nx - 1) / 2 * dx * self.row_direction
        return self.centres[s] - along_row - (ny - 1) / 2 * dy * self.column_direction

    def orientation(self) -> list[float]:
        """DICOM ImageOrientationPatient: the row direction, then the column direction."""
        return [float(v) for v in (*self.row_direction, *self.column_direction)]

    def slice_location(self, s: int) -> float:
        """Signed distance of slice ``s`` along the slice normal (DICOM SliceLocation)."""
        return float(self.centres[s] @ self.slice_dir)

    def slice_step(self) -> np.ndarray:
        """(3,) LPS offset from one slice to the next, as stored (regular stack assumed)."""
        if self.n_slices > 1:
            step = (self.centres[-1] - self.centres[0]) / (self.n_slices - 1)
            if np.linalg.norm(step) > 1e-6:
                return step
        return self.slice_dir * self.slice_spacing

    def is_regular(self, tol_mm: float = 0.01) -> bool:
        """Whether the slice centres lie on a line at equal steps (what one affine can describe)."""
        k = np.arange(self.n_slices)[:, None]
        expected = self.centres[0] + k * self.slice_step()
        return bool(np.all(np.abs(self.centres - expected) <= tol_mm))

    def spatial_order(self) -> np.ndarray:
        """(slices,) int permutation putting slices in increasing position along ``slice_dir``."""
        return np.argsort(self.centres @ self.slice_dir, kind="stable")

    def take(self, order: np.ndarray) -> VolumeGeometry:
        """The same geometry with slices reordered by ``order``."""
        return replace(self, centres=self.centres[order])

    def affine_lps(self) -> np.ndarray:
        """(4, 4) float64 map from voxel index (x = column, y = row, slice, 1) to LPS millimetres."""
        dy, dx = self.pixel_spacing
        affine = np.eye(4)
        affine[:3, 0] = self.row_direction * dx
        affine[:3, 1] = self.column_direction * dy
        affine[:3, 2] = self.slice_step()
        affine[:3, 3] = self.corner(0)
        return affine

    def affine_ras(self) -> np.ndarray:
        """(4, 4) float64 voxel-to-RAS+ affine (what NIfTI stores)."""
        return LPS_TO_RAS @ self.affine_lps()


def volume_geometry(header: ScanHeader, n_slices: int, shape: tuple[int, int]) -> VolumeGeometry:
    """Resolve ``header``'s geometry for ``n_slices`` images of ``shape`` (ny, nx).

    Raises:
        ValueError: ``header.geometry`` has neither 0, 1 nor ``n_slices`` entries, or a direction is zero.
    """
    geo = header.geometry
    if len(geo) not in (0, 1, n_slices):
        raise ValueError(f"header has geometry for {len(geo)} slices but the images have {n_slices}")
    first = geo[0] if geo else None
    # without geometry: columns along L and rows along P, so the readout direction depends on its axis
    left, posterior = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)
    default_read, default_phase = (left, posterior) if header.readout_axis == -1 else (posterior, left)
    read = _unit(first.read_dir if first else default_read)
    phase = _unit(first.phase_dir if first else default_phase)
    normal = _unit(first.slice_dir if first else (0.0, 0.0, 1.0))
    row_direction, column_direction = (read, phase) if header.readout_axis == -1 else (phase, read)
    thickness = float(header.fov_mm[2])
    if len(geo) == n_slices and first is not None:
        centres = np.array([g.position for g in geo], dtype=np.float64).reshape(n_slices, 3)
        spacing = _slice_spacing(header, centres @ normal, thickness)
    else:
        spacing = _slice_spacing(header, np.zeros(0), thickness)
        k = np.arange(n_slices, dtype=np.float64)[:, None]
        if first is not None:
            start = np.asarray(first.position, dtype=np.float64)
        else:
            start = -(n_slices - 1) / 2 * spacing * normal
        centres = start + k * spacing * normal
    dy, dx = header.pixel_spacing_mm
    return VolumeGeometry(
        row_direction=row_direction,
        column_direction=column_direction,
        slice_dir=normal,
        centres=centres,
        pixel_spacing=(float(dy), float(dx)),
        slice_thickness=thickness,
        slice_spacing=spacing,
        shape=(int(shape[0]), int(shape[1])),
    )


def _slice_spacing(header: ScanHeader, locations: np.ndarray, thickness: float) -> float:
    """Header value, else the median gap between distinct slice locations, else the thickness."""
    if header.slice_spacing_mm is not None and header.slice_spacing_mm > 0:
        return float(header.slice_spacing_mm)
    gaps = np.diff(np.sort(locations))
    gaps = gaps[gaps > 1e-6]
    if gaps.size:
        return float(np.median(gaps))
    return thickness if thickness > 0 else 1.0


def _unit(v: tuple[float, float, float]) -> np.ndarray:
    arr = np.asarray(v, dtype=np.float64)
    norm = float(np.linalg.norm(arr))
    if norm < 1e-9:
        raise ValueError(f"geometry direction {tuple(v)} has zero length")
    return arr / norm

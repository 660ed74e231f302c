"""The one in-memory form of raw data, whatever file it came from.

Conventions (DESIGN.md section 2):

* Cartesian ``kspace``: ``(slices, frames, coils, ny, nx)`` complex64. The last two axes are the image
  rows and columns as displayed; ``header.readout_axis`` says which of them is the readout
  (-1 for ISMRMRD, where the readout runs along x; -2 for fastMRI files, where it runs along the rows).
  Readout oversampling has already been removed by the reader.
* Non-Cartesian ``kspace``: ``(slices, frames, coils, samples)`` complex64 with ``traj``
  ``(slices or 1, frames, 2, samples)`` float32 in radians/voxel in [-pi, pi), ordered (ky, kx) to match
  torchkbnufft's ``omega`` for an image of shape ``(ny, nx)``.
* Images are complex64 ``(slices, frames, ny, nx)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported lazily so `recon --help` stays fast
    import torch


@dataclass
class SliceGeometry:
    """Patient-coordinate geometry of one slice (ISMRMRD/DICOM LPS convention, millimetres)."""

    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    read_dir: tuple[float, float, float] = (1.0, 0.0, 0.0)
    phase_dir: tuple[float, float, float] = (0.0, 1.0, 0.0)
    slice_dir: tuple[float, float, float] = (0.0, 0.0, 1.0)


@dataclass
class ScanHeader:
    """What the file says about the acquisition, parsed once by the reader.

    ``recon_matrix`` and ``encoded_matrix`` are (ny, nx) in the layout of ``Scan.kspace``'s image axes;
    ``fov_mm`` is (fov_y, fov_x, slice thickness) of the reconstructed image in the same order.
    """

    recon_matrix: tuple[int, int]
    encoded_matrix: tuple[int, int]
    fov_mm: tuple[float, float, float]
    trajectory: str = "cartesian"  # cartesian | radial | spiral | other
    readout_axis: int = -1
    slice_spacing_mm: float | None = None
    frame_time_ms: float | None = None
    acceleration: tuple[int, int] = (1, 1)
    geometry: list[SliceGeometry] = field(default_factory=list)  # one entry per slice, may be empty
    patient: dict[str, str] = field(default_factory=dict)  # name, id, birth_date, sex, weight_kg
    study: dict[str, str] = field(default_factory=dict)  # date, time, description, id, institution
    series: dict[str, str] = field(default_factory=dict)  # description, protocol_name, date, time
    sequence: dict[str, float | str] = field(default_factory=dict)  # TR_ms, TE_ms, flip_deg, field_T, ...
    xml: str | None = None

    @property
    def pixel_spacing_mm(self) -> tuple[float, float]:
        """(row spacing, column spacing) of the reconstructed image in mm."""
        return (self.fov_mm[0] / self.recon_matrix[0], self.fov_mm[1] / self.recon_matrix[1])


@dataclass
class Scan:
    """Raw data of one file. See the module docstring for shapes."""

    kspace: torch.Tensor
    header: ScanHeader
    source: Path
    format: str  # "ismrmrd" | "fastmri"
    traj: torch.Tensor | None = None
    mask: torch.Tensor | None = None  # Cartesian: bool, 5-D, broadcastable to kspace
    noise: torch.Tensor | None = None  # noise covariance (coils, coils) complex64
    noise_samples: int = 0
    acs: torch.Tensor | None = None  # separately acquired calibration, (slices, 1, coils, ny, nx)
    reference: torch.Tensor | None = None  # (slices, frames, ny, nx), the file's own target image
    prewhitened: bool = False
    readout_length: int | None = None  # non-Cartesian: samples in one readout (spoke, interleaf)
    extra: dict[str, Any] = field(default_factory=dict)
    # Every assumption the reader made where the file was silent or contradictory (assumed geometry,
    # units, orientation, a resolved mismatch), one short sentence each without the file name: the
    # pipeline prints each on stderr as "FILE: guess", lists them in run.json, and --strict refuses them.
    guesses: list[str] = field(default_factory=list)

    @property
    def is_cartesian(self) -> bool:
        return self.traj is None

    @property
    def n_slices(self) -> int:
        return int(self.kspace.shape[0])

    @property
    def n_frames(self) -> int:
        return int(self.kspace.shape[1])

    @property
    def n_coils(self) -> int:
        return int(self.kspace.shape[2])

    @property
    def image_shape(self) -> tuple[int, int]:
        """(ny, nx) of the image grid the data is reconstructed on, before cropping to the recon size."""
        if self.is_cartesian:
            return (int(self.kspace.shape[-2]), int(self.kspace.shape[-1]))
        return self.header.recon_matrix

    def acceleration_estimate(self) -> float:
        """Fully sampled samples over acquired samples (Cartesian), or Nyquist spokes over spokes (radial)."""
        if self.is_cartesian:
            if self.mask is None:
                return 1.0
            import torch

            m = self.mask.float()
            frac = float(torch.broadcast_to(m, (*m.shape[:2], 1, *self.kspace.shape[-2:])).mean())
            return 1.0 / frac if frac > 0 else float("inf")
        n = max(self.header.recon_matrix)
        spokes = self.kspace.shape[-1] / max(self.readout_length or self.kspace.shape[-1], 1)
        # Nyquist for radial sampling: pi/2 * N spokes for an N x N image.
        return (math.pi / 2 * n) / spokes

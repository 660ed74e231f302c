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

A ``Scan`` and its ``ScanHeader`` are frozen values: readers build them in one go, and their shapes,
dtypes and header values are checked when they are built (``InvalidScanError`` names the first field
that is wrong). Code that derives a scan or header (prewhitening, undersampling, simulation) makes a new
one with ``dataclasses.replace``, which checks it again; the header's mappings are read-only. What a
reader learnt beyond the header lives in typed fields: ``ismrmrd_info``, ``fastmri_info`` and
``simulation``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn, get_args

if TYPE_CHECKING:  # torch is imported lazily so `recon --help` stays fast
    import torch

ScanFormat = Literal["ismrmrd", "fastmri", "synthetic", "training"]
"""Where a scan came from: a file format, the phantom simulator, or a training example."""
Trajectory = Literal["cartesian", "radial", "spiral", "other"]
"""The k-space trajectory class; every one but cartesian comes with ``Scan.traj``."""
FrameCounter = Literal["phase", "repetition"]
TrajectoryUnits = Literal["normalised", "samples", "radians"]


class InvalidScanError(ValueError):
    """A ``Scan`` built with a field of the wrong type, dtype or shape (the message names it)."""


class Metadata(Mapping[str, Any]):
    """A read-only copy of a file's key/value metadata (``MappingProxyType`` cannot be pickled or copied)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Any] | None = None) -> None:
        self._items = dict(items or {})

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Metadata({self._items!r})"


Vector3 = tuple[float, float, float]


@dataclass(frozen=True)
class SliceGeometry:
    """Patient-coordinate geometry of one slice (ISMRMRD/DICOM LPS convention, millimetres).

    Raises:
        InvalidScanError: an entry is not a 3-vector of finite numbers (the message names it).
    """

    position: Vector3 = (0.0, 0.0, 0.0)
    read_dir: Vector3 = (1.0, 0.0, 0.0)
    phase_dir: Vector3 = (0.0, 1.0, 0.0)
    slice_dir: Vector3 = (0.0, 0.0, 1.0)

    def __post_init__(self) -> None:
        for name in ("position", "read_dir", "phase_dir", "slice_dir"):
            value = getattr(self, name)
            if not isinstance(value, Sequence) or len(value) != 3 or not all(_is_finite(v) for v in value):
                _fail_header(f"SliceGeometry.{name} must be 3 finite numbers, not {value!r}")
            object.__setattr__(self, name, tuple(value))


@dataclass(frozen=True)
class ScanHeader:
    """What the file says about the acquisition, parsed once by the reader; a frozen, checked value.

    ``recon_matrix`` and ``encoded_matrix`` are (ny, nx) in the layout of ``Scan.kspace``'s image axes;
    ``fov_mm`` is (fov_y, fov_x, slice thickness) of the reconstructed image in the same order. The
    mappings are read-only ``Metadata``; derive a changed header with ``dataclasses.replace``.

    Raises:
        InvalidScanError: a field has the wrong type or an impossible value (the message names it).
    """

    recon_matrix: tuple[int, int]
    encoded_matrix: tuple[int, int]
    fov_mm: tuple[float, float, float]
    trajectory: Trajectory = "cartesian"
    readout_axis: int = -1
    slice_spacing_mm: float | None = None
    frame_time_ms: float | None = None
    acceleration: tuple[int, int] = (1, 1)
    geometry: tuple[SliceGeometry, ...] = ()  # one entry per slice, may be empty
    patient: Mapping[str, str] = field(default_factory=Metadata)  # name, id, birth_date, sex, weight_kg
    study: Mapping[str, str] = field(default_factory=Metadata)  # date, time, description, id, institution
    series: Mapping[str, str] = field(default_factory=Metadata)  # description, protocol_name, date, time
    sequence: Mapping[str, float | str] = field(default_factory=Metadata)  # TR_ms, TE_ms, flip_deg, ...
    xml: str | None = None

    def __post_init__(self) -> None:
        _check_header(self)

    @property
    def pixel_spacing_mm(self) -> tuple[float, float]:
        """(row spacing, column spacing) of the reconstructed image in mm."""
        return (self.fov_mm[0] / self.recon_matrix[0], self.fov_mm[1] / self.recon_matrix[1])


def _fail_header(problem: str) -> NoReturn:
    raise InvalidScanError(f"ScanHeader: {problem}")


def _is_finite(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool) and int(value) >= 1


def _check_header(h: ScanHeader) -> None:
    """Positive whole matrix sizes and factors, finite fields of view (in-plane positive), known names."""
    for name in ("recon_matrix", "encoded_matrix", "acceleration"):
        value = getattr(h, name)
        if not isinstance(value, Sequence) or len(value) != 2 or not all(_is_count(n) for n in value):
            _fail_header(f"{name} must be 2 whole numbers >= 1, not {value!r}")
        object.__setattr__(h, name, tuple(value))
    fov = h.fov_mm
    if not isinstance(fov, Sequence) or len(fov) != 3 or not all(_is_finite(v) for v in fov):
        _fail_header(f"fov_mm must be 3 finite numbers in mm, not {fov!r}")
    object.__setattr__(h, "fov_mm", tuple(fov))
    fov = h.fov_mm
    if not (fov[0] > 0 and fov[1] > 0 and fov[2] >= 0):
        _fail_header(f"fov_mm {fov!r} must be positive in-plane, with a slice thickness >= 0")
    if h.trajectory not in get_args(Trajectory):
        _fail_header(f"trajectory {h.trajectory!r} is not one of {', '.join(get_args(Trajectory))}")
    if h.readout_axis not in (-1, -2) or isinstance(h.readout_axis, bool):
        _fail_header(f"readout_axis must be -1 or -2, not {h.readout_axis!r}")
    for name in ("slice_spacing_mm", "frame_time_ms"):
        value = getattr(h, name)
        if value is not None and not _is_finite(value):
            _fail_header(f"{name} must be a finite number or None, not {value!r}")
    if isinstance(h.geometry, str | bytes) or not isinstance(h.geometry, Sequence):
        _fail_header(f"geometry must be a sequence of SliceGeometry, not {h.geometry!r}")
    object.__setattr__(h, "geometry", tuple(h.geometry))
    for g in h.geometry:
        if not isinstance(g, SliceGeometry):
            _fail_header(f"geometry entries must be SliceGeometry, not {type(g).__name__}")
    for name in ("patient", "study", "series", "sequence"):
        value = getattr(h, name)
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            _fail_header(f"{name} must be a mapping with str keys, not {value!r}")
        if not all(isinstance(v, str) or _is_finite(v) for v in value.values()):
            _fail_header(f"{name} values must be text or finite numbers: {dict(value)!r}")
        if not isinstance(value, Metadata):
            object.__setattr__(h, name, Metadata(value))
    if h.xml is not None and not isinstance(h.xml, str):
        _fail_header(f"xml must be text or None, not {type(h.xml).__name__}")


@dataclass(frozen=True)
class IsmrmrdInfo:
    """What the ISMRMRD reader found beyond the XML header (its choices are also in ``Scan.guesses``).

    Attributes:
        frame_counter: The acquisition counter that numbers frames.
        readout_oversampling: Encoded over recon field of view along the readout (removed from kspace).
        stored_matrix: Cartesian: (ny, nx) of the encoded k-space as stored, before oversampling removal.
        acs_mask: Cartesian with separate calibration: (slices, 1, 1, ny, 1) bool, lines in ``Scan.acs``.
        traj_units: Non-Cartesian: the units the trajectory was read in.
        dropped_samples: Non-Cartesian: samples per readout dropped for lying beyond |k| = pi.
    """

    frame_counter: FrameCounter
    readout_oversampling: float = 1.0
    stored_matrix: tuple[int, int] | None = None
    acs_mask: torch.Tensor | None = None
    traj_units: TrajectoryUnits | None = None
    dropped_samples: int = 0


@dataclass(frozen=True)
class FastmriInfo:
    """What the fastMRI reader found beyond the XML header.

    Attributes:
        layout: Multi-coil (kspace (slices, coils, rows, cols)) or single-coil ((slices, rows, cols)).
        reference_name: The dataset ``Scan.reference`` came from, None without one.
        stored_shape: Shape of the file's ``kspace`` dataset.
        stored_matrix: The XML's encoded matrix (x, y), before readout oversampling removal.
        readout_oversampling: Stored rows over the rows kept in ``Scan.kspace``.
        attrs: The file's root attributes, read-only metadata (copied into derived files, never branched on).
    """

    layout: Literal["multicoil", "singlecoil"]
    reference_name: str | None
    stored_shape: tuple[int, ...]
    stored_matrix: tuple[int, int]
    readout_oversampling: float = 1.0
    attrs: Mapping[str, Any] = field(default_factory=Metadata)

    def __post_init__(self) -> None:
        if not isinstance(self.attrs, Metadata):
            object.__setattr__(self, "attrs", Metadata(self.attrs))


@dataclass(frozen=True)
class Simulation:
    """How the phantom simulator made a scan.

    Attributes:
        snr: Image SNR of the added noise (``phantoms.noise_sigma``); None for none.
        noise_sigma: Standard deviation of the complex noise added per sample.
        noise_samples: Noise-only samples per simulated coil, (coils, n) complex64, when requested (coil
            compression leaves them on the simulated coils).
    """

    snr: float | None
    noise_sigma: float
    noise_samples: torch.Tensor | None = None


@dataclass(frozen=True)
class Scan:
    """Raw data of one file, checked when built. See the module docstring for shapes.

    Raises:
        InvalidScanError: a field has the wrong type, dtype or shape (the message names the field).
    """

    kspace: torch.Tensor
    header: ScanHeader
    source: Path
    format: ScanFormat
    traj: torch.Tensor | None = None
    mask: torch.Tensor | None = None  # Cartesian: bool, 5-D, broadcastable to kspace
    noise: torch.Tensor | None = None  # noise covariance (coils, coils) complex
    noise_samples: int = 0
    acs: torch.Tensor | None = None  # separately acquired calibration, (slices, 1, coils, ny, nx)
    reference: torch.Tensor | None = None  # (slices, frames, ny, nx), the file's own target image
    prewhitened: bool = False
    readout_length: int | None = None  # non-Cartesian: samples in one readout (spoke, interleaf)
    # Every assumption the reader made where the file was silent or contradictory (assumed geometry,
    # units, orientation, a resolved mismatch), one short sentence each without the file name: the
    # pipeline prints each on stderr as "FILE: guess", lists them in run.json, and --strict refuses them.
    guesses: tuple[str, ...] = ()
    ismrmrd_info: IsmrmrdInfo | None = None
    fastmri_info: FastmriInfo | None = None
    simulation: Simulation | None = None

    def __post_init__(self) -> None:
        if isinstance(self.guesses, str) or not isinstance(self.guesses, Sequence):
            raise InvalidScanError(f"Scan.guesses must be a sequence of sentences, not {self.guesses!r}")
        object.__setattr__(self, "guesses", tuple(str(g) for g in self.guesses))
        from recon_cli.io.scan_checks import check_scan

        check_scan(self)

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

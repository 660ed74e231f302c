"""Retrospective undersampling of fully sampled Cartesian raw data (``recon simulate-mask --apply-to``).

* Cartesian kinds: a mask of the scan's k-space matrix (1-D kinds along the phase-encode axis: rows for
  ISMRMRD data, columns for fastMRI data; a new draw per frame, the same for every slice) zeroes the
  unsampled k-space. The mask combines with any mask the input already has (zero-padded edge columns of
  fastMRI files stay unsampled). The copy keeps the input's format: fastMRI files get the 1-D ``mask``
  dataset, ISMRMRD files hold only the sampled lines. Where the format cannot express the pattern
  (a 2-D mask), the file also carries it as ``sampling_mask`` (fastMRI: (rows, cols); ISMRMRD:
  ``{dataset}/sampling_mask`` (slices or 1, frames, ny, nx)) bool.
* Radial kinds: coil images ``ifft2c(kspace)`` cropped to the recon matrix are sampled with the NUFFT
  (``recon_cli.ops.nufft.nufft_forward``) along the golden-angle trajectory of each frame (frames continue
  the angle sequence), and written as an ISMRMRD radial file whatever the input format.

The reference is the fully sampled image: ``rss(ifft2c(kspace))`` cropped to the recon matrix,
(slices, frames, ny, nx) float32. fastMRI outputs carry it as ``reconstruction_rss`` (single-coil:
``reconstruction_esc``), ISMRMRD outputs as ``{dataset}/reference``; both readers return it as
``Scan.reference``, and ``recon evaluate --reference UNDERSAMPLED.h5`` reads it from there.
Every output's root attribute ``recon_sampling`` (JSON: kind, parameters, achieved acceleration) lets a
second ``--apply-to`` recognise undersampled data even where the format cannot say so.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recon_cli.errors import InputDataError, UsageError
from recon_cli.io.atomic import atomic_path, check_writable, refuse_inputs
from recon_cli.io.scan import Scan
from recon_cli.ops.functional import center_crop, ifft2c, rss
from recon_cli.sampling import PatternSpec, check_h5_suffix, draw_pattern, pattern_statistics

FULLY_SAMPLED_LIMIT = 1.05  # inputs above this acceleration count as undersampled
ISMRMRD_DATASET = "dataset"
SAMPLING_ATTR = "recon_sampling"

__all__ = [
    "FULLY_SAMPLED_LIMIT",
    "UndersampleResult",
    "UndersampledScan",
    "fully_sampled_reference",
    "input_acceleration",
    "spec_for_scan",
    "undersample_file",
    "undersample_scan",
]


@dataclass(frozen=True)
class UndersampledScan:
    """A retrospectively undersampled scan, in memory.

    Attributes:
        scan: Cartesian: k-space masked, ``mask`` (slices or 1, frames, 1, ny, nx) bool. Radial: k-space
            (slices, frames, coils, spokes * samples) with ``traj`` (1, frames, 2, spokes * samples).
        pattern: The drawn pattern: (frames, ny, nx) bool mask or (frames, 2, samples) float32 trajectory.
        spec: The resolved pattern specification.
        sampled_fraction: Cartesian: mean of the combined mask; radial: spokes over the Nyquist count.
        acceleration: ``1 / sampled_fraction``.
    """

    scan: Scan
    pattern: np.ndarray
    spec: PatternSpec
    sampled_fraction: float
    acceleration: float


@dataclass(frozen=True)
class UndersampleResult:
    """What ``undersample_file`` wrote."""

    path: Path
    format: str  # "fastmri" | "ismrmrd"
    spec: PatternSpec
    sampled_fraction: float
    acceleration: float
    input_acceleration: float


def fully_sampled_reference(scan: Scan) -> torch.Tensor:
    """RSS of the coil images, cropped to the recon matrix. Returns (slices, frames, ny, nx) float32."""
    image = rss(ifft2c(scan.kspace), dim=-3)
    return center_crop(image, scan.header.recon_matrix).to(torch.float32).contiguous()


def input_acceleration(scan: Scan, recorded: float = 1.0) -> float:
    """How undersampled a Cartesian input is: the largest of the mask's acceleration within the sampled
    extent (zero-padded edge lines do not count), the header's factor and a ``recorded`` one."""
    header = float(scan.header.acceleration[0] * scan.header.acceleration[1])
    if scan.mask is None:
        return max(1.0, header, recorded)
    m = torch.broadcast_to(scan.mask.bool(), (*scan.kspace.shape[:2], 1, *scan.kspace.shape[-2:]))
    rows = torch.nonzero(m.any(-1).flatten(0, -2).any(0)).ravel()
    cols = torch.nonzero(m.flatten(0, -2).any(0)).ravel()
    if rows.numel() == 0 or cols.numel() == 0:
        return math.inf
    inner = m[..., int(rows[0]) : int(rows[-1]) + 1, int(cols[0]) : int(cols[-1]) + 1]
    return max(1.0 / float(inner.float().mean()), header, recorded)


def spec_for_scan(spec: PatternSpec, scan: Scan) -> PatternSpec:
    """``spec`` completed from the scan (matrix, frames, phase-encode axis) and resolved.

    Raises:
        UsageError: the spec sets what the scan decides (``shape``, ``matrix``, other ``frames``).
    """
    _check_options(spec)
    if spec.frames not in (None, scan.n_frames):
        raise UsageError(f"--frames {spec.frames} does not match the scan's {scan.n_frames} frames")
    shape = (int(scan.kspace.shape[-2]), int(scan.kspace.shape[-1]))
    phase_axis = -2 if scan.header.readout_axis == -1 else -1
    if spec.is_cartesian:
        filled = dataclasses.replace(spec, shape=shape, frames=scan.n_frames, phase_axis=phase_axis)
    else:
        matrix = max(scan.header.recon_matrix)
        filled = dataclasses.replace(spec, matrix=matrix, frames=scan.n_frames)
    return filled.resolved()


def _check_options(spec: PatternSpec) -> None:
    """``UsageError`` for a kind recon does not know or for options the scan decides."""
    from recon_cli.sampling import MASK_KINDS

    if spec.kind not in MASK_KINDS:
        spec.resolved()  # raises the UsageError naming the kinds
    if spec.shape is not None:
        raise UsageError("--shape cannot be combined with --apply-to: the scan's k-space matrix is used")
    if spec.matrix is not None:
        raise UsageError("--matrix cannot be combined with --apply-to: the scan's recon matrix is used")


def undersample_scan(scan: Scan, spec: PatternSpec) -> UndersampledScan:
    """Undersample a fully sampled Cartesian scan in memory (see the module docstring).

    Args:
        scan: Cartesian scan, kspace (slices, frames, coils, ny, nx) complex64.
        spec: The pattern; completed from the scan by ``spec_for_scan``.

    Returns:
        The undersampled scan, its ``reference`` set to ``fully_sampled_reference(scan)``.
    """
    if not scan.is_cartesian:
        raise InputDataError(
            scan.source, "non-Cartesian data; --apply-to needs fully sampled Cartesian k-space"
        )
    spec = spec_for_scan(spec, scan)
    reference = fully_sampled_reference(scan)
    pattern = draw_pattern(spec)
    if spec.is_cartesian:
        out, fraction = _masked(scan, pattern)
        acceleration = 1.0 / fraction if fraction > 0 else math.inf
        header = dataclasses.replace(out.header, acceleration=(max(1, round(acceleration)), 1))
        out = dataclasses.replace(out, header=header)
    else:
        out = _radial(scan, pattern, spec)
        fraction, acceleration = pattern_statistics(spec, pattern)
    out = dataclasses.replace(out, reference=reference)
    return UndersampledScan(out, pattern, spec, fraction, acceleration)


def _masked(scan: Scan, pattern: np.ndarray) -> tuple[Scan, float]:
    """The scan with ``pattern`` (frames, ny, nx), combined with its own mask, applied; and the fraction."""
    mask = torch.from_numpy(pattern)[None, :, None].to(scan.kspace.device)
    if scan.mask is not None:
        mask = mask & scan.mask.bool().to(mask.device)
    full = torch.broadcast_to(mask, (*scan.kspace.shape[:2], 1, *scan.kspace.shape[-2:]))
    out = dataclasses.replace(
        scan,
        kspace=scan.kspace * mask,
        mask=mask.contiguous(),
        acs=None,
        ismrmrd_info=None,
        fastmri_info=None,
        simulation=None,
    )
    return out, float(full.float().mean())


def _radial(scan: Scan, traj: np.ndarray, spec: PatternSpec) -> Scan:
    """Radial k-space of the scan's coil images along ``traj`` (frames, 2, samples), one slice at a time."""
    from recon_cli.ops.nufft import nufft_forward

    coil_images = center_crop(ifft2c(scan.kspace), scan.header.recon_matrix)
    omega = torch.from_numpy(traj).to(coil_images.device)
    kspace = torch.stack([nufft_forward(coil_images[s], omega) for s in range(scan.n_slices)])
    matrix = (int(coil_images.shape[-2]), int(coil_images.shape[-1]))
    header = dataclasses.replace(
        scan.header,
        recon_matrix=matrix,
        encoded_matrix=matrix,
        trajectory="radial",
        readout_axis=-1,
        acceleration=(1, 1),
    )
    return Scan(
        kspace=kspace.to(torch.complex64).contiguous(),
        header=header,
        source=scan.source,
        format="ismrmrd",
        traj=omega[None].to(torch.float32),
        noise=scan.noise,
        noise_samples=scan.noise_samples,
        readout_length=spec.samples,
    )


def undersample_file(
    source: Path | str, out: Path | str, spec: PatternSpec, *, force: bool = False, overwrite: bool = False
) -> UndersampleResult:
    """Write a retrospectively undersampled copy of a fully sampled Cartesian raw-data file.

    Args:
        source: fastMRI or ISMRMRD file with fully sampled Cartesian k-space.
        out: Output ``.h5``: fastMRI for fastMRI inputs with Cartesian kinds, ISMRMRD otherwise.
        spec: The pattern (its matrix, frames and phase-encode axis come from the scan).
        force: Undersample an input that is already undersampled (acceleration above 1.05).
        overwrite: Replace existing outputs.

    Returns:
        What was written and the achieved sampling.

    Raises:
        UsageError: bad options or output name.
        OutputExistsError: an output exists and ``overwrite`` is False (nothing is written then).
        InputDataError: unreadable, non-Cartesian or (without ``force``) undersampled input.
    """
    from recon_cli.io.detect import read_scan

    out = Path(out)
    check_h5_suffix(out)
    _check_options(spec)
    refuse_inputs([out], [source])
    check_writable(out, overwrite)
    scan = read_scan(source)
    if not scan.is_cartesian:
        raise InputDataError(source, "non-Cartesian data; --apply-to needs fully sampled Cartesian k-space")
    spec_for_scan(spec, scan)  # usage errors before data errors
    acceleration = input_acceleration(scan, _recorded_acceleration(Path(source)))
    if acceleration > FULLY_SAMPLED_LIMIT and not force:
        raise InputDataError(
            source,
            f"already undersampled (acceleration {acceleration:.2f}); use --force to undersample it again",
        )
    under = undersample_scan(scan, spec)
    record = _sampling_record(under, acceleration)
    fastmri_out = scan.format == "fastmri" and spec.is_cartesian
    if fastmri_out:
        _write_fastmri_copy(out, under, scan, record, overwrite)
    else:
        _write_ismrmrd_copy(out, under, record, overwrite)
    return UndersampleResult(
        out,
        "fastmri" if fastmri_out else "ismrmrd",
        under.spec,
        under.sampled_fraction,
        under.acceleration,
        acceleration,
    )


def _recorded_acceleration(path: Path) -> float:
    """The acceleration a previous ``--apply-to`` recorded in the file's root attributes, else 1."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            text = f.attrs.get(SAMPLING_ATTR)
        value = json.loads(text)["achieved_acceleration"] if text is not None else 1.0
        return float(value)
    except (OSError, ValueError, KeyError, TypeError):
        return 1.0


def _sampling_record(under: UndersampledScan, input_acc: float) -> dict[str, Any]:
    return {
        "kind": under.spec.kind,
        "params": under.spec.params(),
        "sampled_fraction": under.sampled_fraction,
        "achieved_acceleration": under.acceleration,
        "input_acceleration": input_acc,
    }


def _constant_along(mask: torch.Tensor, axis: int) -> bool:
    """Whether a (s, f, 1, ny, nx) bool mask is the same all along ``axis`` (-1: x, -2: y)."""
    return bool((mask == mask.any(dim=axis, keepdim=True)).all())


def _write_fastmri_copy(
    out: Path, under: UndersampledScan, source: Scan, record: dict[str, Any], overwrite: bool
) -> None:
    """fastMRI layout: kspace (readout oversampling already removed), reference, 1-D mask, XML, attrs."""
    import h5py

    from recon_cli.io.fastmri import write_fastmri

    scan = under.scan
    assert scan.mask is not None and scan.reference is not None
    kspace = scan.kspace[:, 0]
    if source.fastmri_info is not None and source.fastmri_info.layout == "singlecoil":
        kspace = kspace[:, 0]
    mask = torch.broadcast_to(scan.mask, (scan.n_slices, 1, 1, *scan.kspace.shape[-2:]))
    columns = mask[0, 0, 0, 0] if _constant_along(mask, -2) and bool((mask == mask[:1]).all()) else None
    reference = scan.reference[:, 0]
    attrs = dict(source.fastmri_info.attrs if source.fastmri_info is not None else {})
    attrs.update(
        acceleration=float(under.spec.acceleration or under.acceleration),
        max=float(reference.max()),
        norm=float(torch.linalg.vector_norm(reference)),
    )
    attrs[SAMPLING_ATTR] = json.dumps(record)
    if under.spec.kind in ("random", "equispaced"):
        from recon_cli.sampling import center_columns

        attrs["num_low_frequency"] = center_columns(int(mask.shape[-1]), under.spec.center_fraction)[1]
    with atomic_path(out, overwrite=overwrite) as tmp:
        xml = _fastmri_xml(scan)
        write_fastmri(
            tmp, kspace, reference=reference, mask=columns, header_xml=xml, attrs=attrs, overwrite=True
        )
        if columns is None:  # a 2-D pattern: fastMRI's `mask` holds columns only
            with h5py.File(tmp, "a") as f:
                f.create_dataset("sampling_mask", data=mask[0, 0, 0].cpu().numpy(), compression="gzip")


def _fastmri_xml(scan: Scan) -> str:
    """The input's ISMRMRD header with the encoded space set to the written k-space (no oversampling).

    The header is parsed as the reader parsed it (``ismrmrd_header.parse_header_text``: a lenient parse
    is already one of the reader's guesses); a file without one gets a fresh header.
    """
    from recon_cli.io.fastmri import fastmri_header_xml
    from recon_cli.io.ismrmrd_header import parse_header_text
    from recon_cli.io.ismrmrd_lib import xsd

    rows, cols = int(scan.kspace.shape[-2]), int(scan.kspace.shape[-1])
    h = scan.header
    if h.xml is None:
        return fastmri_header_xml((rows, cols), h.recon_matrix, h.fov_mm, h.fov_mm, n_coils=scan.n_coils)
    hdr = parse_header_text(scan.source, h.xml)
    encoded, recon = hdr.encoding[0].encodedSpace, hdr.encoding[0].reconSpace
    encoded.matrixSize.x, encoded.matrixSize.y = rows, cols
    encoded.fieldOfView_mm.x = recon.fieldOfView_mm.x
    return str(xsd.ToXML(hdr, encoding="utf-8"))


def _write_ismrmrd_copy(out: Path, under: UndersampledScan, record: dict[str, Any], overwrite: bool) -> None:
    """ISMRMRD: the scan (only sampled lines) with its reference, a 2-D ``sampling_mask``, attrs."""
    import h5py

    from recon_cli.io.ismrmrd_write import write_ismrmrd

    scan = under.scan
    assert scan.reference is not None
    with atomic_path(out, overwrite=overwrite) as tmp:
        write_ismrmrd(tmp, scan, overwrite=True, dataset=ISMRMRD_DATASET)
        with h5py.File(tmp, "a") as f:
            group = f[ISMRMRD_DATASET]  # write_ismrmrd put scan.reference in {dataset}/reference
            if scan.mask is not None and not _constant_along(scan.mask, -1):
                mask = torch.broadcast_to(scan.mask, (*scan.mask.shape[:3], *scan.kspace.shape[-2:]))
                group.create_dataset("sampling_mask", data=mask[:, :, 0].cpu().numpy(), compression="gzip")
            f.attrs[SAMPLING_ATTR] = json.dumps(record)

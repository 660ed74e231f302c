"""Compare reconstructed images with a reference: metrics per volume, slice and frame, as JSON and CSV.

Magnitudes are compared. Nothing is rescaled unless asked: ``normalize`` is "none", "max" (recon scaled so
its maximum equals the reference's) or "lstsq" (the one scale ``a`` minimising ``||a recon - ref||``, i.e.
``<recon, ref> / <recon, recon>``), and the scale applied is recorded for every file. An optional centre
crop (fastMRI's ``center_crop``: start ``(n - crop) // 2``) is applied to both before anything else.

Readable images: ``.h5`` written by ``recon`` (dataset ``images``, see ``recon_cli.io.h5image``), ``.nii``
/ ``.nii.gz`` magnitudes stored ``(x, y, slice[, frame])``. A reference may also be an ``.h5`` with a
dataset ``reference`` ``(slices, frames, ny, nx)``, or a raw-data file that carries a reference image
(e.g. fastMRI ``reconstruction_rss``). NIfTI files written by ``recon`` order their slices by position,
which can differ from the acquisition order of the other formats.
"""

from __future__ import annotations

import csv
import io
import json
import math
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from recon_cli.errors import InputDataError, ReconError, UsageError
from recon_cli.io.atomic import atomic_path, check_writable
from recon_cli.metrics import METRIC_DEFINITIONS, METRIC_NAMES, as_volume, compute_metrics

NORMALIZATIONS = ("none", "max", "lstsq")
REPORT_FILES = ("metrics.json", "metrics.csv")
_NIFTI_SUFFIXES = (".nii", ".nii.gz")


@dataclass(frozen=True)
class EvaluateRequest:
    """What to compare against and how. ``crop`` is (height, width) or None."""

    reference: Path
    out_dir: Path
    normalize: str = "lstsq"
    crop: tuple[int, int] | None = None
    overwrite: bool = False


@dataclass
class FileEvaluation:
    """Metrics of one reconstruction, or the error that stopped it."""

    source: Path
    ok: bool
    error: str | None = None
    shape: tuple[int, ...] | None = None
    scale: float | None = None
    data_range: float | None = None
    volume: dict[str, float] = field(default_factory=dict)
    slices: list[dict[str, float]] = field(default_factory=list)
    frames: list[dict[str, float]] = field(default_factory=list)


@dataclass
class EvaluationReport:
    """All files' results and where the report was written."""

    request: EvaluateRequest
    reference_shape: tuple[int, ...]
    results: list[FileEvaluation]
    outputs: list[Path]


def read_magnitudes(path: Path | str, *, reference: bool = False) -> np.ndarray:
    """Read image magnitudes from a file recon can compare.

    Args:
        path: ``.h5`` image file (dataset ``images``), ``.nii``/``.nii.gz``; with ``reference=True`` also
            an ``.h5`` with dataset ``reference`` or a raw-data file whose scan has a reference image.
        reference: Accept the reference-only layouts too.

    Returns:
        (slices, frames, ny, nx) float64 magnitudes.

    Raises:
        InputDataError: missing, unreadable, or holding no images.
    """
    path = Path(path)
    if not path.is_file():
        raise InputDataError(path, "no such file")
    if path.name.lower().endswith(_NIFTI_SUFFIXES):
        return _read_nifti(path)
    import h5py

    try:
        with h5py.File(path, "r") as f:
            names = set(f.keys())
            if reference and "reference" in names:
                return _volume(path, f["reference"][()])
    except OSError:
        raise InputDataError(path, "not an HDF5 or NIfTI image file") from None
    if "images" in names:
        from recon_cli.io.h5image import read_h5_images

        try:
            images = read_h5_images(path)[0]
        except (OSError, KeyError, ValueError) as exc:
            raise InputDataError(path, f"unreadable image file: {str(exc).splitlines()[0][:160]}") from None
        return _volume(path, images)
    if not reference:
        raise InputDataError(path, "no 'images' dataset (not an image file written by recon)")
    from recon_cli.io import read_scan

    scan = read_scan(path)
    if scan.reference is None:
        raise InputDataError(path, "raw-data file carries no reference image")
    return _volume(path, scan.reference.detach().cpu().numpy())


def _volume(path: Path, data: np.ndarray) -> np.ndarray:
    try:
        return as_volume(data)
    except ValueError as exc:
        raise InputDataError(path, str(exc)) from None


def _read_nifti(path: Path) -> np.ndarray:
    import nibabel as nib

    try:
        image = nib.load(path)
        if not isinstance(image, nib.Nifti1Image):  # Nifti2Image is a subclass
            raise TypeError(f"{type(image).__name__} is not a NIfTI image")
        data = np.abs(np.asarray(image.get_fdata(dtype=np.float64)))
    except Exception as exc:  # nibabel raises several types for broken files
        raise InputDataError(path, f"unreadable NIfTI file: {str(exc).splitlines()[0][:160]}") from None
    if data.ndim == 2:
        return data.T[None, None]
    if data.ndim == 3:
        return data.transpose(2, 1, 0)[:, None]
    if data.ndim == 4:
        return data.transpose(2, 3, 1, 0)
    raise InputDataError(path, f"expected (x, y, slice[, frame]) NIfTI data, got shape {data.shape}")


def center_crop(images: np.ndarray, crop: tuple[int, int] | None, path: Path) -> np.ndarray:
    """Centre crop of the last two axes to ``crop`` (height, width), or ``images`` when ``crop`` is None."""
    if crop is None:
        return images
    (ny, nx), (h, w) = images.shape[-2:], crop
    if h > ny or w > nx:
        raise InputDataError(path, f"cannot crop {ny}x{nx} images to {h}x{w}")
    top, left = (ny - h) // 2, (nx - w) // 2
    return images[..., top : top + h, left : left + w]


def intensity_scale(recon: np.ndarray, reference: np.ndarray, method: str) -> float:
    """Factor applied to ``recon`` before comparing: 1 ("none"), max ratio ("max"), least squares."""
    if method == "none":
        return 1.0
    if method == "max":
        peak = float(recon.max())
        return float(reference.max()) / peak if peak > 0 else 1.0
    if method == "lstsq":
        energy = float(np.vdot(recon, recon).real)
        return float(np.vdot(recon, reference).real) / energy if energy > 0 else 1.0
    raise UsageError(f"--normalize: unknown method '{method}'; choose from {', '.join(NORMALIZATIONS)}")


def evaluate_file(path: Path, reference: np.ndarray, request: EvaluateRequest) -> FileEvaluation:
    """Metrics of one reconstruction file against the (already cropped) reference magnitudes.

    Raises:
        InputDataError: unreadable file or shape not matching the reference.
    """
    recon = center_crop(read_magnitudes(path), request.crop, path)
    if recon.shape != reference.shape:
        raise InputDataError(
            path,
            f"image shape {recon.shape} does not match reference {reference.shape} ({request.reference})",
        )
    scale = intensity_scale(recon, reference, request.normalize)
    recon = recon * scale
    data_range = float(reference.max())
    return FileEvaluation(
        source=path,
        ok=True,
        shape=tuple(recon.shape),
        scale=scale,
        data_range=data_range,
        volume=compute_metrics(recon, reference, data_range=data_range),
        slices=compute_metrics(recon, reference, per="slice", data_range=data_range),
        frames=compute_metrics(recon, reference, per="frame", data_range=data_range),
    )


def evaluate_files(
    recons: list[Path],
    request: EvaluateRequest,
    *,
    on_done: Callable[[FileEvaluation], None] | None = None,
) -> EvaluationReport:
    """Evaluate every file (a bad one is recorded and skipped) and write ``metrics.json``/``metrics.csv``.

    Raises:
        UsageError: unknown normalisation.
        OutputExistsError: a report file exists and ``request.overwrite`` is False (checked first).
        InputDataError: the reference cannot be read or cropped.
    """
    if request.normalize not in NORMALIZATIONS:
        raise UsageError(
            f"--normalize: unknown method '{request.normalize}'; choose from {', '.join(NORMALIZATIONS)}"
        )
    targets = [Path(request.out_dir) / name for name in REPORT_FILES]
    for target in targets:
        check_writable(target, request.overwrite)
    reference = center_crop(
        read_magnitudes(request.reference, reference=True), request.crop, request.reference
    )
    results = []
    for path in recons:
        try:
            result = evaluate_file(Path(path), reference, request)
        except ReconError as exc:
            result = FileEvaluation(source=Path(path), ok=False, error=str(exc))
        results.append(result)
        if on_done is not None:
            on_done(result)
    report = EvaluationReport(request, tuple(reference.shape), results, targets)
    _write_text(
        targets[0], json.dumps(report_json(report), indent=2, allow_nan=False) + "\n", request.overwrite
    )
    _write_text(targets[1], report_csv(report), request.overwrite)
    return report


def report_json(report: EvaluationReport) -> dict[str, Any]:
    """The JSON document: settings, definitions, versions and every file's metrics (non-finite -> null)."""
    req = report.request
    files = []
    for r in report.results:
        entry: dict[str, Any] = {"file": str(r.source), "ok": r.ok}
        if r.ok:
            entry.update(
                shape=list(r.shape or ()),
                scale=r.scale,
                data_range=r.data_range,
                volume=r.volume,
                slices=r.slices,
                frames=r.frames,
            )
        else:
            entry["error"] = r.error
        files.append(entry)
    return _finite(
        {
            "reference": str(req.reference),
            "reference_shape": list(report.reference_shape),
            "crop": list(req.crop) if req.crop else None,
            "normalize": req.normalize,
            "normalize_definition": _NORMALIZE_TEXT[req.normalize],
            "comparison": "magnitude images, (slices, frames, ny, nx)",
            "definitions": METRIC_DEFINITIONS,
            "versions": _versions(),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": files,
        }
    )


_NORMALIZE_TEXT = {
    "none": "recon compared as stored (scale 1)",
    "max": "recon multiplied by max(ref) / max(recon)",
    "lstsq": "recon multiplied by the least-squares scale <recon, ref> / <recon, recon>",
}


def report_csv(report: EvaluationReport) -> str:
    """One row per (file, level): level "volume", "slice", "frame" or "error"."""
    columns = ["file", "level", "slice", "frame", *METRIC_NAMES, "scale", "data_range", "error"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in report.results:
        base = {"file": str(r.source), "scale": r.scale, "data_range": r.data_range}
        if not r.ok:
            writer.writerow({"file": str(r.source), "level": "error", "error": r.error})
            continue
        writer.writerow({**base, "level": "volume", **r.volume})
        for row in r.slices:
            writer.writerow({**base, "level": "slice", **row})
        for row in r.frames:
            writer.writerow({**base, "level": "frame", **row})
    return buffer.getvalue()


def _write_text(path: Path, text: str, overwrite: bool) -> None:
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(text)


def _finite(value: Any) -> Any:
    """JSON-safe copy: non-finite floats become None (JSON has no inf/nan)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from recon_cli import __version__

    versions = {"recon": __version__, "python": platform.python_version()}
    for package in ("numpy", "scipy", "scikit-image", "h5py", "nibabel"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return versions

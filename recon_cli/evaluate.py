"""Compare reconstructed images with a reference: metrics per volume, slice and frame; JSON, CSV and HTML.

Magnitudes are compared. Nothing is rescaled unless asked: ``normalize`` is "none", "max" (recon scaled so
its maximum equals the reference's) or "lstsq" (the one scale ``a`` minimising ``||a recon - ref||``, i.e.
``<recon, ref> / <recon, recon>``), and the scale applied is recorded for every file. An optional centre
crop (fastMRI's ``center_crop``: start ``(n - crop) // 2``) is applied to both before anything else.

Readable images: ``.h5`` written by ``recon`` (dataset ``images``, see ``recon_cli.io.h5image``), ``.nii``
/ ``.nii.gz`` magnitudes stored ``(x, y, slice[, frame])``. A reference may also be an ``.h5`` with a
dataset ``reference`` ``(slices, frames, ny, nx)``, or a raw-data file that carries a reference image
(e.g. fastMRI ``reconstruction_rss``). NIfTI files written by ``recon`` order their slices by position,
which can differ from the acquisition order of the other formats.

The report folder gets ``metrics.json``, ``metrics.csv`` and (unless ``html=False``) ``index.html`` with
figures; see ``recon_cli.reports``. Figures are drawn while each file is in memory, so files stream.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from recon_cli.errors import InputDataError, ReconError, UsageError, first_line
from recon_cli.evaluate_request import (
    HTML_FILE,
    NORMALIZATIONS,
    REPORT_FILES,
    EvaluateRequest,
    EvaluationReport,
    FileEvaluation,
)
from recon_cli.io.atomic import atomic_path, check_writable, refuse_inputs
from recon_cli.io.plausibility import check_stored
from recon_cli.metrics import as_volume, compute_metrics
from recon_cli.reports.documents import report_csv, report_json
from recon_cli.reports.views import PROFILE_CHOICES, View, choose_view

_NIFTI_SUFFIXES = (".nii", ".nii.gz")


def read_magnitudes(
    path: Path | str, *, reference: bool = False, guesses: list[str] | None = None
) -> np.ndarray:
    """Read image magnitudes from a file recon can compare.

    Args:
        path: ``.h5`` image file (dataset ``images``), ``.nii``/``.nii.gz``; with ``reference=True`` also
            an ``.h5`` with dataset ``reference`` or a raw-data file whose scan has a reference image.
        reference: Accept the reference-only layouts too.
        guesses: When given, the raw-data reader's guesses about the file are appended to it.

    Returns:
        (slices, frames, ny, nx) float64 magnitudes.

    Raises:
        InputDataError: missing, unreadable, holding no images, or holding NaN/Inf values (no metric
            of such an image means anything).
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
            for name in ("images", "reference") if reference else ("images",):
                if isinstance(f.get(name), h5py.Dataset):
                    check_stored(path, f"'{name}'", f[name])  # before reading a declared-only array
            if reference and "reference" in names:
                return _volume(path, f["reference"][()])
    except OSError:
        raise InputDataError(path, "not an HDF5 or NIfTI image file") from None
    if "images" in names:
        from recon_cli.io.h5image import read_h5_images

        try:
            images = read_h5_images(path)[0]
        except (OSError, KeyError, ValueError) as exc:
            raise InputDataError(path, f"unreadable image file: {first_line(exc)}") from None
        return _volume(path, images)
    if not reference:
        raise InputDataError(path, "no 'images' dataset (not an image file written by recon)")
    from recon_cli.io import read_scan

    scan = read_scan(path)
    if guesses is not None:
        guesses.extend(scan.guesses)
    if scan.reference is None:
        raise InputDataError(path, "raw-data file carries no reference image")
    return _volume(path, scan.reference.detach().cpu().numpy())


def _volume(path: Path, data: np.ndarray) -> np.ndarray:
    try:
        return _finite(path, as_volume(data))
    except ValueError as exc:
        raise InputDataError(path, str(exc)) from None


def _finite(path: Path, images: np.ndarray) -> np.ndarray:
    """``images`` unchanged, or ``InputDataError`` naming ``path`` when any value is NaN or infinite."""
    if not np.isfinite(images).all():
        bad = int(images.size - np.isfinite(images).sum())
        raise InputDataError(
            path, f"contains NaN/Inf values ({bad} of {images.size}); cannot compute metrics"
        )
    return images


def _read_nifti(path: Path) -> np.ndarray:
    import nibabel as nib

    try:
        image = nib.load(path)
        if not isinstance(image, nib.Nifti1Image):  # Nifti2Image is a subclass
            raise TypeError(f"{type(image).__name__} is not a NIfTI image")
        data = np.abs(np.asarray(image.get_fdata(dtype=np.float64)))
    except Exception as exc:  # nibabel raises several types for broken files
        raise InputDataError(path, f"unreadable NIfTI file: {first_line(exc)}") from None
    if data.ndim == 2:
        return _finite(path, data.T[None, None])
    if data.ndim == 3:
        return _finite(path, data.transpose(2, 1, 0)[:, None])
    if data.ndim == 4:
        return _finite(path, data.transpose(2, 3, 1, 0))
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


def evaluate_file(
    path: Path, reference: np.ndarray, request: EvaluateRequest, view: View | None = None
) -> FileEvaluation:
    """Metrics of one reconstruction file against the (already cropped) reference magnitudes.

    Args:
        path: The reconstruction.
        reference: (slices, frames, ny, nx) float64 reference magnitudes, cropped as ``request`` says.
        request: Normalisation, crop and figure settings.
        view: What the figures show; figures are drawn only when ``request.html`` and a view are given.

    Raises:
        InputDataError: unreadable file or shape not matching the reference.
    """
    from recon_cli.reports.provenance import read_provenance

    recon = center_crop(read_magnitudes(path), request.crop, path)
    if recon.shape != reference.shape:
        raise InputDataError(
            path,
            f"image shape {recon.shape} does not match reference {reference.shape} ({request.reference})",
        )
    scale = intensity_scale(recon, reference, request.normalize)
    recon = recon * scale
    data_range = float(reference.max())
    result = FileEvaluation(
        source=path,
        ok=True,
        shape=tuple(recon.shape),
        scale=scale,
        data_range=data_range,
        volume=compute_metrics(recon, reference, data_range=data_range),
        slices=compute_metrics(recon, reference, per="slice", data_range=data_range),
        frames=compute_metrics(recon, reference, per="frame", data_range=data_range),
        run=read_provenance(path),
    )
    if request.html and view is not None:
        from recon_cli.reports.figures import file_figures

        result.figures = file_figures(
            recon, reference, view, data_range=data_range, error_fraction=request.error_scale
        )
    return result


def evaluate_files(
    recons: list[Path],
    request: EvaluateRequest,
    *,
    on_done: Callable[[FileEvaluation], None] | None = None,
) -> EvaluationReport:
    """Evaluate every file (a bad one is recorded and skipped) and write the report files.

    Writes ``metrics.json``, ``metrics.csv`` and, with ``request.html``, ``index.html`` into
    ``request.out_dir``; without it, ``overwrite`` removes an ``index.html`` left by an earlier report.

    Raises:
        UsageError: unknown normalisation or profile, bad error scale, or no matplotlib for the HTML page.
        OutputExistsError: a report file exists and ``request.overwrite`` is False (checked first).
        InputDataError: the reference cannot be read or cropped.
    """
    _check_request(request)
    names = [*REPORT_FILES, HTML_FILE] if request.html else list(REPORT_FILES)
    targets = [Path(request.out_dir) / name for name in names]
    refuse_inputs(targets, [*recons, request.reference])
    for target in targets:
        check_writable(target, request.overwrite)
    guesses: list[str] = []
    full = read_magnitudes(request.reference, reference=True, guesses=guesses)
    reference = center_crop(full, request.crop, request.reference)
    view = choose_view(reference, request.profile)
    results = []
    for path in recons:
        try:
            result = evaluate_file(Path(path), reference, request, view)
        except ReconError as exc:
            result = FileEvaluation(source=Path(path), ok=False, error=str(exc))
        results.append(result)
        if on_done is not None:
            on_done(result)
    report = EvaluationReport(
        request,
        tuple(reference.shape),
        results,
        targets,
        tuple(full.shape),
        float(reference.max()),
        tuple(guesses),
    )
    document = report_json(report)
    _write_text(targets[0], json.dumps(document, indent=2, allow_nan=False) + "\n", request.overwrite)
    _write_text(targets[1], report_csv(report), request.overwrite)
    if request.html:
        _write_text(targets[2], _html_page(report, document, view), request.overwrite)
    elif request.overwrite:  # the replaced report's page would contradict the new numbers
        (Path(request.out_dir) / HTML_FILE).unlink(missing_ok=True)
    return report


def _check_request(request: EvaluateRequest) -> None:
    if request.normalize not in NORMALIZATIONS:
        raise UsageError(
            f"--normalize: unknown method '{request.normalize}'; choose from {', '.join(NORMALIZATIONS)}"
        )
    if request.profile not in PROFILE_CHOICES:
        raise UsageError(
            f"--profile: unknown line '{request.profile}'; choose from {', '.join(PROFILE_CHOICES)}"
        )
    if not request.error_scale > 0:
        raise UsageError(f"--error-scale must be positive; got {request.error_scale}")
    if request.html:
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            raise UsageError("the HTML report needs matplotlib (pip install matplotlib); or pass --no-html")


def _html_page(report: EvaluationReport, document: dict[str, Any], view: View) -> str:
    from recon_cli.reports.figures import distribution_figure, frame_curve_figure
    from recon_cli.reports.html import render_page

    ok = [r for r in report.results if r.ok]
    labels = [str(r.source) for r in ok]
    per_image = [entry["frames"] for entry in document["files"] if entry["ok"]]
    summary = [distribution_figure(labels, per_image)] if ok else []
    if ok and report.reference_shape[1] > 1:
        summary.append(frame_curve_figure(labels, per_image, view.slice))
    return render_page(document, [r.figures for r in report.results], summary)


def _write_text(path: Path, text: str, overwrite: bool) -> None:
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")

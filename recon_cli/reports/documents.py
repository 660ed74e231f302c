"""The machine-readable report: ``metrics.json`` (everything) and ``metrics.csv`` (one row per level).

The JSON document says enough to recompute every number: the reference and its shape before and after
cropping, the crop rule, the normalisation and each file's scale, the data range, each metric's
definition and formula, package versions, and where known the model, config and seeds that made each
reconstruction (from its run record).

Non-finite metrics: JSON has no number for them, so an infinite value (the PSNR of identical images) is
written as the string ``"inf"`` (``"-inf"`` below zero), which ``float()`` in Python and ``Number()`` in
JavaScript read back as infinity; a NaN (undefined, e.g. NMSE against an all-zero reference) is
``null``. Everything else stays a JSON number. ``metrics.csv`` writes ``inf``, ``-inf`` and ``nan``.
"""

from __future__ import annotations

import csv
import io
import math
import platform
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from recon_cli.metrics import HIGHER_IS_BETTER, METRIC_DEFINITIONS, METRIC_FORMULAS, METRIC_NAMES

if TYPE_CHECKING:
    from recon_cli.evaluate_request import EvaluationReport, FileEvaluation

NORMALIZE_TEXT = {
    "none": "recon compared as stored (scale 1)",
    "max": "recon multiplied by max(ref) / max(recon)",
    "lstsq": "recon multiplied by the least-squares scale <recon, ref> / <recon, recon>",
}
CROP_TEXT = (
    "centre crop of the last two axes of both recon and reference to (height, width), before "
    "normalisation and metrics: rows (ny - height) // 2 onwards, columns (nx - width) // 2 onwards "
    "(fastMRI's center_crop); null: no crop"
)
_VERSIONED = ("numpy", "scipy", "scikit-image", "h5py", "nibabel", "matplotlib")


def report_json(report: EvaluationReport) -> dict[str, Any]:
    """The JSON document: settings, definitions, versions and every file's metrics (see ``json_safe``)."""
    req = report.request
    return json_safe(
        {
            "reference": str(req.reference),
            "reference_guesses": list(report.reference_guesses),
            "reference_shape": list(report.reference_shape),
            "reference_shape_uncropped": list(report.reference_full_shape),
            "crop": list(req.crop) if req.crop else None,
            "crop_definition": CROP_TEXT,
            "data_range": report.data_range,
            "normalize": req.normalize,
            "normalize_definition": NORMALIZE_TEXT[req.normalize],
            "comparison": "magnitude images, (slices, frames, ny, nx)",
            "definitions": METRIC_DEFINITIONS,
            "formulas": METRIC_FORMULAS,
            "higher_is_better": HIGHER_IS_BETTER,
            "figures": _figure_settings(report) if req.html else None,
            "versions": versions(),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": [_file_entry(r) for r in report.results],
        }
    )


def _file_entry(result: FileEvaluation) -> dict[str, Any]:
    entry: dict[str, Any] = {"file": str(result.source), "ok": result.ok}
    if not result.ok:
        entry["error"] = result.error
        return entry
    entry.update(
        shape=list(result.shape or ()),
        scale=result.scale,
        data_range=result.data_range,
        run=result.run,
        volume=result.volume,
        slices=result.slices,
        frames=result.frames,
    )
    return entry


def _figure_settings(report: EvaluationReport) -> dict[str, Any]:
    from recon_cli.reports.figures import ERROR_CMAP, WINDOW_PERCENTILE

    req = report.request
    return {
        "grey_window": f"0 to the reference's {WINDOW_PERCENTILE:g}th percentile over the volume",
        "error_map": f"|recon - ref| in '{ERROR_CMAP}' from 0 to error_scale x data_range",
        "error_scale": req.error_scale,
        "profile": req.profile,
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


def json_safe(value: Any) -> Any:
    """JSON-safe copy: infinite floats become the strings "inf" / "-inf", NaN becomes None."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def versions() -> dict[str, str]:
    """Versions of recon, Python and the packages that compute or draw the report."""
    from importlib.metadata import PackageNotFoundError, version

    from recon_cli import __version__

    found = {"recon": __version__, "python": platform.python_version()}
    for package in _VERSIONED:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found

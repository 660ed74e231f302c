"""The report's figures, drawn with matplotlib (object API, Agg, no pyplot state) and kept as PNG bytes.

Display conventions, stated again in every caption:

* Magnitudes in grey from 0 (black) to the reference's 99.5th percentile over the whole volume (white;
  brighter pixels clip), the same window for the reconstruction and the reference, as in the PNG previews.
  Images are drawn as stored: row 0 at the top.
* Error maps ``|recon - ref|`` (after the report's normalisation) in the "inferno" colour map from 0 to
  ``error_fraction`` x the data range, with a colour bar in the reference's units; larger errors clip.
  The scale depends only on the reference, so error maps of different reconstructions compare.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from recon_cli.reports.tables import METRIC_LABELS
from recon_cli.reports.views import View, xt_profile

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WINDOW_PERCENTILE = 99.5
ERROR_CMAP = "inferno"
DPI = 100
_CURVE_METRICS = ("ssim", "psnr", "nrmse")


@dataclass(frozen=True)
class RenderedFigure:
    """One figure as PNG bytes, with its size in pixels, alt text and caption (plain text)."""

    kind: str
    png: bytes
    width: int
    height: int
    alt: str
    caption: str


def white_level(reference: np.ndarray) -> float:
    """The grey window's white: the reference's 99.5th percentile (its maximum if that is 0; else 1)."""
    level = float(np.percentile(reference, WINDOW_PERCENTILE)) if reference.size else 0.0
    if level <= 0:
        level = float(reference.max()) if reference.size else 0.0
    return level if level > 0 else 1.0


def file_figures(
    recon: np.ndarray, reference: np.ndarray, view: View, *, data_range: float, error_fraction: float
) -> list[RenderedFigure]:
    """The images (recon, reference, error map) and, for cine, the temporal profile of one reconstruction.

    Args:
        recon: (slices, frames, ny, nx) float64 magnitudes after normalisation.
        reference: Reference magnitudes of the same shape.
        view: The slice, frame and profile point to show.
        data_range: The metrics' data range L (sets the error scale).
        error_fraction: Error maps span 0 to ``error_fraction * data_range``.
    """
    white = white_level(reference)
    error_max = error_fraction * data_range if data_range > 0 else 1.0
    cine = reference.shape[1] > 1
    where = f"slice {view.slice}" + (f", frame {view.frame}" if cine else "")
    scales = (
        f"Grey: 0 to {white:.4g} (the reference's {WINDOW_PERCENTILE:g}th percentile), same for both. "
        f"Error |recon - ref|: 0 to {error_max:.4g} = {error_fraction:g} x the data range "
        f"L = {data_range:.4g}; larger errors clip."
    )
    rec2, ref2 = recon[view.slice, view.frame], reference[view.slice, view.frame]
    line = f" Dashed line: the temporal profile's row, {view.description}." if cine else ""
    figures = [
        _render(
            _image_panels(rec2, ref2, white, error_max, view.point if cine else None),
            "images",
            f"reconstruction, reference and error map, {where}",
            f"Reconstruction, reference and error map, {where}. {scales}{line}",
        )
    ]
    if cine:
        rows = [xt_profile(volume[view.slice], view.point[0]) for volume in (recon, reference)]
        figures.append(
            _render(
                _profile_panels(rows[0], rows[1], white, error_max),
                "profile",
                f"x-t temporal profile along row {view.point[0]}, slice {view.slice}",
                f"Temporal profile (x-t) of slice {view.slice} along row y = {view.point[0]}, "
                f"{view.description}; time runs across, x down. {scales}",
            )
        )
    return figures


def distribution_figure(
    labels: Sequence[str], per_image: Sequence[Sequence[dict[str, Any]]]
) -> RenderedFigure:
    """Box plots with every image's value on top (strip plot), one panel per metric.

    Args:
        labels: Reconstruction names; they appear as "#1", "#2", ... in the order given.
        per_image: For each reconstruction, its per-(slice, frame) metric rows.
    """
    from matplotlib.figure import Figure

    from recon_cli.metrics import METRIC_NAMES

    fig = Figure(figsize=(2.3 * len(METRIC_NAMES), 3.0), layout="constrained", dpi=DPI)
    axes = fig.subplots(1, len(METRIC_NAMES))
    ticks = [f"#{i + 1}" for i in range(len(labels))]
    for ax, name in zip(axes, METRIC_NAMES, strict=True):
        _distribution_panel(ax, [_metric_values(rows, name) for rows in per_image])
        ax.set_xticks(range(1, len(labels) + 1), ticks)
        ax.set_xlim(0.4, len(labels) + 0.6)
        ax.set_title(METRIC_LABELS[name], fontsize=10)
        ax.tick_params(labelsize=8)
    n_images = max((len(rows) for rows in per_image), default=0)
    return _render(
        fig,
        "distribution",
        "metric distributions over images",
        f"Each metric over the {n_images} 2-D images (slice x frame) of every reconstruction: box from the "
        "first to the third quartile with the median line, whiskers to the furthest value within 1.5 "
        "box lengths, and every image as a dot. Numbers # as in the table; infinite values (the PSNR of "
        "identical images) cannot be drawn: they are counted in an 'inf' label above their column.",
    )


def frame_curve_figure(
    labels: Sequence[str], per_image: Sequence[Sequence[dict[str, Any]]], slice_index: int
) -> RenderedFigure:
    """SSIM, PSNR and NRMSE of each frame of one slice, one line per reconstruction (cine only)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(11.5, 2.9), layout="constrained", dpi=DPI)
    axes = fig.subplots(1, len(_CURVE_METRICS))
    for ax, name in zip(axes, _CURVE_METRICS, strict=True):
        for index, rows in enumerate(per_image):
            picked = [r for r in rows if r.get("slice") == slice_index]
            frames = [r["frame"] for r in picked]
            values = _metric_values(picked, name)
            values[~np.isfinite(values)] = np.nan
            ax.plot(frames, values, marker=".", label=f"#{index + 1}")
        ax.set_title(METRIC_LABELS[name], fontsize=10)
        ax.set_xlabel("frame", fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=8)
    axes[0].legend(fontsize=8)
    return _render(
        fig,
        "frames",
        f"metrics per frame, slice {slice_index}",
        f"SSIM, PSNR and NRMSE of every frame of slice {slice_index}; numbers # as in the table; "
        "infinite values (identical images) leave a gap.",
    )


def _image_panels(
    recon: np.ndarray, reference: np.ndarray, white: float, error_max: float, point: tuple[int, int] | None
) -> Figure:
    from matplotlib.figure import Figure

    ny, nx = reference.shape
    fig = Figure(figsize=(11.0, 3.3 * ny / nx + 0.5), layout="constrained", dpi=DPI)
    axes = fig.subplots(1, 3)
    _show(axes[0], recon, "gray", white, "reconstruction")
    _show(axes[1], reference, "gray", white, "reference")
    error = _show(axes[2], np.abs(recon - reference), ERROR_CMAP, error_max, "|recon - ref|")
    fig.colorbar(error, ax=axes[2], shrink=0.9).ax.tick_params(labelsize=8)
    if point is not None:
        for ax in axes[:2]:
            ax.axhline(point[0], color="cyan", lw=0.8, ls="--")
            ax.plot([point[1]], [point[0]], "+", color="cyan", ms=8)
    return fig


def _profile_panels(recon_xt: np.ndarray, reference_xt: np.ndarray, white: float, error_max: float) -> Figure:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(11.0, 3.0), layout="constrained", dpi=DPI)
    axes = fig.subplots(1, 3)
    _show(axes[0], recon_xt, "gray", white, "reconstruction (x-t)", aspect="auto")
    _show(axes[1], reference_xt, "gray", white, "reference (x-t)", aspect="auto")
    error = _show(
        axes[2], np.abs(recon_xt - reference_xt), ERROR_CMAP, error_max, "|recon - ref| (x-t)", aspect="auto"
    )
    fig.colorbar(error, ax=axes[2], shrink=0.9).ax.tick_params(labelsize=8)
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("frame", fontsize=8)
        ax.set_ylabel("x (px)", fontsize=8)
        ax.tick_params(labelsize=7)
    return fig


def _show(
    ax: Axes,
    image: np.ndarray,
    cmap: str,
    vmax: float,
    title: str,
    aspect: Literal["equal", "auto"] = "equal",
) -> Any:
    handle = ax.imshow(image, cmap=cmap, vmin=0.0, vmax=vmax, interpolation="nearest", aspect=aspect)
    ax.set_title(title, fontsize=10)
    if aspect == "equal":
        ax.set_axis_off()
    return handle


def _metric_values(rows: Sequence[dict[str, Any]], name: str) -> np.ndarray:
    """(rows,) float64 values of metric ``name``: None is NaN, JSON's "inf" strings are infinities."""
    return np.array([np.nan if r.get(name) is None else float(r[name]) for r in rows], dtype=np.float64)


def _distribution_panel(ax: Axes, data: Sequence[np.ndarray]) -> None:
    """One metric's box and strip plot per reconstruction; infinite values counted in an "inf" label."""
    finite = [values[np.isfinite(values)] for values in data]
    positions = [i + 1 for i, values in enumerate(finite) if values.size]
    if positions:
        ax.boxplot([v for v in finite if v.size], positions=positions, widths=0.5, showfliers=False)
    for pos, values in zip(positions, [v for v in finite if v.size], strict=True):
        offsets = np.linspace(-0.18, 0.18, values.size) if values.size > 1 else np.zeros(1)
        ax.plot(pos + offsets, values, "o", ms=3, alpha=0.6, color="tab:blue")
    if not positions:
        ax.set_yticks([])  # nothing finite to put on a scale
    height, align = (0.97, "top") if positions else (0.5, "center")
    for pos, values in enumerate(data, start=1):
        n_inf = int(np.isinf(values).sum())
        if n_inf:
            sign = "" if values[np.isinf(values)][0] > 0 else "-"
            label = f"{sign}inf" + (f" x{n_inf}" if n_inf > 1 else "")
            ax.text(pos, height, label, transform=ax.get_xaxis_transform(), ha="center", va=align, fontsize=8)


def _render(fig: Figure, kind: str, alt: str, caption: str) -> RenderedFigure:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    png = buffer.getvalue()
    width, height = _png_size(png)
    return RenderedFigure(kind, png, width, height, alt, caption)


def _png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the PNG header (IHDR)."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")

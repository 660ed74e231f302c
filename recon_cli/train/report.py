"""What a finished (or stopped) run leaves for people: ``curve.png`` and ``MODEL_CARD.md``.

The curve shows the training loss on a log axis (left) and the validation NRMSE (right) against the
optimiser step, drawn with matplotlib when it is installed and with Pillow (always there) otherwise.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from recon_cli.train.runlog import read_log

CURVE_NAME, CARD_NAME = "curve.png", "MODEL_CARD.md"
_PANEL_W, _PANEL_H, _MARGIN = 420, 300, 48


def write_curve(run_dir: Path) -> Path:
    """Draw ``curve.png`` from ``log.jsonl`` (matplotlib when installed, else Pillow). Returns its path."""
    rows = read_log(Path(run_dir) / "log.jsonl")
    train = [(r["step"], r["loss"]) for r in rows if r.get("kind") == "train" and _finite(r.get("loss"))]
    val = [(r["step"], r["nrmse"]) for r in rows if r.get("kind") == "val" and _finite(r.get("nrmse"))]
    path = Path(run_dir) / CURVE_NAME
    try:
        _matplotlib_curve(path, train, val)
    except ImportError:
        _pillow_curve(path, train, val)
    return path


def _matplotlib_curve(path: Path, train: list[tuple[float, float]], val: list[tuple[float, float]]) -> None:
    from matplotlib.figure import Figure  # the object API: no pyplot, no global backend switch

    fig = Figure(figsize=(8.4, 3.2), dpi=100)
    loss_ax, val_ax = fig.subplots(1, 2)
    if train:
        loss_ax.semilogy(*zip(*train, strict=True), color="tab:blue")
    if val:
        val_ax.plot(*zip(*val, strict=True), color="tab:red", marker="o", markersize=3)
    for ax, title in ((loss_ax, "training loss"), (val_ax, "validation NRMSE")):
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png")


def _pillow_curve(path: Path, train: list[tuple[float, float]], val: list[tuple[float, float]]) -> None:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (2 * _PANEL_W, _PANEL_H), "white")
    draw = ImageDraw.Draw(image)
    _panel(draw, 0, train, "training loss (log scale)", log=True, colour=(31, 119, 180))
    _panel(draw, _PANEL_W, val, "validation NRMSE", log=False, colour=(214, 39, 40))
    image.save(path, format="PNG")


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _panel(
    draw: Any,
    left: int,
    points: Sequence[tuple[float, float]],
    title: str,
    *,
    log: bool,
    colour: tuple[int, int, int],
) -> None:
    """One plot in the box starting at x = ``left``: frame, title, axis limits, and the line."""
    x0, y0, x1, y1 = left + _MARGIN + 10, 28, left + _PANEL_W - 14, _PANEL_H - _MARGIN
    draw.rectangle((x0, y0, x1, y1), outline=(0, 0, 0))
    draw.text((x0, 8), title, fill=(0, 0, 0))
    if log:
        points = [(x, y) for x, y in points if y > 0]
    if not points:
        draw.text((x0 + 10, (y0 + y1) // 2), "no data", fill=(120, 120, 120))
        return
    xs = [p[0] for p in points]
    ys = [math.log10(p[1]) if log else p[1] for p in points]
    xmin, xmax = _limits(xs)
    ymin, ymax = _limits(ys)

    def to_px(x: float, y: float) -> tuple[float, float]:
        return (x0 + (x - xmin) / (xmax - xmin) * (x1 - x0), y1 - (y - ymin) / (ymax - ymin) * (y1 - y0))

    pixels = [to_px(x, y) for x, y in zip(xs, ys, strict=True)]
    if len(pixels) > 1:
        draw.line(pixels, fill=colour, width=2)
    for px, py in pixels if len(pixels) <= 60 else pixels[-1:]:
        draw.ellipse((px - 2, py - 2, px + 2, py + 2), fill=colour)
    label = (lambda v: f"{10**v:.3g}") if log else (lambda v: f"{v:.3g}")
    draw.text((left + 4, y0 - 4), label(ymax), fill=(0, 0, 0))
    draw.text((left + 4, y1 - 8), label(ymin), fill=(0, 0, 0))
    draw.text((x0, y1 + 6), f"{xmin:g}", fill=(0, 0, 0))
    draw.text((x1 - 40, y1 + 6), f"{xmax:g}", fill=(0, 0, 0))
    draw.text(((x0 + x1) // 2 - 12, y1 + 22), "step", fill=(0, 0, 0))


def _limits(values: Sequence[float]) -> tuple[float, float]:
    """(min, max) of ``values``, widened when they are all equal so the axis has a length."""
    low, high = min(values), max(values)
    if high <= low:
        pad = max(abs(low) * 0.05, 1e-12)
        low, high = low - pad, high + pad
    return low, high


def write_model_card(run_dir: Path, record: dict[str, Any]) -> Path:
    """Write ``MODEL_CARD.md`` from the run record (config, data summaries, metrics, versions)."""
    rows = read_log(Path(run_dir) / "log.jsonl")
    vals = [r for r in rows if r.get("kind") == "val"]
    best = min(vals, key=lambda r: r.get("nrmse") or math.inf) if vals else None
    lines = [
        f"# Model card: `{record['model']}` trained with `recon train`",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M:%S %z')}",
        f"- Command: `{record.get('command') or '(library call)'}`",
        f"- Steps: {record.get('step')} of {record['train']['steps']}"
        + (" (stopped early; resume with `--resume`)" if record.get("interrupted") else ""),
        f"- Processes: {record.get('world_size', 1)} on {record.get('device')}",
        f"- Use: `{record.get('usage')}` (loads best.pt, else last.pt)",
        "",
        "## Data",
        "",
        f"- Training: `{record['data_spec']}`",
        *_bullets(record.get("data_summary", {})),
        f"- Validation: `{record.get('val_spec') or 'none'}`",
        *_bullets(record.get("val_summary") or {}),
        "",
        "## Metrics (validation, mean over examples, magnitude images cropped to the recon matrix)",
        "",
        *_metric_table(vals[:1], best, vals[-1:]),
        "",
        "## Configuration",
        "",
        "```json",
        json.dumps({k: record[k] for k in ("model_config", "train", "data")}, indent=2),
        "```",
        "",
        "## Versions",
        "",
        *[f"- {k}: {v}" for k, v in record.get("versions", {}).items()],
        "",
        "Files: `best.pt` / `last.pt` (checkpoints), `config.json`, `log.jsonl`, `curve.png`.",
    ]
    path = Path(run_dir) / CARD_NAME
    path.write_text("\n".join(lines) + "\n")
    return path


def _bullets(summary: dict[str, Any]) -> list[str]:
    return [f"  - {k}: {v}" for k, v in summary.items()]


def _metric_table(
    first: list[dict[str, Any]], best: dict[str, Any] | None, last: list[dict[str, Any]]
) -> list[str]:
    if best is None:
        return ["No validation data was given."]
    lines = ["| | step | NRMSE | SSIM | PSNR (dB) |", "|---|---|---|---|---|"]
    for name, row in (("first", first[0]), ("best", best), ("last", last[0])):
        values = [_fmt(row.get(k)) for k in ("nrmse", "ssim", "psnr")]
        lines.append(f"| {name} | {row['step']} | " + " | ".join(values) + " |")
    return lines


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else "n/a"

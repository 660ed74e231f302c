"""Number formats, the best reconstruction per metric, and the report's HTML tables.

Every metric cell carries its exact value in ``data-value`` as ``metrics.json`` writes it (``inf`` or
``-inf`` for an infinite value such as the PSNR of identical images, ``null`` for NaN), so the page can
be checked against ``metrics.json`` digit for digit while the visible text is rounded; the visible text
of an infinite value is ``inf``. Values may be floats or the JSON document's "inf"/"-inf" strings.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from html import escape
from pathlib import PurePath
from typing import Any

from recon_cli.metrics import HIGHER_IS_BETTER, METRIC_NAMES

METRIC_LABELS = {"ssim": "SSIM", "psnr": "PSNR (dB)", "nmse": "NMSE", "nrmse": "NRMSE", "hfen": "HFEN"}
_FORMATS = {"ssim": "{:.4f}", "psnr": "{:.2f}", "nmse": "{:.3e}", "nrmse": "{:.4f}", "hfen": "{:.4f}"}


def metric_value(value: float | str | None) -> float | None:
    """A metric as a float: JSON's "inf"/"-inf" strings become infinities; None and NaN stay None."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def format_metric(name: str, value: float | str | None) -> str:
    """Rounded text of a metric: SSIM/NRMSE/HFEN 4 decimals, PSNR 2, NMSE 3 significant digits; inf."""
    number = metric_value(value)
    if number is None:
        return "n/a"
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    return _FORMATS.get(name, "{:.6g}").format(number)


def json_number(value: float | str | None) -> str:
    """A number as ``metrics.json`` writes it: ``null`` for None and NaN, ``inf``/``-inf`` for infinities."""
    number = metric_value(value)
    if number is None:
        return "null"
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    return json.dumps(number)


def best_per_metric(volumes: Sequence[dict[str, Any]]) -> dict[str, set[int]]:
    """Indices of the best value of each metric (all of them on a tie; NaN never wins).

    Args:
        volumes: One ``{metric: value}`` per reconstruction.

    Returns:
        ``{metric: {index, ...}}``; empty sets where no value is usable.
    """
    best: dict[str, set[int]] = {}
    for name in METRIC_NAMES:
        values = [(i, metric_value(v.get(name))) for i, v in enumerate(volumes)]
        usable = [(i, v) for i, v in values if v is not None]
        if not usable:
            best[name] = set()
            continue
        pick = max if HIGHER_IS_BETTER[name] else min
        target = pick(v for _, v in usable)
        best[name] = {i for i, v in usable if v == target}
    return best


def comparison_table(
    files: Sequence[str],
    volumes: Sequence[dict[str, Any]],
    notes: Sequence[str],
    labels: Sequence[str] | None = None,
) -> str:
    """The side-by-side table: one row per reconstruction, the best value of each metric highlighted.

    Args:
        files: Reconstruction paths (each row's ``data-file`` and tooltip).
        volumes: Their volume metrics.
        notes: One short text per row for the last column (e.g. model and scale).
        labels: Names shown in the table (default: ``files``).

    Returns:
        An HTML ``<table>``; best cells have class ``best`` only when two or more rows compete.
    """
    best = best_per_metric(volumes) if len(volumes) > 1 else {name: set() for name in METRIC_NAMES}
    arrows = {name: "↑" if HIGHER_IS_BETTER[name] else "↓" for name in METRIC_NAMES}
    head = "".join(f"<th>{METRIC_LABELS[n]} {arrows[n]}</th>" for n in METRIC_NAMES)
    rows = []
    shown = files if labels is None else labels
    for index, (file, label, volume, note) in enumerate(zip(files, shown, volumes, notes, strict=True)):
        cells = []
        for name in METRIC_NAMES:
            value = volume.get(name)
            mark = ' class="best"' if index in best[name] else ""
            cells.append(
                f'<td{mark} data-metric="{name}" data-value="{json_number(value)}">'
                f"{format_metric(name, value)}</td>"
            )
        rows.append(
            f'<tr data-file="{escape(file)}"><td>{index + 1}</td>'
            f'<td class="file" title="{escape(file)}">{escape(label)}</td>'
            f'{"".join(cells)}<td class="note">{escape(note)}</td></tr>'
        )
    return (
        '<table class="metrics" id="comparison"><thead><tr><th>#</th><th>reconstruction</th>'
        f"{head}<th>notes</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def key_value_table(rows: Sequence[tuple[str, str]], css_class: str = "settings") -> str:
    """A two-column table of already-plain text (escaped here)."""
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="{css_class}"><tbody>{body}</tbody></table>'


def definitions_table(definitions: dict[str, str], formulas: dict[str, str]) -> str:
    """Each metric's formula and its definition in words."""
    rows = []
    for name, text in definitions.items():
        label = METRIC_LABELS.get(name, name.replace("_", " "))
        formula = formulas.get(name, "")
        rows.append(
            f'<tr id="def-{escape(name)}"><th>{escape(label)}</th><td><code>{escape(formula)}</code>'
            f"<br>{escape(text)}</td></tr>"
        )
    return f'<table class="definitions"><tbody>{"".join(rows)}</tbody></table>'


def short_labels(files: Sequence[str]) -> list[str]:
    """Paths relative to their common folder: ``a/zf/x.h5``, ``a/net/x.h5`` -> ``zf/x.h5``, ``net/x.h5``."""
    if not files:
        return []
    parents = [str(PurePath(f).parent) for f in files]
    try:
        common = PurePath(os.path.commonpath(parents))
    except ValueError:  # absolute and relative paths mixed
        return list(files)
    return [str(PurePath(f).relative_to(common)) for f in files]

"""``index.html``: the report as one self-contained page (figures as base64 PNG, inline CSS, no network).

The page is rendered from the same JSON document that is written to ``metrics.json``, so every number
on it is that file's number (rounded for display, exact in each cell's ``data-value``). A small inline
script marks ``<body>`` once the page has loaded: ``data-images`` (how many images), ``data-images-loaded``
("true" when every one decoded: ``complete`` with a ``naturalWidth``), and ``<html data-errors>`` counts
script or resource errors. Headless browsers used in tests read these attributes from the DOM.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from html import escape
from typing import Any

from recon_cli.reports.figures import RenderedFigure
from recon_cli.reports.tables import comparison_table, definitions_table, key_value_table, short_labels

_STYLE = """
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; margin: 1.5em auto;
       max-width: 1200px; color: #1a1a1a; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.6em;
       border-bottom: 1px solid #ccc; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
table.metrics td[data-metric] { text-align: right; font-variant-numeric: tabular-nums; }
td.best { background: #d9f2d9; font-weight: bold; }
td.file { word-break: break-all; max-width: 28em; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #444; max-width: 1100px; }
code, pre { font-family: "DejaVu Sans Mono", monospace; font-size: 0.85em; }
pre { background: #f6f6f6; padding: 0.5em; overflow-x: auto; }
.error { color: #a00000; } .muted { color: #666; font-size: 0.85em; }
"""

_HEAD_SCRIPT = """
window.addEventListener("error", function () {
  var root = document.documentElement;
  root.setAttribute("data-errors", String(Number(root.getAttribute("data-errors") || 0) + 1));
}, true);
"""

_LOAD_SCRIPT = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var decoded = images.filter(function (im) { return im.complete && im.naturalWidth > 0; });
  document.body.setAttribute("data-images", String(images.length));
  document.body.setAttribute("data-images-decoded", String(decoded.length));
  document.body.setAttribute("data-images-loaded", decoded.length === images.length ? "true" : "false");
});
"""


def render_page(
    document: dict[str, Any],
    file_figures: Sequence[Sequence[RenderedFigure]],
    summary_figures: Sequence[RenderedFigure],
) -> str:
    """The whole HTML page.

    Args:
        document: The ``metrics.json`` document (``recon_cli.reports.documents.report_json``).
        file_figures: For each entry of ``document["files"]``, its figures (empty for failed files).
        summary_figures: Figures over all reconstructions (metric distributions, per-frame curves).
    """
    files = document["files"]
    ok = [i for i, entry in enumerate(files) if entry["ok"]]
    labels = short_labels([files[i]["file"] for i in ok])
    title = (
        f"recon evaluate: {len(ok)} reconstruction{'s' if len(ok) != 1 else ''} vs {document['reference']}"
    )
    parts = [
        f'<h1>Reconstruction quality report</h1><p class="muted">{escape(title)}; created '
        f"{escape(str(document['created']))}</p>",
        _settings(document),
        _comparison(document, ok),
        _summary(summary_figures),
        *(
            _file_section(number, files[i], label, file_figures[i])
            for number, (i, label) in enumerate(zip(ok, labels, strict=True), start=1)
        ),
        _failures(files),
        _definitions(document),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style><script>{_HEAD_SCRIPT}</script></head>\n"
        f"<body>\n{''.join(p + chr(10) for p in parts if p)}<script>{_LOAD_SCRIPT}</script>\n</body></html>\n"
    )


def _settings(document: dict[str, Any]) -> str:
    crop = document["crop"]
    rows = [
        ("reference", str(document["reference"])),
        ("reference shape (slices, frames, ny, nx)", _shape(document["reference_shape_uncropped"])),
        (
            "crop",
            "none"
            if crop is None
            else f"{crop[0]} x {crop[1]} (centre) -> {_shape(document['reference_shape'])}",
        ),
        ("data range L (SSIM, PSNR)", _number(document["data_range"])),
        ("normalisation", f"{document['normalize']}: {document['normalize_definition']}"),
        ("compared", str(document["comparison"])),
    ]
    return f'<h2 id="settings">Settings</h2>{key_value_table(rows)}'


def _comparison(document: dict[str, Any], ok: list[int]) -> str:
    if not ok:
        return '<h2 id="comparison-title">Comparison</h2><p class="error">Nothing could be evaluated.</p>'
    entries = [document["files"][i] for i in ok]
    notes = [_note(entry) for entry in entries]
    files = [e["file"] for e in entries]
    table = comparison_table(files, [e["volume"] for e in entries], notes, short_labels(files))
    intro = "Metrics over each whole volume. ↑: higher is better, ↓: lower is better" + (
        "; the best value of each metric is highlighted." if len(ok) > 1 else "."
    )
    return f'<h2 id="comparison-title">Comparison</h2><p>{intro}</p>{table}'


def _note(entry: dict[str, Any]) -> str:
    run = entry.get("run") or {}
    parts = [f"model {run['model']}"] if run.get("model") else []
    parts.append(f"scale {_number(entry['scale'])}")
    return ", ".join(parts)


def _summary(figures: Sequence[RenderedFigure]) -> str:
    if not figures:
        return ""
    return '<h2 id="distributions">Metrics over slices and frames</h2>' + "".join(map(figure_html, figures))


def _file_section(number: int, entry: dict[str, Any], label: str, figures: Sequence[RenderedFigure]) -> str:
    """One reconstruction: its settings, provenance and figures; ``number`` as in the table (from 1)."""
    rows = [
        ("file", str(entry["file"])),
        ("shape (slices, frames, ny, nx)", _shape(entry["shape"])),
        ("intensity scale applied", _number(entry["scale"])),
        ("data range L", _number(entry["data_range"])),
    ]
    return (
        f'<section class="reconstruction" id="file-{number}"><h2>#{number} {escape(label)}'
        f"</h2>{key_value_table(rows)}{_provenance(entry.get('run'))}"
        f"{''.join(map(figure_html, figures))}</section>"
    )


def _provenance(run: dict[str, Any] | None) -> str:
    if not run:
        return '<p class="muted">No run record (<code>{stem}.run.json</code>) beside this file.</p>'
    if run.get("error"):
        record = escape(str(run.get("record")))
        return f'<p class="error">Run record {record}: {escape(str(run["error"]))}</p>'
    rows = [("source", f"{run.get('source')}: {run.get('record') or 'image file'}")]
    rows += [(key, str(run[key])) for key in ("model", "weights", "input", "device", "date") if run.get(key)]
    seeds = run.get("seeds") or {}
    rows.append(("seeds", ", ".join(f"{k} = {v}" for k, v in seeds.items()) or "none recorded"))
    details = ""
    for key in ("config", "versions"):
        if run.get(key) is not None:
            text = json.dumps(run[key], indent=2, sort_keys=True)
            details += f"<details><summary>{key}</summary><pre>{escape(text)}</pre></details>"
    return f"<h3>How it was made</h3>{key_value_table(rows)}{details}"


def _failures(files: list[dict[str, Any]]) -> str:
    failed = [entry for entry in files if not entry["ok"]]
    if not failed:
        return ""
    items = "".join(f"<li>{escape(str(e['file']))}: {escape(str(e['error']))}</li>" for e in failed)
    return f'<h2 id="failed">Not evaluated</h2><ul class="error">{items}</ul>'


def _definitions(document: dict[str, Any]) -> str:
    figures = document.get("figures") or {}
    rows = [
        ("normalisation", str(document["normalize_definition"])),
        ("crop", str(document["crop_definition"])),
    ]
    rows += [(f"figures: {k.replace('_', ' ')}", str(v)) for k, v in figures.items()]
    version_rows = [(name, str(value)) for name, value in document["versions"].items()]
    return (
        '<h2 id="definitions">How the numbers are computed</h2>'
        "<p>Per volume, per slice (its frames together) and per 2-D image (slice, frame); "
        "L is the data range. Values per level are in <code>metrics.json</code> and "
        "<code>metrics.csv</code>.</p>"
        f"{definitions_table(document['definitions'], document['formulas'])}{key_value_table(rows)}"
        f"<h3>Versions</h3>{key_value_table(version_rows, 'versions')}"
    )


def figure_html(figure: RenderedFigure) -> str:
    """A ``<figure>`` with the PNG embedded as a base64 data URL and its caption."""
    data = base64.b64encode(figure.png).decode("ascii")
    return (
        f'<figure class="{escape(figure.kind)}"><img src="data:image/png;base64,{data}" '
        f'width="{figure.width}" height="{figure.height}" alt="{escape(figure.alt)}">'
        f"<figcaption>{escape(figure.caption)}</figcaption></figure>"
    )


def _shape(shape: Sequence[int]) -> str:
    return " x ".join(str(n) for n in shape)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.6g}"

"""The evaluate report: views, tables, run records, the HTML page end to end and in headless Chromium.

The Chromium test writes its screenshot to the path in ``RECON_REPORT_SCREENSHOT`` when that is set;
``docs/report_example.png`` is made that way:

    RECON_REPORT_SCREENSHOT=docs/report_example.png python3 -m pytest -q tests/test_reports.py -k chromium
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from recon_cli.cli.main import app
from recon_cli.metrics import METRIC_NAMES
from recon_cli.reports.provenance import find_seeds, read_provenance, run_record_path
from recon_cli.reports.tables import best_per_metric, format_metric, short_labels
from recon_cli.reports.views import choose_view, motion_pixel, xt_profile
from tests.helpers import require_tool

runner = CliRunner()
SCREEN = (1280, 2000)


class _Page(HTMLParser):
    """What the tests look at in the report: metric cells, table rows, images, scripts, links."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str]] = []
        self.rows: list[str] = []
        self.images: list[dict[str, str]] = []
        self.figures: list[str] = []
        self.external: list[str] = []
        self.captions: list[str] = []
        self.labels: list[str] = []
        self._row: str | None = None
        self._in_caption = False
        self._in_label = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "tr" and "data-file" in a:
            self._row = a["data-file"]
            self.rows.append(self._row)
        elif tag == "td" and a.get("class") == "file":
            self.labels.append("")
            self._in_label = True
        elif tag == "td" and "data-metric" in a:
            self.cells.append({"file": self._row or "", **a})
        elif tag == "img":
            self.images.append(a)
        elif tag == "figure":
            self.figures.append(a.get("class", ""))
        elif tag == "figcaption":
            self._in_caption = True
            self.captions.append("")
        if tag == "link" or (tag == "script" and "src" in a) or re.match(r"https?:", a.get("href", "")):
            self.external.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self._in_caption = self._in_caption and tag != "figcaption"
        self._in_label = self._in_label and tag != "td"

    def handle_data(self, data: str) -> None:
        if self._in_caption:
            self.captions[-1] += data
        if self._in_label:
            self.labels[-1] += data


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def _write_images(path: Path, images: np.ndarray) -> Path:
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=images.astype(np.complex64))
    return path


@pytest.fixture(scope="module")
def cine_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two reconstructions of a seeded cardiac cine phantom scored by the CLI: noisy, and smoothed."""
    from scipy.ndimage import gaussian_filter

    from recon_cli.phantoms import cardiac_cine_phantom

    root = tmp_path_factory.mktemp("cine_report")
    reference = np.abs(cardiac_cine_phantom(96, 16, generator=3).numpy())[None]  # (1, 16, 96, 96)
    rng = np.random.default_rng(5)
    noise = rng.standard_normal((2, *reference.shape))
    noisy = np.abs(reference + 0.03 * (noise[0] + 1j * noise[1]))
    smoothed = gaussian_filter(noisy, (0, 0, 0.7, 0.7))  # less noise, blurred edges: SSIM up, HFEN down
    with h5py.File(root / "ref.h5", "w") as f:
        f.create_dataset("reference", data=reference.astype(np.float32))
    recons = [_write_images(root / "noisy.h5", noisy), _write_images(root / "smoothed.h5", smoothed)]
    record = {"model": "gaussian-smoothing", "config": {"sigma_px": 0.7, "noise": {"seed": 11}}}
    (root / "smoothed.run.json").write_text(json.dumps(record))
    out = root / "report"
    args = ["evaluate", *map(str, recons), "-r", str(root / "ref.h5"), "-o", str(out), "--profile", "motion"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return {"out": out, "recons": recons, "reference": reference}


# ---------------------------------------------------------------- views, tables, run records


def test_motion_pixel_lands_on_the_moving_object() -> None:
    frames, n = 12, 64
    y, x = np.mgrid[:n, :n]
    still = ((y - 32) ** 2 + (x - 32) ** 2 < 10**2).astype(float)  # bright, static, at the centre
    radius = 6 + 3 * np.sin(2 * np.pi * np.arange(frames) / frames)  # a beating disc at (18, 46)
    beating = np.stack([((y - 18) ** 2 + (x - 46) ** 2 < r**2).astype(float) for r in radius])
    cine = (still + 0.8 * beating + 0.02 * np.random.default_rng(0).random((frames, n, n)))[None]
    py, px = motion_pixel(cine[0])
    assert 3 <= math.hypot(py - 18, px - 46) <= 9  # on the moving rim, not the static disc
    view = choose_view(cine, "motion")
    assert (view.slice, view.frame, view.point) == (0, frames // 2, (py, px))
    assert "temporal standard deviation" in view.description
    centre = choose_view(cine, "center")
    assert centre.point == (32, 32) and "centre" in centre.description
    assert xt_profile(cine[0], py).shape == (n, frames)
    assert np.array_equal(xt_profile(cine[0], py)[:, 3], cine[0, 3, py])
    with pytest.raises(ValueError, match="profile"):
        choose_view(cine, "heart")


def test_best_per_metric_direction_ties_and_missing() -> None:
    volumes = [
        {"ssim": 0.9, "psnr": 30.0, "nmse": 0.01, "nrmse": 0.1, "hfen": 0.3},
        {"ssim": 0.95, "psnr": math.inf, "nmse": 0.01, "nrmse": math.nan, "hfen": 0.2},
    ]
    best = best_per_metric(volumes)
    assert best == {"ssim": {1}, "psnr": {1}, "nmse": {0, 1}, "nrmse": {0}, "hfen": {1}}
    assert format_metric("psnr", math.inf) == "inf" and format_metric("nmse", None) == "n/a"
    assert format_metric("nmse", 0.0123456) == "1.235e-02" and format_metric("ssim", 0.91234) == "0.9123"
    assert short_labels(["out/zf/scan.h5", "out/net/scan.h5"]) == ["zf/scan.h5", "net/scan.h5"]
    assert short_labels(["/data/a.h5"]) == ["a.h5"]


def test_run_record_beside_image(tmp_path: Path) -> None:
    image = _write_images(tmp_path / "scan01.h5", np.ones((1, 1, 4, 4)))
    assert run_record_path(tmp_path / "scan01.nii.gz") == tmp_path / "scan01.run.json"
    assert read_provenance(image) is None  # no record, no model attributes
    record = {"model": "imunne", "config": {"seed": 7, "mask": {"seed": 3}}, "timings": {"read_s": 1}}
    run_record_path(image).write_text(json.dumps(record))
    found = read_provenance(image)
    assert found is not None and found["model"] == "imunne" and "timings" not in found
    assert found["seeds"] == {"config.seed": 7, "config.mask.seed": 3}
    assert find_seeds({"runs": [{"Seed": 1}]}) == {"runs[0].Seed": 1}
    run_record_path(image).write_text("{broken")
    broken = read_provenance(image)
    assert broken is not None and "unreadable" in broken["error"]
    run_record_path(image).unlink()
    with h5py.File(image, "a") as f:
        f.attrs["model"] = "zero-filled"
        f.attrs["config"] = json.dumps({"combine": "rss"})
    from_attrs = read_provenance(image)
    assert from_attrs is not None and from_attrs["config"] == {"combine": "rss"}
    assert from_attrs["source"] == "image file attributes"


def test_documented_ssim_formula_reproduces_the_number() -> None:
    """SSIM computed from METRIC_FORMULAS' words (7x7 windows, divisor 48, 3 px border) matches ssim()."""
    from numpy.lib.stride_tricks import sliding_window_view

    from recon_cli.metrics import METRIC_FORMULAS, ssim

    assert "divisor 48" in METRIC_FORMULAS["ssim"] and "3 px from the border" in METRIC_FORMULAS["ssim"]
    rng = np.random.default_rng(4)
    ref = rng.random((30, 34)) + np.linspace(0, 2, 34)
    recon = ref + 0.1 * rng.standard_normal(ref.shape)
    peak = ref.max()
    wx, wy = sliding_window_view(recon, (7, 7)), sliding_window_view(ref, (7, 7))  # valid windows only
    mx, my = wx.mean(axis=(-2, -1)), wy.mean(axis=(-2, -1))
    dx, dy = wx - mx[..., None, None], wy - my[..., None, None]
    vx, vy, cxy = (dx**2).sum((-2, -1)) / 48, (dy**2).sum((-2, -1)) / 48, (dx * dy).sum((-2, -1)) / 48
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    expected = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    assert ssim(ref, recon, data_range=peak) == pytest.approx(expected.mean(), abs=1e-10)


# ---------------------------------------------------------------- the report end to end


def test_report_files_and_comparison_table_match_json(cine_report: dict[str, Any]) -> None:
    out = cine_report["out"]
    assert {p.name for p in out.iterdir()} == {"metrics.json", "metrics.csv", "index.html"}
    document = json.loads((out / "metrics.json").read_text())
    assert document["crop"] is None and document["data_range"] == pytest.approx(
        cine_report["reference"].max()
    )
    assert set(document["formulas"]) >= set(METRIC_NAMES) and "matplotlib" in document["versions"]
    assert document["figures"]["profile"] == "motion"
    noisy, smoothed = document["files"]
    assert noisy["run"] is None
    assert smoothed["run"]["model"] == "gaussian-smoothing"
    assert smoothed["run"]["seeds"] == {"config.noise.seed": 11}
    page = _parse((out / "index.html").read_text(encoding="utf-8"))
    files = [str(p) for p in cine_report["recons"]]
    assert page.rows == files and page.labels == ["noisy.h5", "smoothed.h5"]
    assert len(page.cells) == 2 * len(METRIC_NAMES)
    for cell in page.cells:
        entry = document["files"][files.index(cell["file"])]
        assert json.loads(cell["data-value"]) == entry["volume"][cell["data-metric"]]
    best = best_per_metric([noisy["volume"], smoothed["volume"]])
    for cell in page.cells:
        highlighted = cell.get("class") == "best"
        assert highlighted == (files.index(cell["file"]) in best[cell["data-metric"]])
    assert sum(cell.get("class") == "best" for cell in page.cells) >= len(METRIC_NAMES)


def test_report_is_self_contained_with_its_figures(cine_report: dict[str, Any]) -> None:
    from PIL import Image

    html = (cine_report["out"] / "index.html").read_text(encoding="utf-8")
    page = _parse(html)
    assert page.external == [] and "http://" not in html and "https://" not in html
    # distributions, per-frame curves, then images + temporal profile for each reconstruction
    assert page.figures == ["distribution", "frames", "images", "profile", "images", "profile"]
    for img in page.images:
        prefix = "data:image/png;base64,"
        assert img["src"].startswith(prefix)
        png = Image.open(io.BytesIO(base64.b64decode(img["src"][len(prefix) :])))
        assert png.format == "PNG" and png.size == (int(img["width"]), int(img["height"]))
        assert np.asarray(png.convert("L")).std() > 10
    profile_caption = page.captions[page.figures.index("profile")]
    assert "beating heart" in profile_caption and "maximum temporal standard deviation" in profile_caption
    images_caption = page.captions[page.figures.index("images")]
    assert "Error |recon - ref|: 0 to" in images_caption and "0.2 x the data range" in images_caption
    assert "gaussian-smoothing" in html and "config.noise.seed = 11" in html


def test_static_report_batch_with_a_failure(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    reference = rng.random((3, 1, 32, 32)) + 0.5
    recon = _write_images(tmp_path / "recon.h5", reference + 0.05 * rng.standard_normal(reference.shape))
    with h5py.File(tmp_path / "ref.h5", "w") as f:
        f.create_dataset("reference", data=reference)
    args = [str(tmp_path / "missing.h5"), str(recon), "-r", str(tmp_path / "ref.h5")]
    result = runner.invoke(app, ["evaluate", *args, "-o", str(tmp_path / "r")])
    assert result.exit_code == 3
    html = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    page = _parse(html)
    assert page.figures == ["distribution", "images"]  # no temporal profile for static images
    assert page.rows == [str(recon)] and page.labels == ["recon.h5"] and "no such file" in html
    assert "<h2>#1 recon.h5</h2>" in html  # numbered as in the table, the failed file left out
    plain = runner.invoke(
        app, ["evaluate", str(recon), "-r", str(tmp_path / "ref.h5"), "-o", str(tmp_path / "p"), "--no-html"]
    )
    assert plain.exit_code == 0, plain.output
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["metrics.csv", "metrics.json"]
    bad = runner.invoke(app, ["evaluate", str(recon), "-r", str(tmp_path / "ref.h5"), "--profile", "heart"])
    assert bad.exit_code == 2 and "--profile" in bad.stderr


# ---------------------------------------------------------------- headless Chromium


def _chromium(page: Path, profile_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    exe = require_tool("chromium")
    profile_dir.mkdir(parents=True, exist_ok=True)
    args = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--user-data-dir={profile_dir}",
        f"--window-size={SCREEN[0]},{SCREEN[1]}",
        "--virtual-time-budget=10000",
        *extra,
        page.resolve().as_uri(),
    ]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=profile_dir)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def test_report_renders_in_headless_chromium(cine_report: dict[str, Any], tmp_path: Path) -> None:
    from PIL import Image

    index = cine_report["out"] / "index.html"
    dom = _chromium(index, tmp_path / "profile", "--dump-dom").stdout
    body = re.search(r"<body[^>]*>", dom)
    assert body is not None, dom[:500]
    assert 'data-images="6"' in body.group(0) and 'data-images-decoded="6"' in body.group(0)
    assert 'data-images-loaded="true"' in body.group(0)
    root = re.search(r"<html[^>]*>", dom)
    assert root is not None and "data-errors" not in root.group(0)
    shot = tmp_path / "shot.png"
    _chromium(index, tmp_path / "profile", f"--screenshot={shot}")
    image = Image.open(shot)
    assert image.size == SCREEN
    grey = np.asarray(image.convert("L"), dtype=np.float64)
    assert grey.std() > 30  # text, tables and figures, not a blank page
    assert (grey < 128).mean() > 0.02 and (grey > 250).mean() > 0.3
    target = os.environ.get("RECON_REPORT_SCREENSHOT")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)

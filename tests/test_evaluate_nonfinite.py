"""`recon evaluate` with non-finite numbers (issue 13.4).

* A reconstruction scored against itself has an infinite PSNR: the report must still be written, with
  ``"inf"`` in metrics.json (valid JSON: no bare Infinity), ``inf`` in metrics.csv and in the HTML page.
* NaN or Inf inside an image or the reference is bad input data: exit 3 and one line naming the file.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from recon_cli.cli.main import app

runner = CliRunner()


def _strict_json(path: Path) -> object:
    """Parse as standard JSON: NaN, Infinity and -Infinity are refused."""

    def refuse(token: str) -> object:
        raise AssertionError(f"{path.name} holds the non-standard JSON constant {token}")

    return json.loads(path.read_text(), parse_constant=refuse)


def _images(path: Path, images: np.ndarray) -> Path:
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=images.astype(np.complex64))
    return path


@pytest.fixture()
def cine(tmp_path: Path) -> np.ndarray:
    """(1 slice, 3 frames, 16, 16) seeded magnitudes with a bright square."""
    rng = np.random.default_rng(13)
    images = rng.uniform(0.1, 0.3, (1, 3, 16, 16))
    images[..., 4:12, 4:12] += 1.0
    return images


def test_self_evaluation_renders_infinite_psnr(tmp_path: Path, cine: np.ndarray) -> None:
    same = _images(tmp_path / "same.h5", cine)
    noisy = _images(tmp_path / "noisy.h5", cine + np.random.default_rng(1).normal(0, 0.05, cine.shape))
    out = tmp_path / "report"
    result = runner.invoke(app, ["evaluate", str(same), str(noisy), "--reference", str(same), "-o", str(out)])
    assert result.exit_code == 0, result.output
    document = _strict_json(out / "metrics.json")
    assert isinstance(document, dict)
    entries = {Path(e["file"]).name: e for e in document["files"]}
    assert entries["same.h5"]["ok"] and entries["same.h5"]["volume"]["psnr"] == "inf"
    assert all(row["psnr"] == "inf" for row in entries["same.h5"]["frames"])
    assert float(entries["same.h5"]["volume"]["psnr"]) == float("inf")
    assert isinstance(entries["noisy.h5"]["volume"]["psnr"], float)
    assert entries["same.h5"]["volume"]["nmse"] == 0.0
    with (out / "metrics.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["file"].endswith("same.h5")]
    assert rows and all(r["psnr"] == "inf" for r in rows)
    page = (out / "index.html").read_text()
    cells = re.findall(r'data-metric="psnr" data-value="([^"]*)">([^<]*)<', page)
    assert ("inf", "inf") in cells and len(cells) == 2
    assert page.count("data:image/png;base64,") >= 3  # per-file figures and the summary figures
    assert "inf" in result.output  # the terminal table


def test_only_infinite_values_still_render(tmp_path: Path, cine: np.ndarray) -> None:
    """The case of the issue: one file against itself, so every PSNR of the box plot is infinite."""
    image = _images(tmp_path / "x.h5", cine[:, :1])
    out = tmp_path / "r"
    result = runner.invoke(app, ["evaluate", str(image), "--reference", str(image), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert _strict_json(out / "metrics.json")["files"][0]["volume"]["psnr"] == "inf"  # type: ignore[index]
    assert (out / "index.html").stat().st_size > 0


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_reconstruction_is_exit_3(tmp_path: Path, cine: np.ndarray, bad: float) -> None:
    reference = _images(tmp_path / "ref.h5", cine)
    broken = cine.copy()
    broken[0, 1, 3, 3] = bad
    recon = _images(tmp_path / "broken.h5", broken)
    out = tmp_path / "report"
    result = runner.invoke(app, ["evaluate", str(recon), "--reference", str(reference), "-o", str(out)])
    assert result.exit_code == 3, result.output
    assert "broken.h5" in result.output and "contains NaN/Inf values" in result.output
    assert "Traceback" not in result.output
    entry = _strict_json(out / "metrics.json")["files"][0]  # type: ignore[index]
    assert entry["ok"] is False and "contains NaN/Inf values" in entry["error"]


def test_nonfinite_reference_is_exit_3_and_writes_nothing(tmp_path: Path, cine: np.ndarray) -> None:
    recon = _images(tmp_path / "recon.h5", cine)
    broken = cine.copy()
    broken[0, 0, 0, 0] = -np.inf
    reference = _images(tmp_path / "badref.h5", broken)
    out = tmp_path / "report"
    result = runner.invoke(app, ["evaluate", str(recon), "--reference", str(reference), "-o", str(out)])
    assert result.exit_code == 3, result.output
    assert "badref.h5" in result.output and "contains NaN/Inf values" in result.output
    assert not out.exists() or not any(out.iterdir())


def test_nonfinite_nifti_is_exit_3(tmp_path: Path, cine: np.ndarray) -> None:
    import nibabel as nib

    reference = _images(tmp_path / "ref.h5", cine[:, :1])
    data = cine[0, 0].T.astype(np.float32)[:, :, None]  # (x, y, slice)
    data[2, 2, 0] = np.nan
    path = tmp_path / "nan.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    result = runner.invoke(
        app, ["evaluate", str(path), "--reference", str(reference), "-o", str(tmp_path / "r")]
    )
    assert result.exit_code == 3, result.output
    assert "nan.nii.gz" in result.output and "contains NaN/Inf values" in result.output


def test_declared_but_unwritten_images_are_exit_3(tmp_path: Path, cine: np.ndarray) -> None:
    reference = _images(tmp_path / "ref.h5", cine)
    path = tmp_path / "empty.h5"
    with h5py.File(path, "w") as f:  # 1 TB declared, nothing stored: never read
        f.create_dataset("images", shape=(1, 1, 400_000, 400_000), dtype=np.complex64, chunks=(1, 1, 64, 64))
    result = runner.invoke(
        app, ["evaluate", str(path), "--reference", str(reference), "-o", str(tmp_path / "r")]
    )
    assert result.exit_code == 3, result.output
    assert "empty.h5" in result.output and "never written" in " ".join(result.output.split())

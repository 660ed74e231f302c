"""The command line as users run it: help, models, info, reconstruct end to end, README commands."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
from typer.testing import CliRunner

from recon_cli.cli.main import app
from tests.helpers import correlation, nrmse, run_tool

runner = CliRunner()


def test_help_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from recon_cli.cli.main import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'torchkbnufft', 'sigpy', 'h5py') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "reconstruct" in out and "estimate-coils" in out
    assert out.strip().splitlines()[-1] == "HEAVY="


def test_models_lists_zero_filled() -> None:
    result = runner.invoke(app, ["models", "--names"])
    assert result.exit_code == 0
    assert "zero-filled" in result.stdout.split()


def test_info_on_sample(radial_sample: Path) -> None:
    result = runner.invoke(app, ["info", str(radial_sample), "--json"])
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)  # one JSON document: a list with one object per file
    assert row["format"] == "ismrmrd" and row["trajectory"] == "radial"
    assert row["coils"] == 8 and row["frames"] > 1 and row["slices"] == 1
    assert row["acceleration"] > 5  # 13 spokes of a 128 matrix: far below Nyquist (~201)


def test_zero_filled_cartesian_cli_matches_ismrmrd_phantom(tmp_path: Path) -> None:
    """ISMRMRD's own generator -> `recon reconstruct` -> NIfTI read by nibabel == the phantom in the file."""
    raw = tmp_path / "shepp.h5"
    args = "-m 128 -c 8 -O 2 -C -a 1 -n 0".split()  # 2x readout oversampling, noise scans, no noise
    run_tool("ismrmrd_generate_cartesian_shepp_logan", *args, "-o", raw)
    out = tmp_path / "out"
    result = runner.invoke(app, ["reconstruct", str(raw), "--out", str(out), "--format", "nifti,h5"])
    assert result.exit_code == 0, result.stderr
    volume = np.asarray(nib.load(out / "shepp" / "shepp.nii.gz").dataobj)  # (x, y, slices[, frames])
    image = volume.reshape(volume.shape[0], volume.shape[1], -1)[..., 0].T  # (y, x)
    with h5py.File(raw) as f:
        stored = f["dataset/phantom"][0]  # HDF5 compound (real, imag)
        csm = f["dataset/csm"][0]
        # root-sum-of-squares of phantom x coil maps: |phantom| * sqrt(sum_c |csm_c|^2)
        coil_weight = np.sqrt(np.sum(np.abs(csm["real"] + 1j * csm["imag"]) ** 2, axis=0))
        phantom = np.abs(stored["real"] + 1j * stored["imag"]) * coil_weight
    assert image.shape == phantom.shape == (128, 128)
    assert nrmse(image, phantom) < 1e-3  # same scale: orthonormal FFTs, no hidden normalisation
    assert correlation(image, phantom) > 0.99
    assert correlation(image.T, phantom) < 0.9  # orientation matters
    record = json.loads((out / "shepp" / "shepp.run.json").read_text())
    assert record["model"] == "zero-filled" and record["config"]["combine"] == "auto"
    assert {"read_s", "reconstruct_s", "write_s"} <= set(record["timings"])
    assert record["peak_memory"]["host_peak_rss_mib"] > 0 and "torch" in record["versions"]


def _readme_commands(repo_root: Path) -> list[str]:
    text = (repo_root / "README.md").read_text()
    return re.findall(r"^    \$ (.+)$", text, flags=re.MULTILINE)


def _fresh_clone(repo_root: Path, dest: Path) -> Path:
    """A copy of the checkout as a fresh clone has it: tracked and untracked-but-not-ignored files only."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo_root, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listing):
        source = repo_root / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def test_readme_first_command_runs_as_written(tmp_path: Path, repo_root: Path) -> None:
    """From a fresh clone, with the stock system interpreter first on PATH and no environment made by hand."""
    commands = _readme_commands(repo_root)
    assert len(commands) == 2 and "pytest" in commands[1]
    clone = _fresh_clone(repo_root, tmp_path / "clone")
    assert not (clone / ".venv").exists()
    system = "/usr/bin" if Path("/usr/bin/python3").exists() else str(Path(sys.executable).parent)
    # on Debian and Ubuntu that interpreter is externally managed (PEP 668): pip refuses to install into it
    managed = list(Path("/usr/lib").glob("python3*/EXTERNALLY-MANAGED"))
    assert managed or system != "/usr/bin" or not Path("/etc/debian_version").exists()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = f"{system}:{env['PATH']}"
    proc = subprocess.run(["bash", "-c", commands[0]], cwd=clone, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = clone / "out" / "sample" / "radial_cine"
    outputs = {p.name for p in folder.iterdir()}
    assert {
        "radial_cine.nii.gz",
        "radial_cine.png",
        "radial_cine.gif",
        "radial_cine.run.json",
        "radial_cine_dicom",
    } <= outputs
    record = json.loads((folder / "radial_cine.run.json").read_text())
    assert record["model"] == "imunne" and record["weights"]["source"] == "shipped"
    volume = np.asarray(nib.load(folder / "radial_cine.nii.gz").dataobj)
    assert volume.shape[:2] == (128, 128) and np.isfinite(volume).all() and volume.max() > 0
    # the environment is the project's own, made by the command itself
    assert (clone / ".venv" / "bin" / "recon").exists()
    # rerunning the command as written works too (it says --overwrite)
    proc = subprocess.run(["bash", "-c", commands[0]], cwd=clone, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    shutil.rmtree(clone / ".venv")


def test_ci_runs_the_readme_test_command(repo_root: Path) -> None:
    commands = _readme_commands(repo_root)
    script = (repo_root / ".ci" / "run").read_text()
    extracted = subprocess.run(
        ["bash", "-c", r"sed -n 's/^    \$ \(.*pytest.*\)$/\1/p' README.md | head -n 1"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert extracted == commands[1]
    assert "README.md" in script


def test_evaluate_reports_what_the_reader_guessed_about_a_raw_reference(
    tmp_path: Path, fastmri_sample: Path
) -> None:
    """A raw-data reference is read like any input: its reader's guesses reach stderr and metrics.json,
    the same ones reconstruct records for that file."""
    out = tmp_path / "recon"
    options = ["--model", "zero-filled", "--out", str(out), "--format", "h5"]
    made = runner.invoke(app, ["reconstruct", str(fastmri_sample), *options])
    assert made.exit_code == 0, made.stderr
    stem = fastmri_sample.stem
    guessed = json.loads((out / stem / f"{stem}.run.json").read_text())["guesses"]
    assert guessed  # fastMRI files say nothing of the patient's orientation
    report = tmp_path / "report"
    result = runner.invoke(app, ["evaluate", str(out / stem / f"{stem}.h5"), "-r", str(fastmri_sample),
                                 "--out", str(report), "--no-html"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    warned = [ln for ln in result.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warned) == len(guessed) and all(str(fastmri_sample) in ln for ln in warned)
    assert json.loads((report / "metrics.json").read_text())["reference_guesses"] == guessed

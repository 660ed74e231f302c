"""Outputs never destroy inputs, appear whole or not at all, and learned models never run untrained.

Each case is built here, small and seeded: a tiny radial cine written by recon's ISMRMRD writer, the
command run as a user would (in-process through typer), then the disk checked byte for byte.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from typer.testing import CliRunner

from recon_cli.cli.main import app
from tests.helpers import small_cine

runner = CliRunner()
REPO = Path(__file__).resolve().parent.parent


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` (hidden ones too) with its sha256."""
    return {str(p.relative_to(root)): _sha(p) for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def tiny_scan(tmp_path: Path) -> Path:
    """A 32 x 32, 4-frame, 4-coil radial cine as an ISMRMRD file."""
    from recon_cli.io.ismrmrd_write import write_ismrmrd

    _, _, scan = small_cine("radial", n=32, frames=4, coils=4, seed=3)
    path = tmp_path / "raw" / "scan.h5"
    path.parent.mkdir()
    write_ismrmrd(path, scan)
    return path


def _one_error_line(result) -> str:  # noqa: ANN001
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("error:"), result.stderr
    assert "Traceback" not in result.stderr
    return lines[-1]


# --- 13.1: an output that resolves to an input is refused, whatever the flags --------------------------


def test_reconstruct_refuses_an_output_folder_holding_its_input(tmp_path: Path, tiny_scan: Path) -> None:
    nested = tmp_path / "d" / "scan" / "scan.h5"  # OUT/scan/ would be the folder that holds the input
    nested.parent.mkdir(parents=True)
    nested.write_bytes(tiny_scan.read_bytes())
    link = tmp_path / "alias"
    link.symlink_to(tmp_path / "d")
    before = _tree(tmp_path / "d")
    for out in (tmp_path / "d", link):
        args = ["reconstruct", str(nested), "--out", str(out), "--format", "h5", "--overwrite"]
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.stderr
        assert "would replace the input" in _one_error_line(result)
    assert _tree(tmp_path / "d") == before


@pytest.mark.parametrize("alias", ["same", "symlink", "hardlink"])
def test_estimate_coils_never_writes_over_its_input(tmp_path: Path, tiny_scan: Path, alias: str) -> None:
    out = _alias(tiny_scan, tmp_path / "maps.h5", alias)
    before = _sha(tiny_scan)
    result = runner.invoke(app, ["estimate-coils", str(tiny_scan), "--out", str(out), "--overwrite"])
    assert result.exit_code == 2, result.stderr
    assert "would replace the input" in _one_error_line(result)
    assert _sha(tiny_scan) == before and not tiny_scan.with_suffix(".png").exists()


@pytest.mark.parametrize("alias", ["same", "symlink", "hardlink"])
def test_simulate_mask_never_writes_over_its_input(tmp_path: Path, alias: str) -> None:
    from tests.helpers import run_tool

    source = tmp_path / "full.h5"
    run_tool("ismrmrd_generate_cartesian_shepp_logan", "-m", "64", "-c", "4", "-a", "1", "-o", source)
    out = _alias(source, tmp_path / "under.h5", alias)
    before = _sha(source)
    args = ["simulate-mask", "--kind", "random", "-R", "4", "--apply-to", str(source), "--out", str(out)]
    result = runner.invoke(app, [*args, "--overwrite"])
    assert result.exit_code == 2, result.stderr
    assert "would replace the input" in _one_error_line(result)
    assert _sha(source) == before


def _alias(source: Path, other: Path, kind: str) -> Path:
    if kind == "same":
        return source
    if kind == "symlink":
        other.symlink_to(source)
    else:
        os.link(source, other)
    return other


# --- 13.2: all outputs of one input appear together ----------------------------------------------------

EXPECTED = {"scan.nii.gz", "scan.h5", "scan.png", "scan.gif", "scan.run.json", "scan_dicom"}
FRAMES = 6

WRITER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import torch
    from recon_cli.io.atomic import atomic_folder
    from recon_cli.io.scan import ScanHeader
    from recon_cli.io.writers import write_outputs

    folder, first, count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    header = ScanHeader(recon_matrix=(96, 96), encoded_matrix=(96, 96), fov_mm=(300.0, 300.0, 8.0),
                        frame_time_ms=40.0)
    ramp = torch.linspace(0, 1, 96 * 96).reshape(96, 96)
    for g in range(first, first + count):
        images = (ramp + g).expand(1, {frames}, 96, 96).to(torch.complex64)
        with atomic_folder(folder, overwrite=True) as tmp:
            write_outputs(tmp, "scan", images, header, formats=("nifti", "dicom", "h5", "png"),
                          series_description=f"generation {{g}}")
            (tmp / "scan.run.json").write_text(json.dumps({{"generation": g}}))
        print(g, flush=True)
    """
).format(frames=FRAMES)


def _generation(folder: Path) -> int:
    """The one generation every output in ``folder`` belongs to (asserts the set is complete and unmixed)."""
    assert {p.name for p in folder.iterdir()} == EXPECTED
    g = json.loads((folder / "scan.run.json").read_text())["generation"]
    with h5py.File(folder / "scan.h5") as f:
        assert round(float(np.abs(f["images"][0, 0, 0, 0]))) == g
    nifti = np.asarray(nib.load(folder / "scan.nii.gz").dataobj)
    assert round(float(nifti.min())) == g
    dicoms = sorted((folder / "scan_dicom").iterdir())
    assert len(dicoms) == FRAMES
    assert {pydicom.dcmread(p).SeriesDescription for p in dicoms} == {f"generation {g}"}
    return g


@pytest.mark.parametrize("start_with_old_set", [False, True])
def test_kill_9_during_writes_leaves_the_old_or_the_new_set(tmp_path: Path, start_with_old_set: bool) -> None:
    """kill -9 at seeded random moments of repeated (overwriting) multi-format writes: never a mix."""
    out = tmp_path / "out"
    folder = out / "scan"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    chooser = random.Random(13 + start_with_old_set)
    generation = 0
    if start_with_old_set:
        _write_generations(script, folder, 0, env)
        generation = _generation(folder)
    for _ in range(5):
        proc = subprocess.Popen(
            [sys.executable, str(script), str(folder), str(generation + 1), "10000"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
        )  # fmt: skip
        time.sleep(chooser.uniform(1.0, 4.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if folder.exists():
            g = _generation(folder)
            assert g >= generation
            generation = g
        else:
            assert not start_with_old_set  # the old set never disappears
    # the next run cleans what the killed ones left
    _write_generations(script, folder, generation + 1, env)
    assert _generation(folder) == generation + 1
    assert [p.name for p in out.iterdir()] == ["scan"]


def _write_generations(script: Path, folder: Path, first: int, env: dict[str, str]) -> None:
    """One complete write of generation ``first``, run to its end."""
    proc = subprocess.run(
        [sys.executable, str(script), str(folder), str(first), "1"], capture_output=True, env=env, text=True
    )
    assert proc.returncode == 0 and proc.stdout.strip() == str(first), proc.stderr[-2000:]


def test_overwrite_rerun_swaps_the_whole_set(tmp_path: Path, tiny_scan: Path) -> None:
    out = tmp_path / "out"
    base = ["reconstruct", str(tiny_scan), "--out", str(out), "--format", "nifti,h5,dicom,png"]
    assert runner.invoke(app, base).exit_code == 0
    first = json.loads((out / "scan" / "scan.run.json").read_text())
    result = runner.invoke(app, [*base, "--overwrite", "--set", "combine=rss"])
    assert result.exit_code == 0, result.stderr
    second = json.loads((out / "scan" / "scan.run.json").read_text())
    assert first["config"]["combine"] != second["config"]["combine"] == "rss"
    with h5py.File(out / "scan" / "scan.h5") as f:
        assert json.loads(f.attrs["config"])["combine"] == "rss"
    assert [p.name for p in out.iterdir()] == ["scan"]  # nothing hidden left beside it
    assert set(second["outputs"]) == {
        str(p) for p in (out / "scan").rglob("*") if p.is_file() and p.name != "scan.run.json"
    }


def test_a_failing_write_leaves_nothing(tmp_path: Path, tiny_scan: Path, monkeypatch) -> None:  # noqa: ANN001
    """A full disk in the middle of the set: exit 6, no folder, no hidden leftovers, no run.json."""
    import recon_cli.io.writers as writers

    real = writers._write_one
    calls = []

    def full_disk(fmt, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        calls.append(fmt)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fmt, *args, **kwargs)

    monkeypatch.setattr(writers, "_write_one", full_disk)
    out = tmp_path / "out"
    result = runner.invoke(app, ["reconstruct", str(tiny_scan), "--out", str(out), "--format", "nifti,h5"])
    assert result.exit_code == 6, result.stderr
    line = _one_error_line(result)
    assert "No space left on device" in line and "scan" in line
    assert not out.exists() or list(out.iterdir()) == []


def test_out_that_is_a_file_is_a_usage_error(tmp_path: Path, tiny_scan: Path) -> None:
    out = tmp_path / "results"
    out.write_text("not a folder")
    result = runner.invoke(app, ["reconstruct", str(tiny_scan), "--out", str(out), "--format", "h5"])
    assert result.exit_code == 2, result.stderr
    assert "not a folder" in _one_error_line(result)
    assert out.read_text() == "not a folder"


# --- 13.3: learned models need trained weights; run.json says where they came from --------------------


def test_untrained_learned_model_is_refused(tmp_path: Path, tiny_scan: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["reconstruct", str(tiny_scan), "--model", "unet", "--out", str(out)])
    assert result.exit_code == 4, result.stderr
    line = _one_error_line(result)
    assert "no trained weights" in line and "recon train --model unet" in line and "--weights" in line
    assert not out.exists() or list(out.iterdir()) == []
    args = ["reconstruct", str(tiny_scan), "--model", "unet", "--out", str(out), "--format", "h5"]
    result = runner.invoke(app, [*args, "--allow-untrained", "--set", "chans=4", "--set", "num_pools=2"])
    assert result.exit_code == 0, result.stderr
    record = json.loads((out / "scan" / "scan.run.json").read_text())
    assert record["weights"] == {"source": "untrained", "path": None, "sha256": None}


def test_run_record_names_the_shipped_weights_and_their_digest(tmp_path: Path, tiny_scan: Path) -> None:
    shipped = REPO / "plugins" / "recon_plugins" / "cunet" / "weights.pt"
    out = tmp_path / "out"
    args = ["reconstruct", str(tiny_scan), "--model", "cunet", "--out", str(out), "--format", "h5"]
    assert runner.invoke(app, args).exit_code == 0
    record = json.loads((out / "scan" / "scan.run.json").read_text())
    assert record["weights"]["source"] == "shipped"
    assert Path(record["weights"]["path"]).resolve() == shipped.resolve()
    assert record["weights"]["sha256"] == hashlib.sha256(shipped.read_bytes()).hexdigest()
    copy = tmp_path / "mine.pt"
    copy.write_bytes(shipped.read_bytes())
    result = runner.invoke(app, [*args, "--weights", str(copy), "--overwrite"])
    assert result.exit_code == 0, result.stderr
    record = json.loads((out / "scan" / "scan.run.json").read_text())
    assert record["weights"] == {"source": "file", "path": str(copy), "sha256": _sha(shipped)}


def _bad_weights(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.pt"
    shipped = torch.load(REPO / "plugins/recon_plugins/cunet/weights.pt", weights_only=True)
    state = dict(shipped.get("model", shipped))
    if kind == "text":
        path.write_text("these are not weights\n")
    elif kind == "nan":
        nan = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in state.items()}
        torch.save({**shipped, "model": nan}, path)  # the shipped settings kept: only the values are bad
    elif kind == "shape":
        key = next(k for k, v in state.items() if v.ndim >= 2 and v.shape[0] > 1)
        state[key] = state[key][:1]
        torch.save(state, path)
    else:  # a pickle that would run code if loaded unsafely
        torch.save({"payload": _Payload()}, path)
    return path


class _Payload:
    def __reduce__(self):  # noqa: ANN204
        return (os.system, ("echo pwned > /tmp/recon_pwned",))


@pytest.mark.parametrize(
    ("kind", "code", "needle"),
    [
        ("text", 3, "not a PyTorch weights file"),
        ("nan", 4, "NaN/Inf"),
        ("shape", 4, "size mismatch"),
        ("pickle", 3, "unsafe"),
    ],
)
def test_bad_weights_get_one_clear_line(
    tmp_path: Path, tiny_scan: Path, kind: str, code: int, needle: str
) -> None:
    weights = _bad_weights(tmp_path, kind)
    out = tmp_path / "out"
    args = ["reconstruct", str(tiny_scan), "--model", "cunet", "--weights", str(weights), "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.stderr
    line = _one_error_line(result)
    assert needle in line and weights.name in line, line
    assert not line.rstrip().endswith(":") and "weights_only" not in line
    assert not Path("/tmp/recon_pwned").exists()
    assert not out.exists() or list(out.iterdir()) == []


# --- 13.6/13.7: allocation failures and non-finite settings --------------------------------------------


def test_torch_cpu_allocation_failure_is_exit_5_with_the_size(
    tmp_path: Path, tiny_scan: Path, monkeypatch
) -> None:  # noqa: ANN001, E501
    import recon_cli.reconstruct as pipeline

    def huge(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        return torch.empty(2**50, dtype=torch.uint8)  # 1 PiB: the real CPU allocator refuses it

    monkeypatch.setattr(pipeline, "reconstruct_scan", huge)
    out = tmp_path / "out"
    result = runner.invoke(app, ["reconstruct", str(tiny_scan), "--out", str(out)])
    assert result.exit_code == 5, result.stderr
    line = _one_error_line(result)
    assert "out of memory" in line and "scan.h5" in line and "GiB" in line
    assert not out.exists() or list(out.iterdir()) == []


def test_non_finite_settings_are_refused(tmp_path: Path, tiny_scan: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["reconstruct", str(tiny_scan), "--model", "cs", "--set", "lam_wavelet=nan", "--out", str(out)]
    )
    assert result.exit_code == 4, result.stderr
    assert "finite" in _one_error_line(result)
    result = runner.invoke(
        app, ["reconstruct", str(tiny_scan), "--model", "cs", "--set", "lam_wavelet=inf", "--out", str(out)]
    )
    assert result.exit_code == 4
    train = "train --model unet --data synthetic:radial --lr nan".split()
    result = runner.invoke(app, [*train, "--out", str(tmp_path / "r")])
    assert result.exit_code == 2, result.stderr
    assert "finite" in _one_error_line(result)
    assert not (tmp_path / "r").exists()
    assert not out.exists() or list(out.iterdir()) == []


# --- 13.9: the reader's guesses reach stderr and run.json; --strict refuses them ---------------------


def test_guesses_are_reported_and_strict_refuses_them(tmp_path: Path, tiny_scan: Path, monkeypatch) -> None:  # noqa: ANN001, E501
    import recon_cli.io as io

    real = io.read_scan

    def guessing_reader(path, **kwargs):  # noqa: ANN001, ANN003, ANN202
        scan = real(path, **kwargs)
        return dataclasses.replace(scan, guesses=[*scan.guesses, "slice thickness missing: 8 mm assumed"])

    monkeypatch.setattr(io, "read_scan", guessing_reader)
    out = tmp_path / "out"
    result = runner.invoke(app, ["reconstruct", str(tiny_scan), "--out", str(out), "--format", "h5"])
    assert result.exit_code == 0, result.stderr
    assert f"{tiny_scan}: slice thickness missing: 8 mm assumed" in " ".join(result.stderr.split())
    record = json.loads((out / "scan" / "scan.run.json").read_text())
    assert "slice thickness missing: 8 mm assumed" in record["guesses"]
    strict = runner.invoke(app, ["reconstruct", str(tiny_scan), "--out", str(tmp_path / "s"), "--strict"])
    assert strict.exit_code == 3
    assert "--strict" in _one_error_line(strict)
    assert not (tmp_path / "s").exists() or list((tmp_path / "s").iterdir()) == []


def test_a_train_run_that_fails_before_it_begins_leaves_no_folder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = ["train", "--model", "kiki-net", "--data", "synthetic:radial", "--out", str(run)]
    result = runner.invoke(app, [*args, "--set", "train.steps=1", "--set", "train.workers=0"])
    assert result.exit_code == 4, result.stderr
    assert "does not support radial" in _one_error_line(result)
    assert not run.exists()


def test_library_warnings_reach_stderr_as_one_line(tmp_path: Path, tiny_scan: Path, monkeypatch) -> None:  # noqa: ANN001, E501
    import warnings

    import recon_cli.io as io

    real = io.read_scan

    def noisy_reader(path, **kwargs):  # noqa: ANN001, ANN003, ANN202
        warnings.warn("a library complains\n  about something", UserWarning, stacklevel=1)
        return real(path, **kwargs)

    monkeypatch.setattr(io, "read_scan", noisy_reader)
    result = runner.invoke(
        app, ["reconstruct", str(tiny_scan), "--out", str(tmp_path / "o"), "--format", "h5"]
    )
    assert result.exit_code == 0, result.stderr
    assert "warning: a library complains about something" in result.stderr
    assert ".py:" not in result.stderr and "UserWarning" not in result.stderr


def test_a_read_only_out_folder_is_refused_before_any_work(
    tmp_path: Path, tiny_scan: Path, monkeypatch
) -> None:  # noqa: ANN001, E501
    """Exit 6 at once, naming the folder (root ignores permission bits, so the check is simulated)."""
    import recon_cli.output_set as output_set
    import recon_cli.reconstruct as pipeline

    out = tmp_path / "locked"
    out.mkdir()
    real = os.access
    monkeypatch.setattr(output_set.os, "access", lambda p, mode: False if Path(p) == out else real(p, mode))
    called = []
    monkeypatch.setattr(pipeline, "load_model", lambda *a, **k: called.append(1))
    result = runner.invoke(app, ["reconstruct", str(tiny_scan), "--out", str(out / "sub")])
    assert result.exit_code == 6, result.stderr
    assert "Permission denied" in _one_error_line(result) and str(out) in result.stderr
    assert not called and list(out.iterdir()) == []


def test_a_non_finite_image_is_never_written(tmp_path: Path, tiny_scan: Path, monkeypatch) -> None:  # noqa: ANN001
    import recon_cli.reconstruct as pipeline

    real = pipeline.reconstruct_scan

    def diverging(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        images = real(*args, **kwargs)
        images[0, 0, 3, 3] = complex(float("nan"), 0.0)
        return images

    monkeypatch.setattr(pipeline, "reconstruct_scan", diverging)
    out = tmp_path / "out"
    result = runner.invoke(app, ["reconstruct", str(tiny_scan), "--out", str(out)])
    assert result.exit_code == 4, result.stderr
    assert "NaN/Inf" in _one_error_line(result)
    assert not out.exists() or list(out.iterdir()) == []

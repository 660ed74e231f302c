"""Bad input through the CLI: one clear line naming the file, non-zero exit, no traceback, nothing touched."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import h5py
import ismrmrd
import numpy as np
import pytest
from typer.testing import CliRunner

from recon_cli.cli.main import app
from tests.helpers import ismrmrd_header_xml, write_ismrmrd_file

runner = CliRunner()


def _ismrmrd_header(trajectory: str = "radial", n: int = 32) -> str:
    xsd = ismrmrd.xsd
    limits = xsd.encodingLimitsType(
        kspace_encoding_step_1=xsd.limitType(minimum=0, maximum=n - 1, center=n // 2)
    )
    return ismrmrd_header_xml(
        (n, n, 1), (200.0, 200.0, 5.0), trajectory, larmor_hz=63500000, encoding_limits=limits
    )


def _ismrmrd_file(path: Path, *, acquisitions: int, with_traj: bool) -> None:
    rng = np.random.default_rng(0)

    def readouts() -> Iterator[object]:
        for i in range(acquisitions):
            acq = ismrmrd.Acquisition()
            acq.resize(number_of_samples=64, active_channels=2, trajectory_dimensions=2 if with_traj else 0)
            samples = rng.standard_normal((2, 64)) + 1j * rng.standard_normal((2, 64))
            acq.data[:] = samples.astype(np.complex64)
            if with_traj:
                acq.traj[:] = np.stack([np.linspace(-0.5, 0.5, 64, endpoint=False), np.zeros(64)], axis=1)
            acq.idx.kspace_encode_step_1 = i
            yield acq

    write_ismrmrd_file(path, _ismrmrd_header(), readouts())


def _fastmri(path: Path, kspace: np.ndarray) -> None:
    with h5py.File(path, "w") as f:
        f.create_dataset("kspace", data=kspace)


def _complex(shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(1)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def _truncated(path: Path) -> None:
    _fastmri(path, _complex((2, 4, 32, 32)))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _nan(path: Path) -> None:
    k = _complex((1, 4, 32, 32))
    k[0, 1, 3, 4] = np.nan
    _fastmri(path, k)


def _no_kspace(path: Path) -> None:
    with h5py.File(path, "w") as f:
        f.create_dataset("something_else", data=np.zeros(4))


BAD_INPUTS: dict[str, tuple[Callable[[Path], None], str]] = {
    "empty": (lambda p: p.write_bytes(b""), "empty"),
    "text": (lambda p: p.write_text("this is not raw data\n"), "not an HDF5 file"),
    "truncated": (_truncated, "truncated"),
    "no_kspace": (_no_kspace, "neither"),
    "real_kspace": (lambda p: _fastmri(p, np.ones((1, 4, 32, 32), np.float32)), "real"),
    "wrong_rank": (lambda p: _fastmri(p, _complex((32, 32))), "rank"),
    "nan_kspace": (_nan, "NaN"),
    "radial_no_traj": (lambda p: _ismrmrd_file(p, acquisitions=8, with_traj=False), "trajector"),
    "no_acquisitions": (lambda p: _ismrmrd_file(p, acquisitions=0, with_traj=True), "acquisition"),
}


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _assert_one_clean_line(result, needle: str, name: str) -> None:  # noqa: ANN001
    assert result.exit_code != 0
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    assert name in lines[0], lines[0]
    assert needle.lower() in lines[0].lower(), lines[0]


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
@pytest.mark.parametrize("command", ["reconstruct", "info"])
def test_bad_input_one_line_nonzero_exit_no_side_effects(tmp_path: Path, case: str, command: str) -> None:
    make, needle = BAD_INPUTS[case]
    bad = tmp_path / f"{case}.h5"
    make(bad)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("existing result")
    before = _digest(tmp_path)
    args = [command, str(bad)] + (["--out", str(out)] if command == "reconstruct" else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 3, (result.exit_code, result.stderr)
    _assert_one_clean_line(result, needle, bad.name)
    assert _digest(tmp_path) == before


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.h5"
    result = runner.invoke(app, ["reconstruct", str(missing), "--out", str(tmp_path / "o")])
    assert result.exit_code == 3
    _assert_one_clean_line(result, "no such file", "nope.h5")
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_existing_output_is_refused_and_untouched(tmp_path: Path, radial_sample: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "radial_cine").mkdir()
    existing = out / "radial_cine" / "radial_cine.nii.gz"
    existing.write_bytes(b"precious")
    result = runner.invoke(app, ["reconstruct", str(radial_sample), "--out", str(out), "--format", "nifti"])
    assert result.exit_code == 2
    _assert_one_clean_line(result, "already exists", "radial_cine")
    assert existing.read_bytes() == b"precious"
    assert sorted(p.name for p in out.rglob("*")) == ["radial_cine", "radial_cine.nii.gz"]


def test_batch_keeps_going_past_a_bad_file(tmp_path: Path, radial_sample: Path) -> None:
    bad = tmp_path / "bad.h5"
    bad.write_text("garbage")
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["reconstruct", str(bad), str(radial_sample), "--out", str(out), "--format", "h5"]
    )
    assert result.exit_code == 3
    folder = out / "radial_cine"
    assert (folder / "radial_cine.h5").exists() and (folder / "radial_cine.run.json").exists()
    assert not (out / "bad").exists()
    result = runner.invoke(
        app,
        [
            "reconstruct",
            str(bad),
            str(radial_sample),
            "--out",
            str(tmp_path / "o2"),
            "--format",
            "h5",
            "--fail-fast",
        ],
    )
    assert result.exit_code == 3
    assert not (tmp_path / "o2" / "radial_cine").exists()


def test_unknown_model_and_device(tmp_path: Path, radial_sample: Path) -> None:
    result = runner.invoke(
        app, ["reconstruct", str(radial_sample), "--model", "zero-filed", "--out", str(tmp_path)]
    )
    assert result.exit_code == 4
    assert "Unknown model 'zero-filed'" in result.stderr and "zero-filled" in result.stderr
    result = runner.invoke(
        app, ["reconstruct", str(radial_sample), "--device", "cuda:7", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "cuda:7" in result.stderr
    result = runner.invoke(
        app, ["reconstruct", str(radial_sample), "--set", "combine=magic", "--out", str(tmp_path)]
    )
    assert result.exit_code == 4 and "combine" in result.stderr


def test_first_line_of_an_exception() -> None:
    from recon_cli.errors import first_line

    assert first_line(ValueError("bad header\n  at line 3\n")) == "bad header"
    assert first_line(KeyError()) == "KeyError"  # an empty message: the exception's type
    assert first_line(OSError("x" * 500)) == "x" * 160
    assert first_line(OSError("x" * 500), None) == "x" * 500

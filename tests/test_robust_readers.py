"""Broken and hostile raw-data files (issue 13.5, 13.6, 13.9): typed errors naming the file, no partial
outputs, and every assumption a reader makes recorded in ``Scan.guesses``.

The attack cases themselves live in ``tests/attack_cases.py`` (shared with scripts/robustness_table.py);
here each is run through the CLI in-process, and the readers are checked directly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from recon_cli.cli.main import app
from recon_cli.errors import InputDataError
from recon_cli.io import read_scan
from recon_cli.io.fastmri import read_fastmri
from recon_cli.io.plausibility import MAX_ENCODED_MATRIX, MAX_MATRIX
from tests.attack_cases import CASES, Case, generator_file, nobody_prefix, radial_file, set_xml
from tests.helpers import ismrmrd_header_xml, write_ismrmrd_file

runner = CliRunner()
_IMAGE_SUFFIXES = (".nii", ".nii.gz", ".dcm", ".png", ".gif", ".json", ".html", ".csv", ".h5")


def _flat(text: str) -> str:
    return " ".join(text.split())


def _outputs(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and p.name.endswith(_IMAGE_SUFFIXES)]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_attack_case(case: Case, tmp_path: Path) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    attack = case.build(inputs)
    args = [a.replace("{out}", str(out)) for a in attack.args]
    if attack.as_nobody and nobody_prefix():
        recon = str(Path(sys.executable).parent / "recon")
        done = subprocess.run([*nobody_prefix(), recon, *args], capture_output=True, text=True, timeout=120)
        exit_code, output = done.returncode, done.stdout + done.stderr
    else:
        result = runner.invoke(app, args)
        exit_code, output = result.exit_code, result.output
    text = _flat(output)
    assert exit_code == attack.exit_code, text
    assert "Traceback" not in output and "internal error" not in text
    assert _flat(attack.message) in text
    assert _flat(attack.guess) in text
    if attack.exit_code in (2, 3):  # bad input or an output that would replace it: the file is named
        named = [a for a in args if Path(a).is_relative_to(inputs) or a.startswith(str(inputs))]
        assert any(Path(a).name in text for a in named), text
    if not attack.outputs:
        assert not out.exists() or not _outputs(out), _outputs(out)


# ------------------------------------------------------------------------------ readers, directly


def test_limits_are_named_constants() -> None:
    assert MAX_MATRIX == 4096 and MAX_ENCODED_MATRIX == 8192


def test_negative_matrix_raises_before_reading_data(tmp_path: Path) -> None:
    path = set_xml(generator_file(tmp_path), "<x>32</x>\n\t\t\t\t<y>32</y>", "<x>32</x>\n\t\t\t\t<y>-5</y>")
    with pytest.raises(InputDataError, match=r"recon matrix \(x, y\) 32 x -5 has a size below 1") as info:
        read_scan(path)
    assert info.value.path == str(path) and "\n" not in str(info.value)


def test_mixed_sample_counts_is_typed(tmp_path: Path) -> None:
    path = radial_file(tmp_path / "r.h5", samples=(64, 32, 64, 64))
    with pytest.raises(InputDataError, match="inconsistent sample counts"):
        read_scan(path)


def test_trajectory_units_and_dropped_samples_are_guesses(tmp_path: Path) -> None:
    """Auto units are a guess; samples past |k| = pi (1.5x readout) are dropped and say so."""
    scan = read_scan(radial_file(tmp_path / "a.h5"))
    assert scan.ismrmrd_info.traj_units == "normalised"
    assert any("trajectory units inferred" in g for g in scan.guesses)
    stated = read_scan(radial_file(tmp_path / "b.h5"), traj_units="normalised")
    assert not any("units" in g for g in stated.guesses)
    wide = read_scan(radial_file(tmp_path / "c.h5", scale=1.5), traj_units="normalised")
    assert wide.readout_length == 43 and any("21 of 64 samples per readout" in g for g in wide.guesses)


def test_unreadable_file_is_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = generator_file(tmp_path)
    real_open = Path.open

    def forbidden(self: Path, *args: object, **kwargs: object) -> object:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", forbidden)
    with pytest.raises(InputDataError, match="cannot read: permission denied"):
        read_scan(path)


def test_unreadable_file_exit_3_for_a_real_user(tmp_path: Path) -> None:
    """chmod 000 as a real (non-root) user: root ignores permissions, so run recon as nobody there."""
    folder = Path(os.environ.get("RECON_TEST_SHARED_TMP", "/tmp")) / f"recon-perm-{os.getpid()}"
    folder.mkdir(mode=0o755, exist_ok=True)
    try:
        path = generator_file(folder)
        path.chmod(0o000)
        command = [str(Path(sys.executable).parent / "recon"), "info", str(path)]
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            assert setpriv, "setpriv (util-linux) is needed to drop root for this test"
            command = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
        env = {**os.environ, "HOME": str(folder), "MPLCONFIGDIR": str(folder)}
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, cwd=folder)
        assert done.returncode == 3, done.stderr
        assert str(path) in _flat(done.stderr) and "permission denied" in done.stderr.lower()
        assert "Traceback" not in done.stderr
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_coil_mismatch_and_zero_directions_are_guesses(tmp_path: Path) -> None:
    path = set_xml(generator_file(tmp_path), "<receiverChannels>2<", "<receiverChannels>3<")
    scan = read_scan(path)
    assert scan.n_coils == 2
    assert (
        "the header states 3 receiver channels but the data holds 2 coils; the data's 2 were used"
        in scan.guesses
    )
    with h5py.File(path, "a") as f:
        records = f["dataset/data"][:]
        records["head"]["read_dir"] = 0.0
        records["head"]["phase_dir"] = 0.0
        f["dataset/data"][:] = records
    scan = read_scan(path)
    assert any("zero direction vectors: the identity orientation was assumed" in g for g in scan.guesses)
    assert scan.header.geometry[0].read_dir == (1.0, 0.0, 0.0)


def test_fastmri_header_attribute_equals_dataset(tmp_path: Path) -> None:
    """An ismrmrd_header attribute is read like the dataset: FOV from it, readout oversampling removed."""
    from tests.attack_cases import _fastmri

    as_dataset = read_fastmri(_fastmri(tmp_path / "d.h5"))
    as_attribute = read_fastmri(_fastmri(tmp_path / "a.h5", header="attribute"))
    missing = read_fastmri(_fastmri(tmp_path / "n.h5", header=None))
    assert as_attribute.kspace.shape == as_dataset.kspace.shape == (2, 1, 2, 32, 48)
    assert np.array_equal(as_attribute.kspace.numpy(), as_dataset.kspace.numpy())
    assert as_attribute.header.fov_mm == as_dataset.header.fov_mm == (220.0, 220.0, 5.0)
    assert as_attribute.guesses == as_dataset.guesses and len(as_dataset.guesses) == 1
    assert missing.kspace.shape[-2] == 64 and missing.header.fov_mm == (64.0, 48.0, 1.0)
    assert any("1 mm per pixel" in g and "oversampling" in g for g in missing.guesses)


def test_fastmri_coil_mismatch_and_bad_reference_are_guesses(tmp_path: Path) -> None:
    from recon_cli.io.fastmri import fastmri_header_xml, write_fastmri

    rng = np.random.default_rng(7)
    kspace = (rng.standard_normal((2, 3, 32, 24)) + 1j * rng.standard_normal((2, 3, 32, 24))).astype(
        np.complex64
    )
    xml = fastmri_header_xml((32, 24), (32, 24), (200.0, 200.0, 4.0), (200.0, 200.0, 4.0), n_coils=8)
    path = write_fastmri(tmp_path / "f.h5", kspace, header_xml=xml, reference=np.ones((5, 32, 24)))
    scan = read_fastmri(path)
    assert scan.n_coils == 3 and scan.reference is None
    assert any("states 8 receiver channels but kspace holds 3" in g for g in scan.guesses)
    assert any("reference 'reconstruction_rss' was ignored" in g for g in scan.guesses)


@pytest.mark.parametrize(
    ("attribute", "message"), [("acceleration", "not a factor"), ("ismrmrd_header", "XML")]
)
def test_fastmri_bad_attributes_are_typed(tmp_path: Path, attribute: str, message: str) -> None:
    from tests.attack_cases import _fastmri

    path = _fastmri(tmp_path / "f.h5", header=None)
    with h5py.File(path, "a") as f:
        f.attrs[attribute] = "not a number" if attribute == "acceleration" else "<ismrmrdHeader><enc"
    with pytest.raises(InputDataError, match=message):
        read_fastmri(path)


def test_assumed_kspace_centre_is_a_guess(tmp_path: Path) -> None:
    """No encoding-limit centre and no centre sample: the middle line and sample are assumptions."""
    from recon_cli.io.ismrmrd_lib import ismrmrd

    rng = np.random.default_rng(3)

    def lines() -> Iterator[object]:
        for line in range(8):
            acq = ismrmrd.Acquisition.from_array((rng.standard_normal((2, 16)) + 0j).astype(np.complex64))
            acq.idx.kspace_encode_step_1 = line
            yield acq

    xml = ismrmrd_header_xml((16, 8, 1), (100, 100, 5))
    path = write_ismrmrd_file(tmp_path / "nocentre.h5", xml, lines())
    scan = read_scan(path)
    assert scan.kspace.shape == (1, 1, 2, 8, 16)
    assert any("no centre phase-encoding line" in g for g in scan.guesses)
    assert any("no centre sample" in g for g in scan.guesses)


def test_recon_written_radial_states_its_units(tmp_path: Path) -> None:
    """recon's ISMRMRD writer records its trajectory units, so reading its files back guesses nothing."""
    from recon_cli.io.ismrmrd_write import write_ismrmrd
    from tests.helpers import small_cine

    _, _, scan = small_cine("radial", n=32, frames=2, coils=2, seed=3)
    back = read_scan(write_ismrmrd(tmp_path / "w.h5", scan))
    assert back.ismrmrd_info.traj_units == "normalised" and back.guesses == ()
    np.testing.assert_allclose(back.traj.numpy(), scan.traj.numpy(), atol=1e-5)


def test_one_bad_file_does_not_stop_the_batch(tmp_path: Path) -> None:
    """A bad input is reported (exit 3, one line naming it) while the good one is still reconstructed."""
    good = generator_file(tmp_path, "good.h5")
    bad = set_xml(generator_file(tmp_path, "bad.h5"), "<x>300.000000</x>", "<x>nan</x>")
    out = tmp_path / "out"
    args = [
        "reconstruct",
        str(bad),
        str(good),
        "--model",
        "zero-filled",
        "--out",
        str(out),
        "--format",
        "nifti",
    ]
    result = runner.invoke(app, args)
    text = _flat(result.output)
    assert result.exit_code == 3, text
    assert "bad.h5: recon field of view (x, y, z) nan x 300 x 6 mm is not a finite number" in text
    written = sorted(p.name for p in _outputs(out))
    assert any(name.startswith("good") and name.endswith(".nii.gz") for name in written), written
    assert not any(name.startswith("bad") for name in written), written


def test_recon_fov_beyond_encoded_fov_is_a_guess(tmp_path: Path) -> None:
    """A recon FOV wider than the encoded one along the readout cannot be oversampling: said, not hidden."""
    path = set_xml(generator_file(tmp_path), "<x>300.000000</x>", "<x>900.000000</x>")  # recon FOV x
    scan = read_scan(path)
    assert any("exceeds the encoded one" in g for g in scan.guesses)
    assert scan.kspace.shape[-1] == 64  # the whole encoded readout is kept


def test_info_reports_the_readers_guesses(tmp_path: Path) -> None:
    """``recon info`` (torch-free, headers only) lists the same guesses as ``read_scan``."""
    from recon_cli.io.summary import describe_file
    from tests.attack_cases import _fastmri

    files = [
        set_xml(generator_file(tmp_path, "a.h5"), "<receiverChannels>2<", "<receiverChannels>4<"),
        _fastmri(tmp_path / "b.h5", header=None),
        _fastmri(tmp_path / "c.h5", header="attribute"),
    ]
    for path in files:
        assert describe_file(path)["guesses"] == list(read_scan(path).guesses), path.name


def test_odd_direction_vectors_are_repaired_and_said(tmp_path: Path) -> None:
    path = generator_file(tmp_path)
    with h5py.File(path, "a") as f:
        records = f["dataset/data"][:]
        records["head"]["read_dir"] = (2.0, 0.0, 0.0)  # not of unit length
        records["head"]["phase_dir"] = (0.5, 1.0, 0.0)  # not perpendicular to read
        records["head"]["slice_dir"] = (0.0, 0.0, 1.0)
        f["dataset/data"][:] = records
    scan = read_scan(path)
    geometry = scan.header.geometry[0]
    np.testing.assert_allclose(geometry.read_dir, (1, 0, 0), atol=1e-12)
    np.testing.assert_allclose(geometry.phase_dir, (0, 1, 0), atol=1e-12)
    assert any("not of unit length" in g for g in scan.guesses)
    assert any("phase was made perpendicular" in g for g in scan.guesses)


def test_nonfinite_reference_is_ignored_and_said(tmp_path: Path) -> None:
    from recon_cli.io.fastmri import fastmri_header_xml, write_fastmri

    rng = np.random.default_rng(8)
    kspace = (rng.standard_normal((1, 2, 16, 12)) + 1j * rng.standard_normal((1, 2, 16, 12))).astype(
        np.complex64
    )
    reference = np.ones((1, 16, 12), np.float32)
    reference[0, 3, 3] = np.inf
    xml = fastmri_header_xml((16, 12), (16, 12), (100.0, 100.0, 3.0), (100.0, 100.0, 3.0), n_coils=2)
    scan = read_scan(write_fastmri(tmp_path / "f.h5", kspace, reference=reference, header_xml=xml))
    assert scan.reference is None
    assert any("'reconstruction_rss' was ignored: it contains NaN/Inf" in g for g in scan.guesses)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("text", "expected 4 dimensions"),
        (np.ones((1, 2, 4), np.complex64), "expected 4 dimensions"),
        (np.full((1, 2, 4, 4), np.nan, np.complex64), "NaN/Inf"),
        (np.array([[[["a"]]]], dtype="S1"), "not numeric"),
    ],
)
def test_bad_coil_map_files_are_typed(tmp_path: Path, content: object, message: str) -> None:
    from recon_cli.coils import read_maps

    scan = read_scan(generator_file(tmp_path))
    path = tmp_path / "maps.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("maps", data=content)
    with pytest.raises(InputDataError, match=message):
        read_maps(path, scan)


def test_auto_units_pick_the_scale_nearest_nyquist(tmp_path: Path) -> None:
    """A 2x oversampled normalised readout (|k| up to 1.0) is not mistaken for one in samples."""
    wide = read_scan(radial_file(tmp_path / "w.h5", samples=(128,) * 8, scale=2.0))
    assert wide.ismrmrd_info.traj_units == "normalised" and wide.readout_length == 65
    samples = radial_file(tmp_path / "s.h5", samples=(64,) * 8, scale=32.0)  # -16..16 for a 32 matrix
    assert read_scan(samples).ismrmrd_info.traj_units == "samples"


def test_implausible_acceleration_factors_are_typed(tmp_path: Path) -> None:
    """A factor the ScanHeader check would refuse is refused by the reader first, naming the file."""
    factors = (
        "<kspace_encoding_step_1>0</kspace_encoding_step_1><kspace_encoding_step_2>1</kspace_encoding_step_2>"
    )
    section = (
        f"<parallelImaging><accelerationFactor>{factors}</accelerationFactor></parallelImaging></encoding>"
    )
    path = set_xml(generator_file(tmp_path), "</encoding>", section)
    with pytest.raises(InputDataError, match=r"acceleration factor \(ky, kz\) 0 x 1"):
        read_scan(path)


def test_nonfinite_user_parameters_are_ignored_and_said(tmp_path: Path) -> None:
    double = "<userParameterDouble><name>slice_spacing_mm</name><value>NaN</value></userParameterDouble>"
    path = set_xml(
        generator_file(tmp_path),
        "</ismrmrdHeader>",
        f"<userParameters>{double}</userParameters></ismrmrdHeader>",
    )
    scan = read_scan(path)
    assert scan.header.slice_spacing_mm is None
    assert any("slice_spacing_mm = nan is not a finite number; it was ignored" in g for g in scan.guesses)

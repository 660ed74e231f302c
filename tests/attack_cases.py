"""Hostile or broken inputs, each built in a folder by a small function: shared by the tests
(``tests/test_robust_readers.py``) and by ``scripts/robustness_table.py`` (``docs/robustness.md``).

A case is a builder that writes its input into an empty folder and returns the command to run, the exit
code recon must give (DESIGN.md section 5: 0 ok, 2 usage, 3 bad input data, 4 model, 5 memory) and a
piece of text its one-line message must contain. Adding a case = writing one builder and listing it in
``CASES``. Inputs come from ISMRMRD's own generator (``ismrmrd_generate_cartesian_shepp_logan``), the
``ismrmrd`` package and recon's fastMRI writer; every array is seeded.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from recon_cli.io.ismrmrd_lib import ismrmrd
from tests.helpers import ismrmrd_header_xml, write_ismrmrd_file

__all__ = ["CASES", "Attack", "Case", "generator_file", "radial_file", "set_xml"]

MATRIX = 32


@dataclass(frozen=True)
class Attack:
    """What a built case runs: ``args`` after ``recon`` ({out} is the output folder), and what it expects.

    ``outputs`` is whether image files may be left in {out} (exit 0 cases); ``guess`` is a text that one
    of the reader's guesses must contain (printed on stderr), for cases that succeed by assuming;
    ``as_nobody`` runs the command as user nobody when the caller is root (``nobody_prefix``).
    """

    args: tuple[str, ...]
    exit_code: int
    message: str = ""
    outputs: bool = False
    guess: str = ""
    as_nobody: bool = False  # run as an unprivileged user (root reads files whatever their mode)


@dataclass(frozen=True)
class Case:
    """One attack: its name, a one-line description of the input, and its builder."""

    name: str
    description: str
    build: Callable[[Path], Attack]


# ------------------------------------------------------------------------------------------- inputs


def generator_file(folder: Path, name: str = "cart.h5") -> Path:
    """A Cartesian ISMRMRD file from ISMRMRD's generator: 32x32, 2 coils, 2x readout oversampling."""
    tool = shutil.which("ismrmrd_generate_cartesian_shepp_logan")
    if tool is None:
        raise RuntimeError("ismrmrd_generate_cartesian_shepp_logan not found (apt-get install ismrmrd-tools)")
    path = folder / name
    subprocess.run([tool, "-m", str(MATRIX), "-c", "2", "-o", str(path)], check=True, capture_output=True)
    return path


def set_xml(path: Path, old: str, new: str) -> Path:
    """Replace the first ``old`` in the file's XML header with ``new`` (in place)."""
    with h5py.File(path, "a") as f:
        text = f["dataset/xml"][0]
        text = text.decode() if isinstance(text, bytes) else str(text)
        if old not in text:
            raise ValueError(f"{old!r} not in the XML header")
        del f["dataset/xml"]
        f["dataset"].create_dataset(
            "xml", data=[text.replace(old, new, 1).encode()], dtype=h5py.string_dtype()
        )
    return path


def radial_file(
    path: Path,
    samples: tuple[int, ...] = (64,) * 8,
    scale: float = 1.0,
    seed: int = 0,
) -> Path:
    """A radial ISMRMRD file written with the ismrmrd package: one spoke per readout, 2 coils.

    Args:
        path: The file.
        samples: Samples of each spoke (their count is the number of spokes).
        scale: Factor on the normalised trajectory ([-0.5, 0.5) when 1).
        seed: Seed of the random k-space samples.
    """
    rng = np.random.default_rng(seed)

    def spokes() -> Iterator[object]:
        for i, n in enumerate(samples):
            angle = np.pi * i / len(samples)
            radius = (np.arange(n) - n / 2) / n * scale
            traj = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1).astype(np.float32)
            data = (rng.standard_normal((2, n)) + 1j * rng.standard_normal((2, n))).astype(np.complex64)
            acq = ismrmrd.Acquisition.from_array(data, traj)
            acq.idx.kspace_encode_step_1 = i
            yield acq

    xml = ismrmrd_header_xml((MATRIX, MATRIX, 1), (200.0, 200.0, 5.0), "radial")
    return write_ismrmrd_file(path, xml, spokes())


def _fastmri(path: Path, header: str | None = "dataset", fov: float = 220.0, seed: int = 0) -> Path:
    """A small multi-coil fastMRI file (2 slices, 2 coils, 64 x 48, 2x readout oversampling)."""
    from recon_cli.io.fastmri import fastmri_header_xml, write_fastmri

    rng = np.random.default_rng(seed)
    kspace = (rng.standard_normal((2, 2, 64, 48)) + 1j * rng.standard_normal((2, 2, 64, 48))).astype(
        np.complex64
    )
    xml = fastmri_header_xml((64, 48), (32, 32), (2 * fov, fov, 5.0), (fov, fov, 5.0), n_coils=2)
    write_fastmri(path, kspace, header_xml=xml if header == "dataset" else None)
    if header == "attribute":
        with h5py.File(path, "a") as f:
            f.attrs["ismrmrd_header"] = xml
    return path


# ------------------------------------------------------------------------------------------- cases

_RECON_MATRIX = "<x>32</x>\n\t\t\t\t<y>32</y>"
_RECON_FOV = "<x>300.000000</x>"


def _reconstruct(path: Path, *extra: str) -> tuple[str, ...]:
    return ("reconstruct", str(path), "--model", "zero-filled", "--out", "{out}", "--format", "nifti", *extra)


def _negative_matrix(folder: Path) -> Attack:
    path = set_xml(generator_file(folder), _RECON_MATRIX, _RECON_MATRIX.replace("<x>32", "<x>-64"))
    return Attack(_reconstruct(path), 3, "has a size below 1")


def _zero_matrix(folder: Path) -> Attack:
    path = set_xml(generator_file(folder), _RECON_MATRIX, _RECON_MATRIX.replace("<y>32", "<y>0"))
    return Attack(("info", str(path)), 3, "has a size below 1")


def _huge_matrix(folder: Path) -> Attack:
    path = set_xml(generator_file(folder), _RECON_MATRIX, _RECON_MATRIX.replace("<x>32", "<x>1000000000"))
    return Attack(_reconstruct(path), 3, "1000000000 x 32 exceeds the limit of 4096")


def _nan_fov(folder: Path) -> Attack:
    path = set_xml(generator_file(folder), _RECON_FOV, "<x>nan</x>")
    return Attack(_reconstruct(path), 3, "is not a finite number")


def _huge_fov(folder: Path) -> Attack:
    path = set_xml(generator_file(folder), _RECON_FOV, "<x>1e12</x>")
    return Attack(("info", str(path)), 3, "outside the plausible 1..10000 mm")


def _mixed_samples(folder: Path) -> Attack:
    path = radial_file(folder / "mixed.h5", samples=(64, 64, 64, 48, 64, 64, 64, 64))
    return Attack(("info", str(path)), 3, "inconsistent sample counts")


def _scaled_trajectory(folder: Path) -> Attack:
    path = radial_file(folder / "scaled.h5", scale=1e6)
    return Attack(_reconstruct(path, "--traj-units", "normalised"), 3, "beyond the plausible 2 pi")


def nobody_prefix() -> list[str]:
    """``setpriv`` arguments that run a command as user nobody, when running as root; else nothing."""
    import os

    if os.geteuid() != 0:
        return []
    tool = shutil.which("setpriv")
    if tool is None:
        raise RuntimeError("setpriv (util-linux) is needed to drop root")
    return [tool, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def _unreadable_file(folder: Path) -> Attack:
    path = generator_file(folder)
    path.chmod(0o000)
    return Attack(("info", str(path)), 3, "permission denied", as_nobody=True)


def _directory_input(folder: Path) -> Attack:
    (folder / "scan.h5").mkdir()
    return Attack(("info", str(folder / "scan.h5")), 3, "is a directory")


def _symlink_loop(folder: Path) -> Attack:
    (folder / "loop.h5").symlink_to(folder / "loop.h5")
    return Attack(("info", str(folder / "loop.h5")), 3, "symbolic links")


def _declared_huge_kspace(folder: Path) -> Attack:
    path = folder / "huge.h5"
    with h5py.File(path, "w") as f:  # 2 TB declared, nothing stored: reading it would allocate it all
        f.create_dataset("kspace", shape=(1, 4, 200_000, 200_000), dtype=np.complex64, chunks=(1, 1, 64, 64))
    return Attack(("info", str(path)), 3, "exceeds the limit of 8192")


def _unwritten_kspace(folder: Path) -> Attack:
    path = folder / "unwritten.h5"
    with h5py.File(path, "w") as f:  # within the per-axis limits, 4 GiB declared, nothing stored
        f.create_dataset("kspace", shape=(8, 16, 2048, 2048), dtype=np.complex64, chunks=(1, 1, 256, 256))
    return Attack(_reconstruct(path), 3, "never written or truncated")


def _header_attribute(folder: Path) -> Attack:
    path = _fastmri(folder / "attr.h5", header="attribute")
    return Attack(_reconstruct(path), 0, outputs=True, guess="no slice geometry")


def _no_header(folder: Path) -> Attack:
    path = _fastmri(folder / "nohdr.h5", header=None)
    return Attack(_reconstruct(path, "--strict"), 3, "refused under --strict", guess="1 mm per pixel")


def _coil_mismatch(folder: Path) -> Attack:
    path = set_xml(generator_file(folder), "<receiverChannels>2<", "<receiverChannels>8<")
    return Attack(_reconstruct(path), 0, outputs=True, guess="states 8 receiver channels")


def _zero_directions(folder: Path) -> Attack:
    path = generator_file(folder)
    with h5py.File(path, "a") as f:
        table = f["dataset/data"]
        heads = table.fields("head")[:]
        for key in ("read_dir", "phase_dir", "slice_dir"):
            heads[key] = 0.0
        records = table[:]
        records["head"] = heads
        table[:] = records
    return Attack(_reconstruct(path), 0, outputs=True, guess="zero direction vectors")


def _wrong_type_xml(folder: Path) -> Attack:
    path = set_xml(generator_file(folder), _RECON_MATRIX, _RECON_MATRIX.replace("<x>32", "<x>32.5"))
    return Attack(("info", str(path)), 3, "value of the wrong type")


def _truncated_file(folder: Path) -> Attack:
    path = _fastmri(folder / "cut.h5")
    with path.open("r+b") as fh:
        fh.truncate(path.stat().st_size // 2)
    return Attack(_reconstruct(path), 3, "cut.h5")


def _nan_kspace(folder: Path) -> Attack:
    path = _fastmri(folder / "nan.h5")
    with h5py.File(path, "a") as f:
        data = f["kspace"][()]
        data[0, 0, 10, 10] = np.nan
        f["kspace"][()] = data
    return Attack(_reconstruct(path), 3, "NaN or Inf")


def _self_evaluation(folder: Path) -> Attack:
    path = folder / "recon.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=np.random.default_rng(4).random((1, 2, 16, 16)).astype(np.complex64))
    return Attack(("evaluate", str(path), "--reference", str(path), "--out", "{out}"), 0, outputs=True)


def _nan_image(folder: Path) -> Attack:
    images = np.random.default_rng(5).random((1, 1, 16, 16))
    with h5py.File(folder / "ref.h5", "w") as f:
        f.create_dataset("images", data=images.astype(np.complex64))
    images[0, 0, 5, 5] = np.nan
    with h5py.File(folder / "nan.h5", "w") as f:
        f.create_dataset("images", data=images.astype(np.complex64))
    args = ("evaluate", str(folder / "nan.h5"), "--reference", str(folder / "ref.h5"), "--out", "{out}")
    return Attack(args, 3, "contains NaN/Inf values", outputs=True)


# ---------------------------------------------- outputs that would destroy inputs, models that cannot run


def _output_folder_holds_input(folder: Path) -> Attack:
    nested = folder / "d" / "cart"
    nested.mkdir(parents=True)
    path = generator_file(nested)  # d/cart/cart.h5: `--out d` would make d/cart/ the output folder
    args = ("reconstruct", str(path), "--out", str(folder / "d"), "--format", "h5", "--overwrite")
    return Attack(args, 2, "would replace the input")


def _coil_maps_over_input(folder: Path) -> Attack:
    path = generator_file(folder)
    return Attack(
        ("estimate-coils", str(path), "--out", str(path), "--overwrite"), 2, "would replace the input"
    )


def _mask_over_hard_link(folder: Path) -> Attack:
    path = generator_file(folder)
    link = folder / "link.h5"
    link.hardlink_to(path)
    args = ("simulate-mask", "--kind", "random", "-R", "2", "--apply-to", str(path), "--out", str(link))
    return Attack((*args, "--overwrite"), 2, "would replace the input")


def _untrained_model(folder: Path) -> Attack:
    path = generator_file(folder)
    args = ("reconstruct", str(path), "--model", "unet", "--out", "{out}", "--format", "nifti")
    return Attack(args, 4, "no trained weights")


class _Payload:
    """Pickled, it asks the loader to run a shell command (a malicious checkpoint)."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, ("touch pwned",))


def _pickle_weights(folder: Path) -> Attack:
    import torch

    path = generator_file(folder)
    weights = folder / "weights.pt"
    torch.save({"payload": _Payload()}, weights)
    args = ("reconstruct", str(path), "--model", "cunet", "--weights", str(weights), "--out", "{out}")
    return Attack(args, 3, "unsafe")


def _nan_setting(folder: Path) -> Attack:
    path = generator_file(folder)
    args = ("reconstruct", str(path), "--model", "cs", "--set", "lam_wavelet=nan", "--out", "{out}")
    return Attack(args, 4, "finite")


CASES: list[Case] = [
    Case("negative-recon-matrix", "ISMRMRD recon matrix x = -64", _negative_matrix),
    Case("zero-recon-matrix", "ISMRMRD recon matrix y = 0", _zero_matrix),
    Case("huge-recon-matrix", "ISMRMRD recon matrix x = 10^9", _huge_matrix),
    Case("nan-fov", "ISMRMRD recon FOV x = NaN", _nan_fov),
    Case("huge-fov", "ISMRMRD recon FOV x = 1e12 mm", _huge_fov),
    Case("radial-mixed-samples", "ISMRMRD radial, one spoke of 48 samples among 64", _mixed_samples),
    Case("trajectory-x1e6", "ISMRMRD radial trajectory scaled by 10^6", _scaled_trajectory),
    Case("unreadable-file", "ISMRMRD file with mode 000, read as user nobody", _unreadable_file),
    Case("input-is-directory", "the input path is a folder (open fails)", _directory_input),
    Case("symlink-loop", "the input is a symbolic link to itself", _symlink_loop),
    Case("xml-wrong-type", "ISMRMRD recon matrix x = 32.5 (not an integer)", _wrong_type_xml),
    Case("truncated-file", "fastMRI file cut to half its size", _truncated_file),
    Case("nan-kspace", "fastMRI kspace with one NaN sample", _nan_kspace),
    Case(
        "declared-huge-kspace",
        "fastMRI kspace declared 200000 x 200000, nothing stored",
        _declared_huge_kspace,
    ),
    Case(
        "unwritten-kspace", "fastMRI kspace 8 x 16 x 2048 x 2048 declared, nothing stored", _unwritten_kspace
    ),
    Case("header-as-attribute", "fastMRI ismrmrd_header as a root attribute", _header_attribute),
    Case("no-header-strict", "fastMRI without ismrmrd_header, --strict", _no_header),
    Case("coil-count-mismatch", "ISMRMRD header says 8 receiver channels, data 2", _coil_mismatch),
    Case("zero-direction-vectors", "ISMRMRD read/phase/slice directions all zero", _zero_directions),
    Case("evaluate-self", "evaluate a file against itself (PSNR inf)", _self_evaluation),
    Case("evaluate-nan-image", "evaluate an image holding one NaN", _nan_image),
    Case(
        "output-folder-holds-input",
        "reconstruct d/cart/cart.h5 --out d --overwrite",
        _output_folder_holds_input,
    ),
    Case("coil-maps-over-input", "estimate-coils writing onto its own input", _coil_maps_over_input),
    Case("mask-over-hard-link", "simulate-mask --out a hard link of its input", _mask_over_hard_link),
    Case("untrained-model", "a learned model (unet) with no trained weights", _untrained_model),
    Case("pickle-weights", "a weights file that would run a shell command if unpickled", _pickle_weights),
    Case("nan-setting", "cs with --set lam_wavelet=nan", _nan_setting),
]

"""Property-based fuzzing of the readers and of ``recon info`` / ``recon reconstruct`` (issue 13.5, 13.13).

Start from valid files (ISMRMRD's generator, a radial ISMRMRD file from the ismrmrd package, a fastMRI
file from recon's writer), apply one mutation drawn by hypothesis (an XML field set to an odd value, the
XML cut short, a dataset removed or replaced by another shape and dtype, an attribute added, an
acquisition-header field changed, NaN samples, the file truncated) and require: ``read_scan`` returns a
scan or raises a ``ReconError`` whose exit code is one of DESIGN.md's (2, 3, 4, 5), never anything else;
``recon info`` exits 0 or with such a code, never 1 and never with a traceback; a failed
``recon reconstruct`` leaves no output behind. Derandomised (the same examples every run) and bounded.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from recon_cli.cli.main import app
from recon_cli.errors import ReconError
from recon_cli.io import read_scan
from tests.attack_cases import _fastmri, generator_file, radial_file

runner = CliRunner()
TYPED_EXITS = {2, 3, 4, 5}
FUZZ = settings(
    derandomize=True,
    max_examples=int(os.environ.get("RECON_FUZZ_EXAMPLES", "60")),  # more for a longer hunt
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

XML_TAGS = [
    "x", "y", "z", "receiverChannels", "trajectory", "center", "maximum", "minimum",
    "H1resonanceFrequency_Hz", "version", "kspace_encoding_step_1", "matrixSize",
]  # fmt: skip
HEAD_FIELDS = [
    "number_of_samples", "active_channels", "trajectory_dimensions", "center_sample", "discard_pre",
    "discard_post", "flags", "encoding_space_ref", "read_dir", "phase_dir", "position",
    "idx.kspace_encode_step_1", "idx.kspace_encode_step_2", "idx.slice", "idx.phase", "idx.repetition",
    "idx.contrast", "acquisition_time_stamp",
]  # fmt: skip

odd_numbers = st.one_of(
    st.integers(-(2**40), 2**40),
    st.sampled_from([0, -1, 1, 65535, 2**31, 10**9]),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
)
odd_text = st.one_of(
    odd_numbers.map(str),
    st.text(st.characters(exclude_characters="\x00"), max_size=12),
    st.sampled_from(["", "nan", "1e12", "<x>"]),
)
odd_arrays = st.one_of(
    st.tuples(
        st.sampled_from(["int8", "float32", "complex64", "bool", "float64", "uint16"]),
        st.lists(st.integers(0, 5), min_size=0, max_size=4),
    ),
    st.just(("str", [])),
)


@pytest.fixture(scope="module")
def valid(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("valid")
    return {
        "cartesian": generator_file(folder),
        "radial": radial_file(folder / "radial.h5"),
        "fastmri": _fastmri(folder / "fastmri.h5"),
    }


# ------------------------------------------------------------------------------------- mutations


def _xml_get(f: h5py.File) -> tuple[str, Callable[[str], None]]:
    """The XML text of an ISMRMRD or fastMRI file, and a function that stores a replacement."""
    if "dataset" in f:
        text = f["dataset/xml"][0]

        def put(new: str) -> None:
            del f["dataset/xml"]
            f["dataset"].create_dataset(
                "xml", data=[new.encode("utf-8", "replace")], dtype=h5py.string_dtype()
            )

    else:
        text = f["ismrmrd_header"][()]

        def put(new: str) -> None:
            del f["ismrmrd_header"]
            f.create_dataset("ismrmrd_header", data=new.encode("utf-8", "replace"))

    return (text.decode() if isinstance(text, bytes) else str(text)), put


def mutate_xml_field(path: Path, tag: str, nth: int, value: str) -> None:
    with h5py.File(path, "a") as f:
        text, put = _xml_get(f)
        hits = list(re.finditer(rf"<{tag}>([^<]*)</{tag}>", text))
        if hits:
            hit = hits[nth % len(hits)]
            text = text[: hit.start(1)] + value + text[hit.end(1) :]
        put(text)


def truncate_xml(path: Path, fraction: float) -> None:
    with h5py.File(path, "a") as f:
        text, put = _xml_get(f)
        put(text[: int(len(text) * fraction)])


def _datasets(f: h5py.File) -> list[str]:
    names: list[str] = []
    f.visititems(lambda name, node: names.append(name) if isinstance(node, h5py.Dataset) else None)
    return sorted(names)


def replace_dataset(path: Path, pick: int, dtype: str, shape: list[int], drop: bool) -> None:
    with h5py.File(path, "a") as f:
        names = _datasets(f)
        name = names[pick % len(names)]
        del f[name]
        if drop:
            return
        if dtype == "str":
            f.create_dataset(name, data="not what you expected")
        else:
            f.create_dataset(name, data=np.ones(shape, dtype=dtype))


def add_dataset(path: Path, name: str, dtype: str, shape: list[int]) -> None:
    """A dataset recon looks for (a mask, a reference, ...) with an odd shape and dtype, replacing any."""
    with h5py.File(path, "a") as f:
        if "dataset" in f and not name.startswith("dataset/"):
            name = f"dataset/{name}"
        if name in f:
            del f[name]
        f.create_dataset(name, data="text" if dtype == "str" else np.ones(shape, dtype=dtype))


def add_attribute(path: Path, name: str, value: str) -> None:
    with h5py.File(path, "a") as f:
        target = f["dataset"] if "dataset" in f else f
        target.attrs[name] = value


def mutate_head(path: Path, field: str, row: int, value: float) -> None:
    with h5py.File(path, "a") as f:
        table = f["dataset/data"]
        records = table[:]
        head = records["head"]
        keys = field.split(".")
        column = head[keys[0]] if len(keys) == 1 else head[keys[0]][keys[1]]
        dtype = column.dtype.base
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            clean = 0 if not np.isfinite(value) else int(np.clip(value, info.min, info.max))
            cast: object = np.array(clean).astype(dtype)
        else:
            cast = np.array(value).astype(dtype)
        column[row % len(records)] = cast
        records["head"] = head
        table[:] = records


def scale_trajectory(path: Path, factor: float) -> None:
    """Multiply every stored trajectory point (ISMRMRD non-Cartesian files) by ``factor``."""
    with h5py.File(path, "a") as f:
        if "dataset" not in f:
            return
        records = f["dataset/data"][:]
        for i in range(len(records)):
            records["traj"][i] = (records["traj"][i] * np.float32(factor)).astype(np.float32)
        f["dataset/data"][:] = records


def nan_samples(path: Path) -> None:
    with h5py.File(path, "a") as f:
        if "kspace" in f:
            data = f["kspace"][()]
            data.flat[len(data.flat) // 2] = np.nan
            f["kspace"][()] = data
        else:
            records = f["dataset/data"][:]
            records["data"][0][0] = np.nan
            f["dataset/data"][:] = records


def truncate_file(path: Path, fraction: float) -> None:
    size = path.stat().st_size
    with path.open("r+b") as fh:
        fh.truncate(int(size * fraction))


mutations = st.one_of(
    st.tuples(st.just("xml"), st.sampled_from(XML_TAGS), st.integers(0, 5), odd_text),
    st.tuples(st.just("xml-cut"), st.floats(0.0, 0.99)),
    st.tuples(st.just("dataset"), st.integers(0, 20), odd_arrays, st.booleans()),
    st.tuples(
        st.just("attribute"), st.sampled_from(["ismrmrd_header", "acceleration", "max", "x"]), odd_text
    ),
    st.tuples(st.just("head"), st.sampled_from(HEAD_FIELDS), st.integers(0, 100), odd_numbers.map(float)),
    st.tuples(st.just("nan")),
    st.tuples(
        st.just("traj"),
        st.one_of(st.sampled_from([0.0, -1.0, 1.5, 3.0, 1e6, np.nan]), st.floats(-1e9, 1e9, width=32)),
    ),
    st.tuples(st.just("truncate"), st.floats(0.05, 0.99)),
)


def apply(mutation: tuple, path: Path) -> None:
    kind, *args = mutation
    if kind == "xml":
        mutate_xml_field(path, *args)
    elif kind == "xml-cut":
        truncate_xml(path, *args)
    elif kind == "dataset":
        pick, (dtype, shape), drop = args
        replace_dataset(path, pick, dtype, shape, drop)
    elif kind == "add":
        name, (dtype, shape) = args
        add_dataset(path, name, dtype, shape)
    elif kind == "attribute":
        add_attribute(path, *args)
    elif kind == "head":
        with h5py.File(path, "r") as f:
            is_ismrmrd = "dataset" in f
        if is_ismrmrd:
            mutate_head(path, *args)
    elif kind == "nan":
        nan_samples(path)
    elif kind == "traj":
        scale_trajectory(path, *args)
    else:
        truncate_file(path, *args)


def _mutated(valid: dict[str, Path], source: str, mutation: tuple, folder: Path) -> Path:
    path = folder / f"{source}.h5"
    shutil.copy(valid[source], path)
    apply(mutation, path)
    return path


# ------------------------------------------------------------------------------------- properties


@FUZZ
@given(source=st.sampled_from(["cartesian", "radial", "fastmri"]), mutation=mutations)
def test_readers_raise_only_typed_errors(valid: dict[str, Path], source: str, mutation: tuple) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _mutated(valid, source, mutation, Path(folder))
        try:
            scan = read_scan(path)
        except ReconError as exc:
            assert exc.exit_code in TYPED_EXITS, (mutation, exc)
            assert str(path) in str(exc) and "\n" not in str(exc), (mutation, str(exc))
        else:
            assert all(isinstance(g, str) and g for g in scan.guesses)


@FUZZ
@given(source=st.sampled_from(["cartesian", "radial", "fastmri"]), mutation=mutations)
def test_info_exits_cleanly(valid: dict[str, Path], source: str, mutation: tuple) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _mutated(valid, source, mutation, Path(folder))
        result = runner.invoke(app, ["info", str(path)])
        assert result.exit_code in {0} | TYPED_EXITS, (mutation, result.output)
        assert "Traceback" not in result.output and "internal error" not in result.output, mutation


@settings(FUZZ, max_examples=max(12, FUZZ.max_examples // 5))
@given(source=st.sampled_from(["cartesian", "fastmri"]), mutation=mutations)
def test_failed_reconstruct_leaves_nothing(valid: dict[str, Path], source: str, mutation: tuple) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _mutated(valid, source, mutation, Path(folder))
        out = Path(folder) / "out"
        args = ["reconstruct", str(path), "--model", "zero-filled", "--out", str(out), "--format", "nifti"]
        result = runner.invoke(app, args)
        assert result.exit_code in {0} | TYPED_EXITS, (mutation, result.output)
        assert "Traceback" not in result.output and "internal error" not in result.output, mutation
        if result.exit_code != 0:
            left = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
            assert not left, (mutation, left)

"""A batch split over processes: --shard, SLURM job arrays and torchrun ranks each take every file once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from recon_cli.batch import Shard, parse_shard, resolve_shard
from recon_cli.cli.main import app
from recon_cli.errors import UsageError
from tests.helpers import small_cine

runner = CliRunner()
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Five tiny radial cine files with different seeds."""
    from recon_cli.io.ismrmrd_write import write_ismrmrd

    root = tmp_path_factory.mktemp("batch")
    paths = []
    for i in range(5):
        _, _, scan = small_cine("radial", n=32, frames=3, coils=3, seed=40 + i)
        paths.append(write_ismrmrd(root / f"scan{i}.h5", scan))
    return paths


def _images(out: Path) -> dict[str, np.ndarray]:
    found = {}
    for path in sorted(out.glob("*/*.h5")):
        with h5py.File(path) as f:
            found[path.stem] = f["images"][()]
    return found


@pytest.fixture(scope="module")
def single(batch: list[Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    out = tmp_path_factory.mktemp("single")
    result = runner.invoke(app, ["reconstruct", *map(str, batch), "--out", str(out), "--format", "h5"])
    assert result.exit_code == 0, result.stderr
    return _images(out)


def test_shards_compose_and_cover_every_input_once() -> None:
    assert parse_shard("1/3") == Shard(1, 3, "--shard")
    for bad in ("3/3", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(UsageError):
            parse_shard(bad)
    assert resolve_shard(None, {}) == Shard()
    slurm = {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "4", "SLURM_ARRAY_TASK_COUNT": "3"}
    assert resolve_shard(None, slurm) == Shard(1, 3, "slurm")
    assert resolve_shard("0/2", slurm) == Shard(0, 2, "--shard")  # the option replaces the array's split
    ranks = {"WORLD_SIZE": "2", "RANK": "1"}
    assert resolve_shard(None, {**slurm, **ranks}) == Shard(3, 6, "slurm+torchrun")
    items = [Path(f"f{i}") for i in range(11)]
    for count in (1, 2, 3, 7):
        taken = [p for i in range(count) for p in Shard(i, count).select(items)]
        assert sorted(taken) == sorted(items) and len(taken) == len(items)


def test_shard_option_and_slurm_split_the_batch(batch: list[Path], single: dict, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "sharded"
    args = ["reconstruct", *map(str, batch), "--out", str(out), "--format", "h5"]
    for i in range(2):
        assert runner.invoke(app, [*args, "--shard", f"{i}/2"]).exit_code == 0
    for task in (1, 2):  # a SLURM array --array=1-2 into another folder
        env = {"SLURM_ARRAY_TASK_ID": str(task), "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "2"}
        result = runner.invoke(app, [*args[:-4], "--out", str(tmp_path / "slurm"), "--format", "h5"], env=env)
        assert result.exit_code == 0, result.stderr
    for folder in (out, tmp_path / "slurm"):
        images = _images(folder)
        assert sorted(images) == sorted(single)
        for name, image in images.items():
            np.testing.assert_array_equal(image, single[name])
    record = json.loads((out / "scan1" / "scan1.run.json").read_text())
    assert record["shard"] == {"index": 1, "count": 2, "by": "--shard"}


def test_torchrun_batch_processes_every_file_once(batch: list[Path], single: dict, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "ranks"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
        "-m", "recon_cli.cli.main", "reconstruct", *map(str, batch), "--out", str(out), "--format", "h5",
        "--json", "--device", "auto",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)  # one summary, printed by rank 0 only
    assert summary["total"] == summary["ok"] == len(batch)
    assert [f["input"] for f in summary["files"]] == list(map(str, batch))
    images = _images(out)
    assert sorted(images) == sorted(single)
    for name, image in images.items():
        np.testing.assert_array_equal(image, single[name])
    by = {json.loads(p.read_text())["shard"]["index"] for p in out.glob("*/*.run.json")}
    assert by == {0, 1}

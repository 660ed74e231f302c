"""``recon train``: datasets, sampler, loop, checkpoints, resume (one and two processes), run folder."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from typer.testing import CliRunner

from recon_cli.cli.main import app
from recon_cli.errors import InputDataError, ModelError, OutputExistsError, UsageError
from recon_cli.io.fastmri import read_fastmri
from recon_cli.ops.functional import center_crop, ifft2c, rss
from recon_cli.train import TrainRequest, train
from recon_cli.train.config import DataConfig, TrainConfig, build_config, split_settings
from recon_cli.train.datasets import FastMRISlices, IsmrmrdSlices
from recon_cli.train.examples import collate
from recon_cli.train.objective import lr_factor
from recon_cli.train.sampler import BucketBatchSampler, ShardedSampler
from recon_cli.train.synthetic import SyntheticCine, write_fastmri_folder
from tests.helpers import set_options

runner = CliRunner()

TINY_MODEL = {"chans": 4, "num_pools": 2}
TINY_DATA = {"matrix": 32, "frames": 2, "coils": 4, "length": 5, "val_length": 2}


def _request(out: Path, **changes: object) -> TrainRequest:
    """A tiny Cartesian synthetic run: 6 steps of 2 accumulated batches, validation every 3 steps."""
    base = {
        "out_dir": out,
        "model": "unet",
        "data": "synthetic:cartesian",
        "val": "synthetic:cartesian",
        "model_config": dict(TINY_MODEL),
        "data_config": dict(TINY_DATA),
        "train_config": {
            "steps": 6,
            "accumulate": 2,
            "val_every": 3,
            "ckpt_every": 100,
            "log_every": 1,
            "workers": 0,
            "warmup": 2,
            "clip": 1.0,
            "seed": 7,
        },
        "device": "cpu",
    }
    base.update(changes)
    return TrainRequest(**base)  # type: ignore[arg-type]


def _load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def _assert_same_weights(a: dict, b: dict) -> None:
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key


@pytest.fixture(scope="module")
def fastmri_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fastmri")
    write_fastmri_folder(folder, 3, slices=2, coils=4, matrix=32, seed=11)
    return folder


# ---------------------------------------------------------------- configuration


def test_settings_split_by_prefix_and_unknown_keys_fail() -> None:
    model, data, train_cfg = split_settings(
        {"chans": "8", "data.matrix": "48", "train.lr": "1e-4", "data": {"frames": 3}}
    )
    assert model == {"chans": "8"} and data == {"matrix": "48", "frames": 3} and train_cfg == {"lr": "1e-4"}
    assert build_config(DataConfig, data, "data").matrix == 48
    assert build_config(TrainConfig, train_cfg, "train").lr == pytest.approx(1e-4)
    with pytest.raises(UsageError, match="unknown data setting"):
        build_config(DataConfig, {"matirx": 3}, "data")
    with pytest.raises(UsageError, match="train.steps expects int"):
        build_config(TrainConfig, {"steps": "many"}, "train")


def test_learning_rate_schedules() -> None:
    cosine = TrainConfig(steps=10, warmup=2)
    factors = [lr_factor(s, cosine) for s in range(10)]
    assert factors[:2] == [0.5, 1.0] and factors[2] == 1.0 and factors[-1] < 0.05
    assert all(a >= b for a, b in zip(factors[1:], factors[2:], strict=False))
    step = TrainConfig(steps=9, schedule="step", step_size=3, gamma=0.5)
    assert [lr_factor(s, step) for s in (0, 2, 3, 6)] == [1.0, 1.0, 0.5, 0.25]


# ---------------------------------------------------------------- sampler


def test_bucket_sampler_is_deterministic_sharded_and_resumable() -> None:
    keys = ["a"] * 7 + ["b"] * 5
    sampler = BucketBatchSampler(keys, 2, seed=3)
    epoch0, epoch1 = sampler.epoch_batches(0), sampler.epoch_batches(1)
    assert epoch0 == BucketBatchSampler(keys, 2, seed=3).epoch_batches(0)
    assert epoch0 != epoch1
    assert all(len({keys[i] for i in batch}) == 1 for batch in epoch0)
    assert sorted(i for batch in epoch0 for i in batch) == list(range(12))
    sampler.set_epoch(1, start=2)
    assert [[i for i, _ in b] for b in sampler] == epoch1[2:]
    assert {e for b in BucketBatchSampler(keys, 2, seed=3) for _, e in b} == {0}  # keys carry the epoch
    shards = [BucketBatchSampler(keys, 2, seed=3, rank=r, world_size=4) for r in range(4)]
    per_rank = [s.rank_batches(5) for s in shards]
    assert len({len(b) for b in per_rank}) == 1 and len(per_rank[0]) == len(shards[0])
    covered = {i for batches in per_rank for b in batches for i in b}
    assert covered == set(range(12))


def test_validation_sampler_splits_evenly_without_repeats() -> None:
    shares = [[k for b in ShardedSampler(7, rank=r, world_size=3) for k in b] for r in range(3)]
    assert sorted(i for share in shares for i, _ in share) == list(range(7))
    assert {len(s) for s in shares} == {2, 3}


# ---------------------------------------------------------------- datasets


def test_fastmri_masks_differ_per_epoch_file_and_rank_and_are_reproducible(fastmri_folder: Path) -> None:
    files = sorted(fastmri_folder.glob("*.h5"))
    data = FastMRISlices(files, DataConfig(acceleration=3.0), seed=5)
    assert len(data) == 6
    mask = data[(0, 0)]["mask"]
    assert torch.equal(mask, FastMRISlices(files, DataConfig(acceleration=3.0), seed=5)[(0, 0)]["mask"])
    assert not torch.equal(mask, data[(0, 1)]["mask"])  # next epoch
    assert not torch.equal(mask, data[(2, 0)]["mask"])  # another file, same slice
    assert not torch.equal(
        mask, FastMRISlices(files, DataConfig(acceleration=3.0), seed=5, rank=1)[(0, 0)]["mask"]
    )
    assert data[(0, 0)]["meta"]["acceleration"] > 2.0


def test_fastmri_examples_hold_the_rss_target_and_masked_kspace(fastmri_folder: Path) -> None:
    path = sorted(fastmri_folder.glob("*.h5"))[1]
    example = FastMRISlices([path], DataConfig(), seed=0)[(1, 0)]
    scan = read_fastmri(path)
    full = scan.kspace[1]  # (1, coils, rows, cols), oversampling removed
    expected = center_crop(rss(ifft2c(full)), scan.header.recon_matrix)
    torch.testing.assert_close(example["target"], expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(example["kspace"], full * example["mask"])
    assert example["mask"].shape == (1, 1, *full.shape[-2:])


@pytest.mark.parametrize("workers", [0, 2])
def test_loading_leaves_no_hdf5_file_open(fastmri_folder: Path, tmp_path: Path, workers: int) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    for path in fastmri_folder.glob("*.h5"):
        (folder / path.name).write_bytes(path.read_bytes())
    files = sorted(folder.glob("*.h5"))
    data = FastMRISlices(files, DataConfig(), seed=0)
    sampler = BucketBatchSampler([data.shape_key(i) for i in range(len(data))], 2, seed=0)
    loader = DataLoader(data, batch_sampler=sampler, num_workers=workers, collate_fn=collate)
    batches = list(loader)
    assert sum(b["kspace"].shape[0] for b in batches) == 6
    assert h5py.h5f.get_obj_count(h5py.h5f.OBJ_ALL, h5py.h5f.OBJ_FILE) == 0
    with h5py.File(files[0], "w") as f:  # would fail while any handle is open in this process
        f["x"] = 1
    files[1].unlink()


def test_synthetic_examples_are_seeded_and_fresh_each_epoch() -> None:
    config = DataConfig(**TINY_DATA)
    data = SyntheticCine("cartesian", config, seed=1)
    a, b = data[(2, 0)], data[(2, 0)]
    assert torch.equal(a["kspace"], b["kspace"]) and torch.equal(a["target"], b["target"])
    assert not torch.equal(a["target"], data[(2, 1)]["target"])
    assert not torch.equal(a["target"], SyntheticCine("cartesian", config, seed=1, rank=1)[(2, 0)]["target"])
    fixed = SyntheticCine("cartesian", config, seed=1, fresh=False)
    assert torch.equal(fixed[(2, 0)]["target"], fixed[(2, 5)]["target"])
    radial = SyntheticCine("radial", config, seed=1)[(0, 0)]
    assert radial["kspace"].shape == (2, 4, 13 * 64) and radial["dcf"].shape == (2, 1, 13 * 64)
    assert a["kspace"].shape == (2, 4, 32, 32) and a["target"].dtype == torch.complex64


def test_synthetic_detail_is_drawn_per_example_and_leaves_the_rest_alone() -> None:
    """data.detail: each example's phantom is ``cardiac_cine_phantom`` at a level drawn in [0, detail];
    at 0 the examples are those of the flat phantoms, and the coils and motion never change."""
    from recon_cli.phantoms import cardiac_cine_phantom

    flat = SyntheticCine("cartesian", DataConfig(**TINY_DATA), seed=1)
    rich = SyntheticCine("cartesian", DataConfig(**TINY_DATA, detail=0.8), seed=1)
    levels = [rich.detail_level(rich.item_seed(i, 0)) for i in range(8)]
    assert all(0 <= v <= 0.8 for v in levels) and len(set(levels)) == 8
    for i in (0, 3):
        seed = rich.item_seed(i, 0)
        gen = torch.Generator().manual_seed(seed)
        expected = cardiac_cine_phantom(32, 2, generator=gen, detail=levels[i])
        assert torch.equal(rich[(i, 0)]["target"], expected.to(torch.complex64))
        flat_expected = cardiac_cine_phantom(32, 2, generator=torch.Generator().manual_seed(seed))
        assert torch.equal(flat[(i, 0)]["target"], flat_expected.to(torch.complex64))
    with pytest.raises(UsageError, match="detail"):
        DataConfig(detail=1.5)


def _reference_file(folder: Path, stem: str, reference: torch.Tensor) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with h5py.File(folder / f"{stem}.h5", "w") as f:
        f["reference"] = reference.numpy()


def test_ismrmrd_references_from_file_folder_and_cached_cs(
    radial_sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recon_cli.io import read_scan

    data_dir = tmp_path / "scans"
    data_dir.mkdir()
    (data_dir / "cine.h5").write_bytes(radial_sample.read_bytes())
    files = [data_dir / "cine.h5"]
    truth = read_scan(radial_sample).reference
    example = IsmrmrdSlices(files, DataConfig(), data_dir=data_dir, seed=0)[(0, 0)]
    assert torch.equal(example["target"], truth[0])
    assert example["kspace"].shape == (20, 8, 13 * 256) and example["meta"]["im_size"] == (128, 128)
    _reference_file(tmp_path / "refs", "cine", 2 * truth)
    config = DataConfig(reference="folder", reference_dir=str(tmp_path / "refs"))
    assert torch.equal(
        IsmrmrdSlices(files, config, data_dir=data_dir, seed=0)[(0, 0)]["target"], 2 * truth[0]
    )

    calls = []

    def fake_cs(scan, out, coil_method):  # stands in for the cs model: writes what it would cache
        calls.append(out)
        _reference_file(out.parent, out.stem, 3 * truth)
        return out

    monkeypatch.setattr("recon_cli.train.references.write_cs_reference", fake_cs)
    config = DataConfig(reference="cs", cache_dir=str(tmp_path / "cache"))
    for _ in range(2):  # the second dataset finds the cached reference
        data = IsmrmrdSlices(files, config, data_dir=data_dir, seed=0)
    assert len(calls) == 1 and calls[0] == tmp_path / "cache" / "reference-cs" / "cine.h5"
    assert torch.equal(data[(0, 0)]["target"], 3 * truth[0])


def test_cs_reference_failure_is_a_clear_model_error(
    radial_sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(name, **kwargs):
        raise ModelError(f"Unknown model '{name}'. Available: unet, zero-filled")

    monkeypatch.setattr("recon_cli.reconstruct.load_model", unavailable)
    config = DataConfig(reference="cs", cache_dir=str(tmp_path / "cache"))
    with pytest.raises(ModelError, match="data.reference=cs needs the 'cs' model"):
        IsmrmrdSlices([radial_sample], config, data_dir=tmp_path, seed=0)
    with pytest.raises(InputDataError, match="reference"):
        IsmrmrdSlices(
            [radial_sample],
            DataConfig(reference="folder", reference_dir=str(tmp_path)),
            data_dir=tmp_path,
            seed=0,
        )


# ---------------------------------------------------------------- loop, checkpoints, resume


def test_killed_and_resumed_run_ends_bit_identical(tmp_path: Path) -> None:
    """SIGTERM after step 3 (mid-epoch: 5 batches per epoch, 2 per step), resume, compare with 6 straight."""
    straight = train(_request(tmp_path / "straight"))
    assert straight.step == 6 and not straight.interrupted
    stopped = train(_request(tmp_path / "killed", stop_after=3, command="recon train --out killed"))
    assert stopped.interrupted and stopped.step == 3
    half = _load(tmp_path / "killed" / "last.pt")
    assert half["step"] == 3 and half["data"] == {"epoch": 1, "batch": 1}
    resume = "recon train --resume killed"
    resumed = train(TrainRequest(resume=tmp_path / "killed", device="cpu", command=resume))
    assert resumed.step == 6 and not resumed.interrupted
    record = json.loads((tmp_path / "killed" / "config.json").read_text())
    assert record["command"] == "recon train --out killed" and record["resumed_with"] == [resume]
    a, b = _load(tmp_path / "straight" / "last.pt"), _load(tmp_path / "killed" / "last.pt")
    _assert_same_weights(a, b)
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True):
        assert torch.equal(sa["exp_avg_sq"], sb["exp_avg_sq"])
    assert a["data"] == b["data"] and a["best"] == b["best"]
    rows = [json.loads(r) for r in (tmp_path / "killed" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "train"] == [1, 2, 3, 4, 5, 6]


def test_a_models_auxiliary_loss_is_added_to_the_training_loss(tmp_path: Path) -> None:
    """imunne's fixed-point residual penalty reaches the logged loss: the same seeded first step, with and
    without it, differs by the penalty (about weight x a relative change of order 0.1-1 here)."""
    imunne = {"chans": 4, "depth": 2, "iterations": 3}
    first = []
    for weight in (0.0, 1.0):
        out = tmp_path / f"w{weight:g}"
        config = {"steps": 1, "accumulate": 1, "val_every": 1, "warmup": 0, "clip": 0.0}
        request = _request(out, model="imunne", model_config={**imunne, "residual_weight": weight})
        train(dataclasses.replace(request, train_config={**request.train_config, **config}))
        rows = [json.loads(r) for r in (out / "log.jsonl").read_text().splitlines()]
        first.append(next(r["loss"] for r in rows if r["kind"] == "train"))
    assert first[1] > first[0] + 0.01, first


def test_checkpoints_and_run_folder(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = train(_request(out, train_config={"steps": 2, "val_every": 1, "workers": 1, "amp": "on"}))
    assert result.best is not None and result.last_val is not None
    assert {p.name for p in out.iterdir()} >= {
        "best.pt",
        "last.pt",
        "config.json",
        "log.jsonl",
        "curve.png",
        "MODEL_CARD.md",
    }
    state = _load(out / "best.pt")
    assert state["format"] == "recon-checkpoint/1"
    assert set(state) >= {"model", "optimizer", "scheduler", "scaler", "rng", "step", "data", "config"}
    assert len(state["rng"]) == 1 and state["rng"][0]["torch"].dtype == torch.uint8
    assert state["config"]["model"] == "unet" and state["config"]["model_config"]["chans"] == 4
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["amp"] == "on" and config["data"]["matrix"] == 32
    from PIL import Image

    assert Image.open(out / "curve.png").size[0] > 400
    card = (out / "MODEL_CARD.md").read_text()
    assert "synthetic:cartesian" in card and "NRMSE" in card and "torch" in card


def test_new_run_refuses_an_old_run_folder_and_resume_refuses_changes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(_request(out, val=None, train_config={"steps": 1, "workers": 0}))
    with pytest.raises(OutputExistsError):
        train(_request(out, val=None, train_config={"steps": 1, "workers": 0}))
    with pytest.raises(UsageError, match="cannot change train setting"):
        train(TrainRequest(resume=out, train_config={"lr": 0.5}, device="cpu"))
    more = train(TrainRequest(resume=out, train_config={"steps": 2}, device="cpu"))
    assert more.step == 2


def test_init_starts_a_new_run_from_given_or_shipped_weights(tmp_path: Path) -> None:
    """--init: the new run's first validation is the given weights' (same model, same data), its config
    records where it started, and 'default' takes the plugin's shipped weights with their architecture."""
    first = train(_request(tmp_path / "first", train_config={"steps": 3, "val_every": 3, "workers": 0}))
    once = {"steps": 1, "val_every": 1, "workers": 0}
    tuned = train(_request(tmp_path / "tuned", init=tmp_path / "first" / "last.pt", train_config=once))
    rows = [json.loads(r) for r in (tmp_path / "tuned" / "log.jsonl").read_text().splitlines()]
    start = next(r for r in rows if r["kind"] == "val" and r["step"] == 0)
    assert first.last_val is not None and start["nrmse"] == pytest.approx(first.last_val["nrmse"], rel=1e-5)
    assert json.loads((tmp_path / "tuned" / "config.json").read_text())["init"] == str(
        tmp_path / "first" / "last.pt"
    )
    assert tuned.step == 1
    with pytest.raises(UsageError, match="--init starts a new run"):
        train(TrainRequest(resume=tmp_path / "first", init=tmp_path / "first", device="cpu"))
    with pytest.raises(UsageError, match="ships no default weights"):
        train(_request(tmp_path / "none", init=Path("default")))
    from recon_cli.train.plan import plan_run

    plan = plan_run(
        TrainRequest(
            out_dir=tmp_path / "cunet", model="cunet", data="synthetic:radial", init=Path("default")
        ),
        None,  # type: ignore[arg-type] - a new run's plan does not look at the process group
    )
    assert plan.init_state is not None and plan.model_config.chans == 8


def test_cli_trains_and_reconstruct_uses_the_run_folder(tmp_path: Path, radial_sample: Path) -> None:
    out = tmp_path / "run"
    data = {"matrix": 32, "frames": 2, "coils": 4, "length": 2}
    train = "train --model unet --data synthetic:radial --steps 2 --workers 0".split()
    result = runner.invoke(
        app, [*train, "--out", str(out), *set_options(TINY_MODEL), *set_options(data, "data.")]
    )
    assert result.exit_code == 0, result.output
    recon = runner.invoke(
        app,
        [
            "reconstruct",
            str(radial_sample),
            "--model",
            "unet",
            "--weights",
            str(out),
            "--out",
            str(tmp_path / "images"),
            "--format",
            "h5",
        ],
    )
    assert recon.exit_code == 0, recon.output
    assert (tmp_path / "images" / "radial_cine" / "radial_cine.h5").exists()
    # the run's own model config is used without repeating the --set values
    trained = json.loads((out / "config.json").read_text())["model_config"]
    record = json.loads((tmp_path / "images" / "radial_cine" / "radial_cine.run.json").read_text())
    assert record["config"] == trained


def test_cli_rejects_untrainable_models_and_bad_data(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["train", "--model", "zero-filled", "--data", "synthetic:radial", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 4 and "not trainable" in result.output
    result = runner.invoke(
        app, ["train", "--model", "unet", "--data", "synthetic:spiral", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 2 and "synthetic:radial" in result.output


TORCHRUN = "-m torch.distributed.run --nproc_per_node 2 --standalone --monitor-interval 0.2".split()


def _torchrun(args: list[str], cwd: Path) -> subprocess.Popen:
    """``recon train ARGS`` in 2 processes (gloo on CPU), started with torchrun."""
    command = [sys.executable, *TORCHRUN, "-m", "recon_cli.cli.main", "train", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_two_process_ddp_resume_is_bit_identical(tmp_path: Path) -> None:
    """torchrun, 2 CPU processes with gloo: a run stopped by SIGTERM at step 3 and resumed ends with the
    same weights as an uninterrupted 6-step run (4 batches per rank and epoch, 2 per step)."""
    common = [
        *"--model unet --data synthetic:cartesian --val synthetic:cartesian --steps 6 --accumulate 2".split(),
        *"--val-every 3 --workers 0 --device cpu --seed 3".split(),
        *set_options(TINY_MODEL),
        *set_options({"matrix": 32, "frames": 2, "coils": 4, "length": 8, "val_length": 3}, "data."),
    ]
    runs, outputs = [], []
    for extra in (["--out", "straight"], ["--out", "killed", "--stop-after", "3"]):  # one at a time
        runs.append(_torchrun([*common, *extra], tmp_path))
        outputs.append(runs[-1].communicate(timeout=300)[0])
    assert runs[0].returncode == 0, outputs[0][-3000:]
    assert runs[1].returncode != 0 and "143" in outputs[1]  # the workers exit 143 after saving
    half = _load(tmp_path / "killed" / "last.pt")
    assert half["step"] == 3 and half["world_size"] == 2 and len(half["rng"]) == 2
    assert half["data"] == {"epoch": 1, "batch": 2}
    resumed = _torchrun(["--resume", "killed"], tmp_path)
    output = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, output[-3000:]
    _assert_same_weights(_load(tmp_path / "straight" / "last.pt"), _load(tmp_path / "killed" / "last.pt"))
    rng = _load(tmp_path / "straight" / "last.pt")["rng"]
    assert not torch.equal(rng[0]["torch"], rng[1]["torch"])  # seeded per rank


@pytest.mark.slow
def test_training_lowers_validation_nrmse(tmp_path: Path) -> None:
    """A few hundred steps on the synthetic radial source: validation NRMSE drops measurably."""
    request = _request(
        tmp_path / "run",
        data="synthetic:radial",
        val="synthetic:radial",
        model_config={"chans": 8, "num_pools": 3},
        data_config={"matrix": 48, "frames": 2, "coils": 4, "spokes": 12, "length": 64, "val_length": 4},
        train_config={
            "steps": 300,
            "val_every": 100,
            "ckpt_every": 100,
            "log_every": 20,
            "workers": 1,
            "lr": 2e-3,
            "warmup": 10,
            "seed": 1,
        },
    )
    train(request)
    rows = [json.loads(r) for r in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    vals = [r["nrmse"] for r in rows if r["kind"] == "val"]
    assert len(vals) == 4 and vals[-1] < 0.8 * vals[0] and vals[-1] < vals[1], vals  # steps 0, 100, 200, 300
    assert np.isfinite(vals).all()

"""``recon train`` as a library call: resolve the configuration, set up the run folder, data, model and
optimiser, run the loop, and leave a run folder that ``recon reconstruct --weights`` understands.

Run folder::

    RUN_DIR/
      config.json     resolved model config, training and data settings, specs, versions, command
      last.pt         latest checkpoint (every --ckpt-every steps, at the end, on SIGTERM)
      best.pt         checkpoint with the lowest validation NRMSE (when there is validation data)
      log.jsonl       training and validation rows
      curve.png       training loss and validation NRMSE against the step
      MODEL_CARD.md   data summary, metrics, configuration, versions, date, command
      tensorboard/    only with --tensorboard and the tensorboard package installed
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from recon_cli.contract import coil_maps_mode
from recon_cli.errors import ModelError, OutputExistsError, UsageError
from recon_cli.registry import ModelPlugin, config_to_dict
from recon_cli.train import checkpoint as ckpt
from recon_cli.train.config import (
    DataSpec,
    TrainConfig,
)
from recon_cli.train.distributed import (
    DistContext,
    any_rank,
    barrier,
    init_distributed,
    shutdown,
    wrap_model,
)
from recon_cli.train.examples import Example, TrainingData, collate
from recon_cli.train.loop import LoopState, Parts, Trainer, restore
from recon_cli.train.objective import amp_dtype, make_scheduler
from recon_cli.train.plan import RunPlan, TrainRequest, plan_run
from recon_cli.train.runlog import RunLog
from recon_cli.train.sampler import BucketBatchSampler, ShardedSampler
from recon_cli.train.seeding import derive_seed, seed_globals, worker_init

RUN_FILES = ("config.json", ckpt.LAST, ckpt.BEST, "log.jsonl", "curve.png", "MODEL_CARD.md")


@dataclass
class TrainResult:
    """How the run ended."""

    run_dir: Path
    step: int
    steps: int
    interrupted: bool
    best: dict[str, Any] | None
    last_val: dict[str, float] | None
    seconds: float
    world_size: int
    notes: list[str] = field(default_factory=list)


def train(request: TrainRequest, *, on_event: Callable[[dict[str, Any]], None] | None = None) -> TrainResult:
    """Train a model plugin; see the module docstring for what the run folder holds.

    Args:
        request: what to train, on what, where, and how.
        on_event: progress callback on rank 0 (dicts of kind "step", "val" or "message").

    Raises:
        UsageError, InputDataError, ModelError, OutputExistsError: bad options, data or model.
    """
    start = time.perf_counter()
    ctx = init_distributed(request.device)
    try:
        plan = plan_run(request, ctx)
        _check_folder(plan, request.overwrite)  # every rank, so all of them stop on a clash
        barrier(ctx)
        created = not plan.run_dir.exists()
        if ctx.is_main:
            _prepare_folder(plan)
        barrier(ctx)
        try:
            parts, state = _build(plan, ctx)
        except BaseException:
            if ctx.is_main and created:  # a run that failed before it began leaves no folder behind
                shutil.rmtree(plan.run_dir, ignore_errors=True)
            raise
        log = RunLog(plan.run_dir, enabled=ctx.is_main, tensorboard=request.tensorboard)
        notes = _start_log(log, plan, parts, state, request)
        if on_event:
            for note in notes:
                on_event({"kind": "message", "text": note})
        trainer = Trainer(parts, state, ctx, plan.run_dir, log, on_event, request.stop_after)
        try:
            state = trainer.run()
        finally:
            log.close()
            for loader in (parts.loader, parts.val_loader):
                _stop_workers(loader)
        if ctx.is_main:
            _finish_folder(plan, parts.record, state)
        # no rank leaves before rank 0 has written the run's files: torchrun tears the group down (and
        # aborts ranks still inside gloo) as soon as the first rank exits, e.g. with 143 after SIGTERM
        barrier(ctx)
        return TrainResult(
            plan.run_dir,
            state.step,
            plan.train.steps,
            state.interrupted,
            state.best,
            state.last_val,
            time.perf_counter() - start,
            ctx.world_size,
            notes,
        )
    finally:
        shutdown(ctx)


def _check_folder(plan: RunPlan, overwrite: bool) -> None:
    """A new run refuses to mix with an old run's files unless ``overwrite``."""
    if plan.checkpoint is None and not overwrite:
        existing = [plan.run_dir / n for n in RUN_FILES if (plan.run_dir / n).exists()]
        if existing:
            raise OutputExistsError(existing[0])


def _prepare_folder(plan: RunPlan) -> None:
    """Create the run folder; a new run first removes an old run's files (``--overwrite``)."""
    folder = plan.run_dir
    if plan.checkpoint is None and folder.exists():
        for name in RUN_FILES:
            (folder / name).unlink(missing_ok=True)
        shutil.rmtree(folder / "tensorboard", ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)


def _build(plan: RunPlan, ctx: DistContext) -> tuple[Parts, LoopState]:
    """Model (same initialisation on every rank), data, optimiser; restored from the checkpoint if any."""
    cfg = plan.train
    seed_globals(cfg.seed)
    model = plan.plugin.create(plan.model_config)
    if plan.init_state is not None:
        from recon_cli.weights import apply_weights

        apply_weights(model, plan.init_state, f"--init {plan.init}", plan.plugin.name)
    model = model.to(ctx.device)
    needs_maps = coil_maps_mode(model) == "required"
    train_set = _dataset(plan, plan.data_spec, ctx, needs_maps, validation=False)
    sampler = BucketBatchSampler(
        [train_set.shape_key(i) for i in range(len(train_set))],
        cfg.batch_size,
        seed=cfg.seed,
        rank=ctx.rank,
        world_size=ctx.world_size,
    )
    val_loader, val_set = None, None
    if plan.val_spec is not None:
        val_set = _dataset(plan, plan.val_spec, ctx, needs_maps, validation=True)
        val_sampler = ShardedSampler(len(val_set), rank=ctx.rank, world_size=ctx.world_size)
        val_loader = _loader(val_set, val_sampler, cfg, ctx, derive_seed(cfg.seed, "val-loader", ctx.rank))
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    amp = amp_dtype(cfg, ctx.device)
    parts = Parts(
        model=model,
        wrapped=wrap_model(model, ctx),
        optimizer=optimizer,
        scheduler=make_scheduler(optimizer, cfg),
        scaler=torch.amp.GradScaler(ctx.device.type, enabled=amp == torch.float16),
        loader=_loader(train_set, sampler, cfg, ctx, derive_seed(cfg.seed, "loader", ctx.rank)),
        sampler=sampler,
        val_loader=val_loader,
        config=cfg,
        amp=amp,
    )
    parts.record = _record(plan, ctx, train_set, val_set)
    seed_globals(derive_seed(cfg.seed, "rank", ctx.rank))
    state = LoopState() if plan.checkpoint is None else restore(parts, plan.checkpoint, ctx)
    return parts, state


def _dataset(
    plan: RunPlan, spec: DataSpec, ctx: DistContext, needs_maps: bool, validation: bool
) -> TrainingData:
    """Rank 0 builds first (it may compute and cache reference images), then the others."""
    from recon_cli.train.sources import build_dataset

    def make() -> TrainingData:
        return build_dataset(
            spec, plan.data, seed=plan.train.seed, rank=ctx.rank, needs_maps=needs_maps, validation=validation
        )

    dataset, error = None, None
    if ctx.is_main:
        try:
            dataset = make()
        except Exception as exc:  # noqa: BLE001 - re-raised below, after telling the other ranks
            error = exc
    if any_rank(error is not None, ctx):
        raise error if error is not None else UsageError("rank 0 could not build the training data")
    dataset = dataset if dataset is not None else make()
    _check_support(plan.plugin, dataset)
    return dataset


def _check_support(plugin: ModelPlugin, dataset: TrainingData) -> None:
    kinds = str(getattr(dataset, "trajectory", "")).split("/")
    if ("cartesian" in kinds and not plugin.cartesian) or ("radial" in kinds and not plugin.non_cartesian):
        raise ModelError(
            f"model '{plugin.name}' does not support {' / '.join(kinds)} data "
            f"(it supports {plugin.supports()})"
        )


def _loader(
    dataset: TrainingData, sampler: Any, cfg: TrainConfig, ctx: DistContext, seed: int
) -> DataLoader[Example]:
    """Workers load and simulate examples; an explicit generator keeps the global RNG untouched."""
    workers = cfg.workers
    return DataLoader(
        dataset,  # type: ignore[arg-type] # a map-style dataset keyed by (index, epoch)
        batch_sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=ctx.device.type == "cuda",
        worker_init_fn=worker_init if workers else None,
        persistent_workers=cfg.persistent_workers and workers > 0,
        generator=torch.Generator().manual_seed(seed),
        # spawned, not forked: a fork of a process whose OpenMP pools (torch, FINUFFT) have run can
        # deadlock in the child the first time it enters a parallel region
        multiprocessing_context="spawn" if workers else None,
    )


def _stop_workers(loader: DataLoader[Example] | None) -> None:
    """Stop a loader's persistent worker processes now.

    Left to garbage collection, a loader caught in cyclic garbage may have its queues finalised before
    its workers are told to stop; they are then waited for (5 s each) and killed.
    """
    iterator = getattr(loader, "_iterator", None)  # DataLoader keeps persistent workers' iterator here
    if iterator is not None and hasattr(iterator, "_shutdown_workers"):
        iterator._shutdown_workers()
        loader._iterator = None  # type: ignore[union-attr]


def _record(
    plan: RunPlan, ctx: DistContext, train_set: TrainingData, val_set: TrainingData | None
) -> dict[str, Any]:
    """The resolved configuration, as stored in ``config.json`` and every checkpoint."""
    from recon_cli.runtime import versions

    return {
        "model": plan.plugin.name,
        "model_config": config_to_dict(plan.model_config),
        "train": dataclasses.asdict(plan.train),
        "data": dataclasses.asdict(plan.data),
        "data_spec": plan.data_spec.text,
        "val_spec": None if plan.val_spec is None else plan.val_spec.text,
        "data_summary": train_set.describe(),
        "val_summary": None if val_set is None else val_set.describe(),
        "init": None if plan.init is None else str(plan.init),
        "world_size": ctx.world_size,
        "device": str(ctx.device),
        "versions": versions(),
        "usage": _usage(plan),
    }


def _usage(plan: RunPlan) -> str:
    """The ``recon reconstruct`` command for these weights (model settings that differ from defaults)."""
    defaults = config_to_dict(plan.plugin.config_cls())
    changed = {k: v for k, v in config_to_dict(plan.model_config).items() if defaults.get(k) != v}
    sets = "".join(
        f" --set {k}={','.join(map(str, v)) if isinstance(v, list | tuple) else v}"
        for k, v in changed.items()
    )
    return f"recon reconstruct SCAN --model {plan.plugin.name} --weights {plan.run_dir}{sets}"


def _start_log(
    log: RunLog, plan: RunPlan, parts: Parts, state: LoopState, request: TrainRequest
) -> list[str]:
    """Write config.json and the log's start row; returns notes for the user."""
    notes = [] if log.tensorboard_error is None else [log.tensorboard_error]
    if plan.val_spec is None:
        notes.append("no --val data: no validation, no best.pt (reconstruct will use last.pt)")
    if plan.checkpoint is not None:
        log.truncate_after(state.step)
        message = f"resumed at step {state.step} (epoch {state.epoch}, batch {state.batch})"
        notes.append(message)
    else:
        message = "started"
    parts.record.update(_commands(plan, request.command))
    if log.enabled:
        (plan.run_dir / "config.json").write_text(json.dumps(parts.record, indent=2, default=str) + "\n")
    log.write({"kind": "event", "step": state.step, "message": message})
    return notes


def _commands(plan: RunPlan, command: str | None) -> dict[str, Any]:
    """``command`` (the one that started the run) and ``resumed_with`` (each later resume), kept across
    resumes so that config.json always says how the run was started."""
    path = plan.run_dir / "config.json"
    if plan.checkpoint is None or not path.is_file():
        return {"command": command}
    try:
        before = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"command": command}
    first = before.get("command", command)
    resumes = [*before.get("resumed_with", []), command]
    return {"command": first, "resumed_with": resumes}


def _finish_folder(plan: RunPlan, record: dict[str, Any], state: LoopState) -> None:
    from recon_cli.train.report import write_curve, write_model_card

    write_curve(plan.run_dir)
    write_model_card(plan.run_dir, {**record, "step": state.step, "interrupted": state.interrupted})

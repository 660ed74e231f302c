"""What a ``recon train`` request resolves to: the model, its config, training and data settings.

A new run takes them from the request (model config through the plugin's own config class); a resumed run
takes them from its checkpoint and accepts only changes that leave the computation as it was
(``RESUMABLE_OVERRIDES``: more steps, other logging, checkpoint and worker settings).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recon_cli.errors import ModelError, UsageError
from recon_cli.registry import ModelPlugin, load_plugin, resolve_config
from recon_cli.train import checkpoint as ckpt
from recon_cli.train.config import (
    RESUMABLE_OVERRIDES,
    DataConfig,
    DataSpec,
    TrainConfig,
    build_config,
    parse_data_spec,
)
from recon_cli.train.distributed import DistContext


@dataclass(frozen=True)
class TrainRequest:
    """Everything ``recon train`` was asked to do. Config dicts hold only the settings given."""

    out_dir: Path | None = None
    model: str | None = None
    data: str | None = None
    val: str | None = None
    model_config: dict[str, Any] = field(default_factory=dict)
    data_config: dict[str, Any] = field(default_factory=dict)
    train_config: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"
    resume: Path | None = None
    init: Path | None = None
    overwrite: bool = False
    tensorboard: bool = False
    stop_after: int | None = None
    command: str | None = None


@dataclass(frozen=True)
class RunPlan:
    """The resolved configuration of a new or resumed run."""

    run_dir: Path
    plugin: ModelPlugin
    model_config: Any
    train: TrainConfig
    data: DataConfig
    data_spec: DataSpec
    val_spec: DataSpec | None
    checkpoint: dict[str, Any] | None = None
    init: Path | None = None
    init_state: dict[str, Any] | None = None


def plan_run(request: TrainRequest, ctx: DistContext) -> RunPlan:
    """Resolve a new run's configuration, or a resumed run's from its checkpoint (checked against the
    request: only ``RESUMABLE_OVERRIDES`` may change)."""
    if request.resume is not None:
        if request.init is not None:
            raise UsageError("--init starts a new run; --resume continues one: give one of them")
        return _plan_resume(request, ctx)
    if request.model is None or request.data is None or request.out_dir is None:
        raise UsageError("recon train needs --model, --data and --out (or --resume RUN_DIR)")
    plugin = _trainable(request.model)
    init_state: dict[str, Any] | None = None
    trained: dict[str, Any] = {}
    if request.init is not None:
        from recon_cli.weights import load_weights

        # "default": the plugin's shipped weights; their architecture settings come with them
        init_state, trained = load_weights(plugin, None if str(request.init) == "default" else request.init)
        if init_state is None:
            raise UsageError(f"--init default: model '{plugin.name}' ships no default weights")
    return RunPlan(
        run_dir=Path(request.out_dir),
        plugin=plugin,
        model_config=resolve_config(plugin, {**trained, **request.model_config}),
        init=request.init,
        init_state=init_state,
        train=build_config(TrainConfig, request.train_config, "train"),
        data=build_config(DataConfig, request.data_config, "data"),
        data_spec=parse_data_spec(request.data, "--data"),
        val_spec=None if request.val is None else parse_data_spec(request.val, "--val"),
    )


def _plan_resume(request: TrainRequest, ctx: DistContext) -> RunPlan:
    assert request.resume is not None
    resume = Path(request.resume)
    run_dir = resume if resume.is_dir() else resume.parent
    if request.out_dir is not None and Path(request.out_dir).resolve() != run_dir.resolve():
        raise UsageError(f"--resume continues in {run_dir}; drop --out or give the same folder")
    state = ckpt.load_checkpoint(resume)
    stored = state["config"]
    if request.model is not None and request.model != stored["model"]:
        raise UsageError(f"--resume: the run trained '{stored['model']}', not '{request.model}'")
    if state["world_size"] != ctx.world_size:
        raise UsageError(
            f"--resume: the run used {state['world_size']} process(es); resume with the same number "
            f"(this is {ctx.world_size}) to continue its data order"
        )
    plugin = _trainable(stored["model"])
    model_config = resolve_config(plugin, stored["model_config"])
    if (
        request.model_config
        and resolve_config(plugin, {**stored["model_config"], **request.model_config}) != model_config
    ):
        raise UsageError("--resume: the model config cannot change")
    train = _resumed(TrainConfig, stored["train"], request.train_config, "train", RESUMABLE_OVERRIDES)
    data = _resumed(DataConfig, stored["data"], request.data_config, "data", ())
    specs = []
    for given, key, option in ((request.data, "data_spec", "--data"), (request.val, "val_spec", "--val")):
        spec = None if stored[key] is None else parse_data_spec(stored[key], option)
        if given is not None and (spec is None or parse_data_spec(given, option).text != spec.text):
            raise UsageError(f"--resume: {option} must stay {stored[key]}")
        specs.append(spec)
    assert specs[0] is not None
    init = Path(stored["init"]) if stored.get("init") else None
    return RunPlan(run_dir, plugin, model_config, train, data, specs[0], specs[1], state, init=init)


def _resumed(
    cls: type, stored: dict[str, Any], overrides: dict[str, Any], section: str, allowed: tuple[str, ...]
) -> Any:
    merged = build_config(cls, {**stored, **overrides}, section)
    base = build_config(cls, stored, section)
    changed = [
        f.name
        for f in dataclasses.fields(cls)
        if getattr(merged, f.name) != getattr(base, f.name) and f.name not in allowed
    ]
    if changed:
        free = f" (only {', '.join(allowed)} may change)" if allowed else ""
        raise UsageError(f"--resume: cannot change {section} setting(s) {', '.join(changed)}{free}")
    return merged


def _trainable(name: str) -> ModelPlugin:
    from recon_cli.registry import available_models

    plugin = load_plugin(name)
    if not plugin.trainable:
        trainable = [n for n in available_models() if _is_trainable(n)]
        raise ModelError(
            f"model '{name}' is not trainable; trainable models installed: {', '.join(trainable) or 'none'}"
        )
    return plugin


def _is_trainable(name: str) -> bool:
    try:
        return load_plugin(name).trainable
    except ModelError:
        return False

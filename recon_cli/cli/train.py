"""Train a learned model plugin (see `recon models` for the trainable ones) on synthetic data or a folder
of fastMRI / ISMRMRD files. Multi-process: `torchrun --nproc_per_node N -m recon_cli.cli.main train ...`."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from recon_cli.cli.common import DeviceOption, console, err_console, handle_errors, parse_settings
from recon_cli.train.config import LOSSES, TrainConfig

NAME = "train"

Opt = typer.Option
D = TrainConfig()  # the defaults, shown in the help


@handle_errors
def command(
    model: Annotated[str | None, Opt("--model", "-m", help="Model name (see `recon models`).")] = None,
    data: Annotated[
        str | None,
        Opt(
            "--data",
            help="Training data: a folder of files, or synthetic:radial, :cartesian or :brain.",
        ),
    ] = None,
    out: Annotated[Path | None, Opt("--out", "-o", help="Run folder for checkpoints and logs.")] = None,
    val: Annotated[str | None, Opt("--val", help="Validation data (folder or synthetic:...).")] = None,
    config: Annotated[
        Path | None, Opt("--config", help="YAML of settings (model keys; data:, train:).")
    ] = None,
    settings: Annotated[
        list[str] | None, Opt("--set", help="key=value: model config, data.KEY or train.KEY (repeatable).")
    ] = None,
    steps: Annotated[int | None, Opt("--steps", help=f"Optimiser steps (default {D.steps}).")] = None,
    batch_size: Annotated[
        int | None, Opt("--batch-size", help=f"Examples per batch, one shape each (default {D.batch_size}).")
    ] = None,
    accumulate: Annotated[
        int | None, Opt("--accumulate", help=f"Batches per optimiser step (default {D.accumulate}).")
    ] = None,
    lr: Annotated[float | None, Opt("--lr", help=f"Peak learning rate (default {D.lr:g}).")] = None,
    schedule: Annotated[
        str | None, Opt("--schedule", help=f"cosine|step|constant (default {D.schedule}).")
    ] = None,
    warmup: Annotated[int | None, Opt("--warmup", help=f"Linear warm-up steps (default {D.warmup}).")] = None,
    loss: Annotated[str | None, Opt("--loss", help=f"{', '.join(LOSSES)} (default {D.loss}).")] = None,
    amp: Annotated[
        bool | None, Opt("--amp/--no-amp", help="Mixed precision (default: on for CUDA, off on CPU).")
    ] = None,
    clip: Annotated[
        float | None, Opt("--clip", help=f"Max gradient norm, 0 = off (default {D.clip:g}).")
    ] = None,
    val_every: Annotated[
        int | None, Opt("--val-every", help=f"Validate every N steps (default {D.val_every}).")
    ] = None,
    ckpt_every: Annotated[
        int | None, Opt("--ckpt-every", help=f"Save last.pt every N steps (default {D.ckpt_every}).")
    ] = None,
    log_every: Annotated[
        int | None, Opt("--log-every", help=f"Log every N steps (default {D.log_every}).")
    ] = None,
    seed: Annotated[int | None, Opt("--seed", help=f"Base seed (default {D.seed}).")] = None,
    workers: Annotated[
        int | None, Opt("--workers", help=f"DataLoader workers per process (default {D.workers}).")
    ] = None,
    persistent_workers: Annotated[
        bool | None,
        Opt(
            "--persistent-workers/--no-persistent-workers",
            help=f"Keep workers between epochs (default {D.persistent_workers}).",
        ),
    ] = None,
    device: DeviceOption = "auto",
    resume: Annotated[Path | None, Opt("--resume", help="Continue the run in this folder.")] = None,
    init: Annotated[
        Path | None,
        Opt(
            "--init",
            help="Start a new run from these weights (a .pt file, a run folder, or 'default' for the "
            "model's shipped weights, whose architecture settings come with them): fine-tuning.",
        ),
    ] = None,
    tensorboard: Annotated[
        bool, Opt("--tensorboard", help="Also log to TensorBoard (if installed).")
    ] = False,
    overwrite: Annotated[bool, Opt("--overwrite", help="Start over in an existing run folder.")] = False,
    stop_after: Annotated[
        int | None, Opt("--stop-after", hidden=True, help="Debug: SIGTERM self after step N.")
    ] = None,
) -> None:
    from recon_cli.train import TrainRequest, train
    from recon_cli.train.config import split_settings

    model_cfg, data_cfg, train_cfg = split_settings(parse_settings(config, settings))
    given = {
        "steps": steps,
        "batch_size": batch_size,
        "accumulate": accumulate,
        "lr": lr,
        "schedule": schedule,
        "warmup": warmup,
        "loss": loss,
        "amp": None if amp is None else ("on" if amp else "off"),
        "clip": clip,
        "val_every": val_every,
        "ckpt_every": ckpt_every,
        "log_every": log_every,
        "seed": seed,
        "workers": workers,
        "persistent_workers": persistent_workers,
    }
    train_cfg.update({k: v for k, v in given.items() if v is not None})
    request = TrainRequest(
        out_dir=out,
        model=model,
        data=data,
        val=val,
        model_config=model_cfg,
        data_config=data_cfg,
        train_config=train_cfg,
        device=device,
        resume=resume,
        init=init,
        overwrite=overwrite,
        tensorboard=tensorboard,
        stop_after=stop_after,
        command=shlex.join(["recon", *sys.argv[1:]]),
    )
    with _Progress(enabled=os.environ.get("RANK", "0") == "0") as progress:
        result = train(request, on_event=progress.update)
    if progress.enabled:
        _render(result)
    if result.interrupted:
        raise typer.Exit(143)


class _Progress:
    """A rich progress bar with loss, learning rate and throughput; validation results as lines."""

    def __init__(self, enabled: bool) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.enabled = enabled
        self.bar = Progress(
            TextColumn("training"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=err_console,
            disable=not enabled,
        )
        self.task: Any = None

    def __enter__(self) -> _Progress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)

    def update(self, event: dict[str, Any]) -> None:
        if event["kind"] == "message":
            self.bar.console.print(f"[dim]{event['text']}[/]", highlight=False)
        elif event["kind"] == "val":
            self.bar.console.print(
                f"step {event['step']}: validation NRMSE {event['nrmse']:.4f}  SSIM {event['ssim']:.4f}  "
                f"PSNR {event['psnr']:.2f} dB",
                highlight=False,
            )
        elif event["kind"] == "step":
            info = f"loss {event['loss']:.4g}  lr {event['lr']:.2e}  {event['examples_per_s']:.2f} ex/s"
            if self.task is None:
                self.task = self.bar.add_task(
                    "train", total=event["steps"], completed=event["step"] - 1, info=""
                )
            self.bar.update(self.task, completed=event["step"], info=info)


def _render(result: Any) -> None:
    from rich.table import Table

    table = Table(title=f"run {result.run_dir}", show_header=False)
    table.add_row("steps", f"{result.step} of {result.steps}" + (" (stopped)" if result.interrupted else ""))
    table.add_row("processes", str(result.world_size))
    if result.best:
        table.add_row("best val NRMSE", f"{result.best['val_nrmse']:.4f} at step {result.best['step']}")
    if result.last_val:
        table.add_row("last val", "  ".join(f"{k} {v:.4g}" for k, v in result.last_val.items()))
    table.add_row("time", f"{result.seconds:.1f} s")
    console.print(table)
    if result.interrupted:
        err_console.print(
            f"stopped by SIGTERM at step {result.step}; checkpoint saved. Continue with: "
            f"recon train --resume {result.run_dir}",
            highlight=False,
        )

"""The training loop: micro-batches -> accumulated gradients -> clipped, scaled optimiser steps,
with periodic validation, checkpoints, logging, and a clean stop on SIGTERM.

Models are plain ``nn.Module`` plugins; this loop owns everything else. One optimiser step consumes
``accumulate`` batches of ``batch_size`` examples on every rank; each example goes through the model on
its own (``model(kspace, op)``, as in ``recon reconstruct``) and its loss, divided by the examples per
step, is back-propagated at once, so memory holds one example's graph. Under DDP, gradients are
all-reduced only on the step's last backward pass (``no_sync`` before).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import DataLoader

from recon_cli.train import checkpoint as ckpt
from recon_cli.train.distributed import DistContext, all_reduce_sum, any_rank, gather_to_all
from recon_cli.train.examples import Example, batch_size, operator_for, unbatch
from recon_cli.train.objective import autocast, image_metrics, reconstruction_loss, with_auxiliary_loss
from recon_cli.train.seeding import rng_state, set_rng_state

VAL_KEYS = ("nrmse", "ssim", "psnr", "nmse", "hfen")
EXIT_TERMINATED = 143  # 128 + SIGTERM, what schedulers expect from a job that was asked to stop


@dataclass
class LoopState:
    """Where the run is: steps done, data position (epoch, batches consumed in it), best validation."""

    step: int = 0
    epoch: int = 0
    batch: int = 0
    best: dict[str, Any] | None = None
    last_val: dict[str, float] | None = None
    interrupted: bool = False


@dataclass
class Parts:
    """What the loop works with (built by ``recon_cli.train.run``)."""

    model: torch.nn.Module  # the plugin's module
    wrapped: torch.nn.Module  # DDP around it, or the module itself
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    loader: DataLoader[Example]
    sampler: Any  # BucketBatchSampler
    val_loader: DataLoader[Example] | None
    config: Any  # TrainConfig
    amp: torch.dtype | None
    record: dict[str, Any] = field(default_factory=dict)  # resolved config stored in checkpoints


class SigtermFlag:
    """Context manager: while active, SIGTERM sets ``raised`` instead of killing the process."""

    def __init__(self) -> None:
        self.raised = False
        self._installed = False
        self._previous: Any = None

    def __enter__(self) -> SigtermFlag:
        if threading.current_thread() is threading.main_thread():  # only there can Python take signals
            self._previous = signal.signal(signal.SIGTERM, self._handle)
            self._installed = True
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.raised = True

    def __exit__(self, *exc: object) -> None:
        if self._installed:  # a handler set outside Python reads as None: fall back to the default
            signal.signal(signal.SIGTERM, signal.SIG_DFL if self._previous is None else self._previous)


class Trainer:
    """Runs ``parts`` from ``state`` to ``config.steps`` steps.

    Args:
        parts: model, optimiser, loaders, ...
        state: the starting position (restored from a checkpoint when resuming).
        ctx: this process's rank and device.
        run_dir: where checkpoints go (written by rank 0).
        log: a ``RunLog``; on_event: progress callback (rank 0), called with dicts of kind
            "step" | "val" | "message".
        stop_after: debug: send SIGTERM to this process after this step, to rehearse a preemption.
    """

    def __init__(
        self,
        parts: Parts,
        state: LoopState,
        ctx: DistContext,
        run_dir: Any,
        log: Any,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        stop_after: int | None = None,
    ) -> None:
        self.p, self.state, self.ctx, self.run_dir, self.log = parts, state, ctx, run_dir, log
        self.on_event = on_event if ctx.is_main and on_event else (lambda event: None)
        self.stop_after = stop_after
        self._saved_step = -1

    def run(self) -> LoopState:
        """Train until ``steps`` or SIGTERM; always leaves an up-to-date ``last.pt``."""
        cfg, state = self.p.config, self.state
        stream = self._batches()
        if self.p.val_loader is not None and state.step == 0:
            self.validate()  # the starting point: the untrained model
        window = _Window()  # after that validation, which is no part of the first steps' throughput
        with SigtermFlag() as flag, contextlib.closing(stream):  # closing drops the epoch's loader iterator
            while state.step < cfg.steps:
                position = (state.epoch, state.batch)
                try:
                    loss, examples = self._optimiser_step(stream)
                except RuntimeError:
                    # SIGTERM sent to the whole process group (e.g. a cluster job being cancelled) also
                    # kills the loader's workers; a single process can still save its last full step
                    if not flag.raised or self.ctx.distributed:
                        raise
                    state.epoch, state.batch = position
                    return self._stop()
                state.step += 1
                window.add(loss, examples)
                self._after_step(window)
                if self.stop_after is not None and state.step == self.stop_after:
                    signal.raise_signal(signal.SIGTERM)
                if any_rank(flag.raised, self.ctx):
                    return self._stop()
        if self.p.val_loader is not None and state.step % cfg.val_every != 0:
            self.validate()
        if self._saved_step != state.step:
            self.save(ckpt.LAST)
        return state

    def _stop(self) -> LoopState:
        """Save ``last.pt`` at the last completed step and report the run as interrupted."""
        self.state.interrupted = True
        self.save(ckpt.LAST)
        self.log.write({"kind": "event", "step": self.state.step, "message": "stopped by SIGTERM"})
        return self.state

    def _after_step(self, window: _Window) -> None:
        cfg, step = self.p.config, self.state.step
        lr = self.p.optimizer.param_groups[0]["lr"]
        if step % cfg.log_every == 0 or step == cfg.steps:
            row = {
                "kind": "train",
                "step": step,
                "epoch": self.state.epoch,
                **window.summary(self.ctx),
                "lr": lr,
            }
            self.log.write(row)
            window.reset()
        self.on_event(
            {
                "kind": "step",
                "step": step,
                "steps": cfg.steps,
                "loss": window.last,
                "lr": lr,
                "examples_per_s": window.last_rate,
            }
        )
        paused = time.perf_counter()
        if self.p.val_loader is not None and step % cfg.val_every == 0:
            self.validate()
        if step % cfg.ckpt_every == 0:
            self.save(ckpt.LAST)
        window.pause(time.perf_counter() - paused)

    def _batches(self) -> Generator[dict[str, Any], None, None]:
        """Batches forever, epoch after epoch, from the saved position; tracks (epoch, batch)."""
        state, sampler = self.state, self.p.sampler
        while True:
            sampler.set_epoch(state.epoch, state.batch)
            if state.batch < len(sampler):
                for batch in self.p.loader:
                    state.batch += 1
                    yield batch
            state.epoch, state.batch = state.epoch + 1, 0

    def _optimiser_step(self, stream: Iterator[dict[str, Any]]) -> tuple[float, int]:
        """One update from ``accumulate`` batches. Returns (mean loss on this rank, examples seen)."""
        p, cfg = self.p, self.p.config
        batches = [next(stream) for _ in range(cfg.accumulate)]
        total = sum(batch_size(b) for b in batches)
        p.model.train()
        loss_sum, seen = 0.0, 0
        for batch in batches:
            for i in range(batch_size(batch)):
                seen += 1
                no_sync = getattr(p.wrapped, "no_sync", None)
                with contextlib.nullcontext() if seen == total or no_sync is None else no_sync():
                    loss = self._example_loss(unbatch(batch, i, self.ctx.device))
                    p.scaler.scale(loss / total).backward()
                loss_sum += float(loss.detach())
        if cfg.clip > 0:
            p.scaler.unscale_(p.optimizer)
            torch.nn.utils.clip_grad_norm_(p.model.parameters(), cfg.clip)
        p.scaler.step(p.optimizer)
        p.scaler.update()
        p.optimizer.zero_grad(set_to_none=True)
        p.scheduler.step()
        return loss_sum / total, total

    def _example_loss(self, example: dict[str, Any]) -> torch.Tensor:
        op = operator_for(example).to(self.ctx.device)
        with autocast(self.p.amp, self.ctx.device):
            output = self.p.wrapped(example["kspace"], op)
        return with_auxiliary_loss(
            reconstruction_loss(output, example["target"], self.p.config), self.p.model
        )

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Mean metrics over the validation set, each rank scoring its share; logged and checked for best."""
        assert self.p.val_loader is not None
        self.p.model.eval()
        sums = torch.zeros(len(VAL_KEYS) + 1, dtype=torch.float64)
        for batch in self.p.val_loader:
            for i in range(batch_size(batch)):
                example = unbatch(batch, i, self.ctx.device)
                with autocast(self.p.amp, self.ctx.device):
                    output = self.p.model(example["kspace"], operator_for(example).to(self.ctx.device))
                metrics = image_metrics(output, example["target"])
                sums += torch.tensor([*(metrics[k] for k in VAL_KEYS), 1.0], dtype=torch.float64)
        sums = all_reduce_sum(sums, self.ctx)
        count = max(sums[-1].item(), 1.0)
        result = {k: sums[j].item() / count for j, k in enumerate(VAL_KEYS)}
        self.state.last_val = result
        self.log.write({"kind": "val", "step": self.state.step, **result, "examples": int(sums[-1].item())})
        self.on_event({"kind": "val", "step": self.state.step, **result})
        best = self.state.best
        if best is None or result["nrmse"] < best["val_nrmse"]:
            self.state.best = {"step": self.state.step, "val_nrmse": result["nrmse"]}
            self.save(ckpt.BEST)
        return result

    def payload(self) -> dict[str, Any]:
        """This moment as a checkpoint (RNG states of every rank gathered)."""
        p, state = self.p, self.state
        return {
            "model": p.model.state_dict(),
            "optimizer": p.optimizer.state_dict(),
            "scheduler": p.scheduler.state_dict(),
            "scaler": p.scaler.state_dict(),
            "rng": gather_to_all(rng_state(), self.ctx),
            "step": state.step,
            "data": {"epoch": state.epoch, "batch": state.batch},
            "world_size": self.ctx.world_size,
            "best": state.best,
            "config": p.record,
        }

    def save(self, name: str) -> None:
        """Write checkpoint ``name`` (rank 0; every rank takes part in gathering RNG states)."""
        payload = self.payload()
        if self.ctx.is_main:
            ckpt.save_checkpoint(self.run_dir / name, payload)
        if name == ckpt.LAST:
            self._saved_step = self.state.step


def restore(parts: Parts, checkpoint: dict[str, Any], ctx: DistContext) -> LoopState:
    """Load a checkpoint's model, optimiser, scheduler, scaler and this rank's RNG state."""
    parts.model.load_state_dict(checkpoint["model"])
    parts.optimizer.load_state_dict(checkpoint["optimizer"])
    parts.scheduler.load_state_dict(checkpoint["scheduler"])
    if checkpoint["scaler"]:
        parts.scaler.load_state_dict(checkpoint["scaler"])
    set_rng_state(checkpoint["rng"][ctx.rank])
    data = checkpoint["data"]
    return LoopState(
        step=int(checkpoint["step"]),
        epoch=int(data["epoch"]),
        batch=int(data["batch"]),
        best=checkpoint.get("best"),
    )


class _Window:
    """Running loss and throughput since the last log row, and the last step's figures."""

    def __init__(self) -> None:
        self.reset()
        self.last, self.last_rate, self._tick = float("nan"), 0.0, time.perf_counter()

    def reset(self) -> None:
        self.losses: list[float] = []
        self.examples = 0
        self.start = time.perf_counter()

    def add(self, loss: float, examples: int) -> None:
        now = time.perf_counter()
        self.losses.append(loss)
        self.examples += examples
        self.last, self.last_rate, self._tick = loss, examples / max(now - self._tick, 1e-9), now

    def pause(self, seconds: float) -> None:
        """Leave ``seconds`` (validation, checkpoints) out of the throughput."""
        self.start += seconds
        self._tick += seconds

    def summary(self, ctx: DistContext) -> dict[str, float]:
        """Mean loss over the window's steps and all ranks, examples per second over all ranks."""
        seconds = time.perf_counter() - self.start
        sums = torch.tensor([sum(self.losses), len(self.losses), self.examples], dtype=torch.float64)
        loss_sum, steps, examples = all_reduce_sum(sums, ctx).tolist()
        return {
            "loss": loss_sum / max(steps, 1),
            "examples_per_s": examples / max(seconds, 1e-9),
            "seconds": seconds,
        }

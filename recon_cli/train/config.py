"""Typed configuration of training runs and training data (the only copies of their defaults).

Settings arrive as one flat mapping (``--config file.yaml`` then ``--set key=value``): keys starting with
``train.`` set ``TrainConfig``, keys starting with ``data.`` set ``DataConfig``, and every other key is
the model's (checked by the plugin's own config class). A YAML file may also group them in ``model:``,
``data:`` and ``train:`` mappings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recon_cli.errors import UsageError
from recon_cli.settings import resolve_settings

SCHEDULES = ("cosine", "step", "constant")
LOSSES = ("l1", "mse", "nmse", "ssim", "l1+ssim")
LOSS_DOMAINS = ("magnitude", "complex")
AMP_CHOICES = ("auto", "on", "off")
REFERENCE_CHOICES = ("auto", "file", "folder", "cs")
SYNTHETIC_KINDS = ("radial", "cartesian", "brain")

# Settings that may change when a run is resumed: they do not alter what the optimiser computes.
RESUMABLE_OVERRIDES = ("steps", "val_every", "ckpt_every", "log_every", "workers", "persistent_workers")


@dataclass(frozen=True)
class TrainConfig:
    """How to optimise.

    Attributes:
        steps: Optimiser steps in total.
        batch_size: Examples per micro-batch (all of one shape: batches are bucketed by shape).
        accumulate: Micro-batches per optimiser step (gradient accumulation).
        lr: Peak learning rate of AdamW.
        weight_decay: AdamW's decoupled weight decay.
        schedule: "cosine" (to zero at ``steps``), "step" (times ``gamma`` every ``step_size`` steps) or
            "constant"; all after ``warmup`` steps of linear warm-up.
        warmup: Linear warm-up steps.
        step_size: "step" schedule period; 0 means a third of ``steps``.
        gamma: "step" schedule factor.
        loss: "l1" or "mse", on images divided by the target's peak magnitude, or "nmse",
            ||output - target||^2 / ||target||^2 (the loss of ADMM-Net and IFR-Net).
        loss_on: "magnitude" (|x|, works with any target) or "complex" (needs complex targets).
        amp: Automatic mixed precision: "auto" (fp16 with a gradient scaler on CUDA, off on CPU), "on"
            (bf16 on CPU), "off".
        clip: Maximum gradient norm; 0 disables clipping.
        val_every: Validate every this many steps (and at the end).
        ckpt_every: Write ``last.pt`` every this many steps (and at the end, and on SIGTERM).
        log_every: Log the training loss every this many steps.
        seed: Base seed of model initialisation, data order and on-the-fly undersampling.
        workers: DataLoader worker processes per rank (0 loads in the training process).
        persistent_workers: Keep workers alive between epochs.
    """

    steps: int = 1000
    batch_size: int = 1
    accumulate: int = 1
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup: int = 0
    step_size: int = 0
    gamma: float = 0.1
    loss: str = "l1"
    loss_on: str = "magnitude"
    amp: str = "auto"
    clip: float = 0.0
    val_every: int = 200
    ckpt_every: int = 200
    log_every: int = 10
    seed: int = 0
    workers: int = 2
    persistent_workers: bool = True

    def __post_init__(self) -> None:
        _choice("train.schedule", self.schedule, SCHEDULES)
        _choice("train.loss", self.loss, LOSSES)
        _choice("train.loss_on", self.loss_on, LOSS_DOMAINS)
        _choice("train.amp", self.amp, AMP_CHOICES)
        for name in ("steps", "batch_size", "accumulate", "val_every", "ckpt_every", "log_every"):
            if getattr(self, name) < 1:
                raise UsageError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0 or self.clip < 0 or self.warmup < 0 or self.workers < 0 or self.step_size < 0:
            raise UsageError("lr must be > 0 and clip, warmup, step_size, workers >= 0")


@dataclass(frozen=True)
class DataConfig:
    """What the training examples are.

    Attributes:
        mask: Cartesian undersampling of fully sampled data (fastMRI folders, ``synthetic:cartesian``):
            a kind of ``recon_cli.sampling.cartesian_mask`` (random, equispaced, random-2d, poisson, ...).
        acceleration: Cartesian acceleration of that mask.
        center_fraction: Fully sampled centre fraction of that mask.
        matrix: Synthetic: image size N (N x N).
        frames: Synthetic: frames per example (1 for static images).
        coils: Synthetic: receiver coils.
        spokes: Synthetic radial: golden-angle spokes per frame.
        samples: Synthetic radial: samples per spoke; 0 means ``2 * matrix``.
        snr: Synthetic: image SNR of the simulated noise (``recon_cli.phantoms.noise_sigma``).
        phase: ``synthetic:brain``: give each slice a smooth random phase (complex images) instead of a
            real-valued one.
        detail: ``synthetic:radial|cartesian``: most anatomical detail of the cine phantom (0-1: tissue
            texture, papillary muscles, in-flow; ``recon_cli.phantoms.cardiac_cine_phantom``); every example
            draws its level uniformly from [0, detail] from its own seed. 0: flat compartments (the data
            of the shipped weights).
        anatomy: ``synthetic:radial|cartesian``: share (0-1) of examples that are real anatomy instead of
            the cine phantom: a brain-template slice under periodic motion
            (``recon_cli.phantoms.moving_brain_cine``), from the template's training slices (validation:
            its held-out slices).
        virtual_coils: Synthetic, for models given coil maps: compress every example's data and true maps
            to this many SVD virtual coils (``recon_cli.coils.compression``; 0: all ``coils``), as ``recon
            reconstruct`` does for the learned cine models (their ``virtual_coils``): cheaper operators.
        length: Synthetic: examples per epoch.
        fresh: Synthetic: new phantoms every epoch (an endless source) rather than the same ``length``.
        val_length: Synthetic validation: number of (fixed) examples.
        reference: ISMRMRD folders, where targets come from: "file" (the file's ``dataset/reference``),
            "folder" (``reference_dir/<stem>.h5`` holding ``reference`` or ``images``), "cs" (the ``cs``
            model's reconstruction, computed once and cached), or "auto" (file, else folder, else cs).
        reference_dir: Folder of reference images for ``reference = folder``.
        cache_dir: Where computed references are cached; empty means ``<data folder>/.recon-cache``.
        coil_method: Coil-map estimation for file data when the model needs maps: "espirit" or "sos".
    """

    mask: str = "random"
    acceleration: float = 4.0
    center_fraction: float = 0.08
    matrix: int = 64
    frames: int = 8
    coils: int = 8
    spokes: int = 13
    samples: int = 0
    snr: float = 30.0
    phase: bool = False
    detail: float = 0.0
    anatomy: float = 0.0
    virtual_coils: int = 0
    length: int = 64
    fresh: bool = True
    val_length: int = 8
    reference: str = "auto"
    reference_dir: str = ""
    cache_dir: str = ""
    coil_method: str = "espirit"

    def __post_init__(self) -> None:
        from recon_cli.sampling import CARTESIAN_KINDS

        _choice("data.mask", self.mask, tuple(CARTESIAN_KINDS))
        _choice("data.reference", self.reference, REFERENCE_CHOICES)
        for name in ("matrix", "frames", "coils", "spokes", "length", "val_length"):
            if getattr(self, name) < 1:
                raise UsageError(f"data.{name} must be >= 1, got {getattr(self, name)}")
        if self.acceleration < 1 or not 0 <= self.center_fraction <= 1 or self.snr <= 0:
            raise UsageError("data.acceleration must be >= 1, center_fraction in [0, 1] and snr > 0")
        if self.virtual_coils < 0:
            raise UsageError(f"data.virtual_coils must be >= 0 (0: all coils), got {self.virtual_coils}")
        for name in ("detail", "anatomy"):
            if not 0 <= getattr(self, name) <= 1:
                raise UsageError(f"data.{name} must be in [0, 1], got {getattr(self, name)}")


@dataclass(frozen=True)
class DataSpec:
    """Where examples come from: ``synthetic:radial``, ``synthetic:cartesian``, ``synthetic:brain`` (brain
    template slices, Cartesian, static) or a folder of files."""

    text: str
    synthetic: str | None = None  # "radial" | "cartesian" | "brain" for the built-in sources
    folder: Path | None = None


def parse_data_spec(text: str, option: str = "--data") -> DataSpec:
    """Parse ``--data``/``--val``: ``synthetic:radial|cartesian|brain`` or an existing folder."""
    if text.startswith("synthetic"):
        kind = text.partition(":")[2] or "radial"
        if kind not in SYNTHETIC_KINDS:
            raise UsageError(
                f"{option}: unknown synthetic source '{text}'; use synthetic:radial, synthetic:cartesian "
                "or synthetic:brain"
            )
        return DataSpec(text=f"synthetic:{kind}", synthetic=kind)
    folder = Path(text)
    if not folder.is_dir():
        from recon_cli.errors import InputDataError

        raise InputDataError(folder, f"no such data folder ({option} takes a folder or synthetic:radial)")
    return DataSpec(text=str(folder), folder=folder)


def split_settings(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Split flat settings into (model, data, train) overrides by their ``data.``/``train.`` prefixes."""
    model: dict[str, Any] = {}
    data: dict[str, Any] = {}
    train: dict[str, Any] = {}
    for key, value in values.items():
        if key in ("model", "data", "train") and isinstance(value, dict):
            {"model": model, "data": data, "train": train}[key].update(
                {str(k).replace("-", "_"): v for k, v in value.items()}
            )
        elif key.startswith(("data.", "train.")):
            section, _, name = key.partition(".")
            (data if section == "data" else train)[name.replace("-", "_")] = value
        else:
            model[key] = value
    return model, data, train


def build_config(cls: type, overrides: dict[str, Any], section: str) -> Any:
    """``cls()`` with ``overrides`` converted to each field's type; unknown keys are a ``UsageError``."""
    return resolve_settings(
        cls,
        overrides,
        error=UsageError,
        unknown=f"{section} setting(s)",
        key=lambda name: f"{section}.{name}",
    )


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UsageError(f"{name} must be one of {', '.join(choices)}, got {value!r}")

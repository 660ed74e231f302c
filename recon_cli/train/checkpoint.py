"""Checkpoints: everything needed to continue a run bit for bit, readable with ``weights_only=True``.

A checkpoint (``last.pt``, ``best.pt``) is a dict of tensors and plain Python values only:

* ``format``: ``"recon-checkpoint/1"``;
* ``model``: the model's ``state_dict`` (what ``recon reconstruct --weights`` loads);
* ``optimizer``, ``scheduler``, ``scaler``: their ``state_dict`` (scaler empty without fp16 AMP);
* ``rng``: one entry per rank of ``recon_cli.train.seeding.rng_state()`` (torch, CUDA, numpy, Python);
* ``step``: optimiser steps done; ``data``: ``{"epoch", "batch"}``, the batches this rank consumed in
  that epoch (the same on every rank), ``world_size``;
* ``best``: ``{"step", "val_nrmse"}`` of the best validation so far (or None);
* ``config``: the resolved configuration (model name and config, training and data settings, specs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from recon_cli.errors import InputDataError
from recon_cli.io.atomic import atomic_path
from recon_cli.weights import read_plain

FORMAT = "recon-checkpoint/1"
LAST, BEST = "last.pt", "best.pt"


def save_checkpoint(path: Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` atomically (temporary file in the same folder, then rename over ``path``)."""
    with atomic_path(path, overwrite=True) as tmp:
        torch.save({"format": FORMAT, **payload}, tmp)
    return Path(path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` (no arbitrary code runs).

    Args:
        path: a ``.pt`` file or a run folder (then its ``last.pt``).

    Raises:
        InputDataError: missing, unreadable, or not a recon checkpoint.
    """
    path = Path(path)
    if path.is_dir():
        path = path / LAST
    if not path.is_file():
        raise InputDataError(path, "no checkpoint to resume from")
    state = read_plain(path, "checkpoint")
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InputDataError(path, "not a recon training checkpoint")
    return state

"""Training of learned model plugins: datasets, the loop, checkpoints, multi-process runs.

``train(TrainRequest(...))`` is what ``recon train`` calls; see ``recon_cli.train.run`` for the run
folder it leaves and ``recon_cli.train.checkpoint`` for what a checkpoint holds. The names are loaded
on first use, so ``recon_cli.train.config`` can be imported without torch (``recon --help`` stays fast).
"""

from __future__ import annotations

from typing import Any

__all__ = ["TrainRequest", "TrainResult", "train"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from recon_cli.train import run

        return getattr(run, name)
    raise AttributeError(f"module 'recon_cli.train' has no attribute {name!r}")

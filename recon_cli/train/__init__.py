"""Training of learned model plugins: datasets, the loop, checkpoints, multi-process runs.

``train(TrainRequest(...))`` is what ``recon train`` calls; see ``recon_cli.train.run`` for the run
folder it leaves and ``recon_cli.train.checkpoint`` for what a checkpoint holds. The names are loaded
on first use, so ``recon_cli.train.config`` can be imported without torch (``recon --help`` stays fast).
"""

from __future__ import annotations

from recon_cli.lazy import lazy_exports

__all__ = ["TrainRequest", "TrainResult", "train"]


__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "run"))

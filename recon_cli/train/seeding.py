"""Seeds derived from names, and the global random states a checkpoint saves and restores.

Everything random in training (data order, on-the-fly masks, synthetic phantoms and noise) draws from
explicit generators seeded by ``derive_seed(base, ...)``: a stable hash (not Python's salted ``hash``),
so a seed depends only on its parts, on every machine and in every process. The global generators
(torch, numpy, Python) are seeded per rank too, for plugins that use them (dropout), and are saved in
checkpoints as tensors and plain numbers so ``torch.load(weights_only=True)`` can read them.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import numpy as np
import torch


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any printable parts, e.g. ``derive_seed(seed, "mask", "file1.h5", 3, epoch)``."""
    text = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 1


def seed_globals(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy's legacy global generator and Python's ``random``."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def rng_state() -> dict[str, Any]:
    """This process's global random states as tensors and plain numbers (``weights_only``-loadable)."""
    _, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    version, internal, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": int(version), "state": torch.tensor(internal, dtype=torch.int64)},
        "python_gauss_next": gauss_next,
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` returned."""
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    keys = np_state["keys"].numpy().astype(np.uint32)
    np.random.set_state(
        ("MT19937", keys, np_state["pos"], np_state["has_gauss"], np_state["cached_gaussian"])
    )
    py = state["python"]
    internal = tuple(int(v) for v in py["state"].tolist())
    random.setstate((py["version"], internal, state["python_gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def worker_init(worker_id: int) -> None:
    """DataLoader worker set-up: seed numpy and Python from the worker's torch seed.

    Datasets draw from explicit generators, so workers' global random states do not matter; they are
    still seeded from the loader's generator (``torch.initial_seed()`` in a worker) for plugins' sake.
    Workers keep the default SIGTERM action: DataLoader and multiprocessing stop them with it.
    """
    seed = torch.initial_seed()
    np.random.seed(seed % 2**32)
    random.seed(seed)

"""Model weights: where they come from (shipped, a file, a run folder), reading them safely, loading them.

Weights files are read with ``torch.load(weights_only=True)``: tensors and plain containers only, never
arbitrary Python objects. Every failure is one line naming the file.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

import torch

from recon_cli.errors import InputDataError, ModelError, first_line
from recon_cli.registry import ModelPlugin


def apply_weights(module: torch.nn.Module, state: dict[str, torch.Tensor], source: object, name: str) -> None:
    """Load ``state`` into ``module``; a mismatch is a ModelError naming ``source`` and model ``name``."""
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelError(f"{source}: weights do not fit model '{name}': {_state_dict_problem(exc)}") from None


def _state_dict_problem(exc: RuntimeError) -> str:
    """torch's load_state_dict message in one line: the first missing/unexpected key or shape mismatch."""
    lines = [line.strip() for line in str(exc).splitlines()[1:] if line.strip()]
    detail = lines[0] if lines else first_line(exc, None)
    detail = detail.replace("\t", " ")
    return detail if len(detail) <= 200 else detail[:197] + "..."


def load_weights(
    plugin: ModelPlugin, weights: Path | None
) -> tuple[dict[str, torch.Tensor] | None, dict[str, Any]]:
    """(state dict, model config it was trained with) of the given or default weights."""
    source = weights_source(plugin, weights)
    return (None, {}) if source is None else read_weights(plugin, source["path"])


def weights_source(plugin: ModelPlugin, weights: Path | None) -> dict[str, Any] | None:
    """Where the weights come from: {"source": "shipped"|"file"|"run", "path", "sha256"}, or None.

    ``weights`` is a ``.pt`` file or a ``recon train`` run folder (its best.pt, else last.pt); None means
    the plugin's shipped default weights, if it has any.
    """
    if weights is None:
        if plugin.default_weights is None:
            return None
        from importlib import resources

        package, filename = plugin.default_weights
        path, kind = Path(str(resources.files(package) / filename)), "shipped"
    elif not plugin.trainable:
        raise ModelError(f"model '{plugin.name}' has no weights; drop --weights")
    else:
        path, kind = Path(weights), "file"
        if path.is_dir():
            kind = "run"
            path = next((path / n for n in ("best.pt", "last.pt", "weights.pt") if (path / n).exists()), path)
    if not path.is_file():
        problem = "a run folder without best.pt or last.pt" if path.is_dir() else "no such weights file"
        raise InputDataError(path, problem)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise InputDataError(path, f"cannot read weights: {exc.strerror}") from None
    return {"source": kind, "path": str(path), "sha256": digest}


def read_plain(path: Path, what: str) -> object:
    """What a ``.pt`` file (weights or a training checkpoint) holds, read with ``weights_only=True``.

    Args:
        path: The file.
        what: What it should be ("weights", "checkpoint"), for the error message.

    Raises:
        InputDataError: it holds Python objects beyond tensors and plain containers (unsafe to load), or
            it is not a PyTorch file (or truncated).
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # a pickle that needs more than tensors and plain containers
        raise InputDataError(
            path, f"not a plain {what} file: it holds Python objects that recon does not load (unsafe)"
        ) from None
    except Exception:  # torch.load fails in many ways on files it did not write (zip, pickle, EOF, ...)
        raise InputDataError(path, f"not a PyTorch {what} file, or truncated") from None


def read_weights(plugin: ModelPlugin, path: Path | str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state dict, model config it was trained with) of a weights file (loaded with weights_only)."""
    path = Path(path)
    state = read_plain(path, "weights")
    if not isinstance(state, dict):
        raise InputDataError(path, "not a state dict or a recon checkpoint")
    saved = state.get("config")
    record: dict[str, Any] = saved if isinstance(saved, dict) else {}
    if record.get("model") not in (None, plugin.name):
        raise ModelError(f"{path}: weights were trained for model '{record['model']}', not '{plugin.name}'")
    return state.get("model", state), dict(record.get("model_config") or {})

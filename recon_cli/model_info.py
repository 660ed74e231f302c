"""What ``recon models`` shows about a model plugin, as plain data: a one-line summary and a full card.

Nothing here imports torch: plugins declare their config and weights without building a network, the
weights file is hashed as bytes, and measured quality is looked up by the model's CLI name in the
tables of docs/benchmarks.md (when the source tree is at hand) and in the plugin's MODEL_CARD.md.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import io
import pickle
import re
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

from recon_cli.registry import ModelPlugin

BENCHMARKS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
_MAX_QUALITY_ROWS = 8


def model_summary(plugin: ModelPlugin, weights: dict[str, Any] | None = None) -> dict[str, Any]:
    """name, kind ("learned" or "classical"), data it supports, whether weights ship with it, and how many
    iterations it runs as shipped (the shipped weights' own settings, where they set them); ``weights``:
    the plugin's ``_weights`` entry when the caller has read it already."""
    settings = (weights or _weights(plugin) or {}).get("settings", {})
    return {
        "name": plugin.name,
        "kind": "learned" if plugin.trainable else "classical",
        "data": plugin.supports(),
        "shipped_weights": plugin.default_weights is not None,
        "iterations": iteration_rule(plugin.config_cls, settings),
        "description": plugin.description,
    }


_DEPTH_FIELDS = ("iterations", "blocks", "cascades", "stages")  # the depth of an unrolled or iterative model


def iteration_rule(config_cls: type, settings: dict[str, Any] | None = None) -> str:
    """How many iterations a model runs at its defaults, or with ``settings`` (e.g. those its shipped
    weights bring) in their place: "fixed N" (a fixed depth: unrolled networks, solvers without a
    convergence test or with tolerance 0), "<=N tol T" (stops early when its relative change falls below
    T), or "-" (a single pass)."""
    values = {**dataclasses.asdict(config_cls()), **(settings or {})}
    depth = next((values[f] for f in _DEPTH_FIELDS if f in values), None)
    if depth is None:
        return "-"
    tol = values.get("tol", 0)
    return f"<={depth} tol {tol:.0e}".replace("e-0", "e-") if tol else f"fixed {depth}"


def model_card(plugin: ModelPlugin) -> dict[str, Any]:
    """The summary plus config keys (type, default, help), weights provenance and measured quality."""
    weights = _weights(plugin)  # read, hashed and unpickled once for the summary and the card
    card = model_summary(plugin, weights)
    card["config"] = config_keys(plugin.config_cls)
    card["weights"] = weights
    card["model_card"] = _model_card_file(plugin)
    card["quality"] = benchmark_rows(plugin.name)
    card["quality_source"] = str(BENCHMARKS) if BENCHMARKS.is_file() else None
    return card


def config_keys(config_cls: type) -> list[dict[str, Any]]:
    """One entry per config field: key, type, default and the help text of its docstring's Attributes."""
    helps = _attribute_help(config_cls.__doc__ or "")
    defaults = config_cls()
    return [
        {
            "key": f.name,
            "type": f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type)),
            "default": _plain(getattr(defaults, f.name)),
            "help": helps.get(f.name, ""),
        }
        for f in dataclasses.fields(config_cls)
    ]


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value if isinstance(value, bool | int | float | str | list | dict) or value is None else str(value)


def _attribute_help(doc: str) -> dict[str, str]:
    """``key: text`` entries of a Google-style ``Attributes:`` section, continuation lines joined."""
    helps: dict[str, str] = {}
    lines = doc.expandtabs().splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.strip() == "Attributes:"), None)
    if start is None:
        return helps
    indent, key = None, None
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        depth = len(line) - len(line.lstrip())
        indent = depth if indent is None else indent
        match = re.match(r"(\w+)(?: \([^)]*\))?: (.*)", line.strip())
        if depth == indent and match:
            key = match.group(1)
            helps[key] = match.group(2)
        elif depth > indent and key is not None:
            helps[key] += " " + line.strip()
        else:
            break
    return helps


def _weights(plugin: ModelPlugin) -> dict[str, Any] | None:
    """The shipped default weights: package resource, file, size and sha256 (None when none ship)."""
    if plugin.default_weights is None:
        return None
    package, name = plugin.default_weights
    entry: dict[str, Any] = {"source": "shipped with the plugin", "resource": f"{package}/{name}"}
    try:
        path = resources.files(package).joinpath(name)
        data = path.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:
        entry["problem"] = f"not readable: {exc}"
        return entry
    entry.update(file=str(path), bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    trained = shipped_model_config(data)
    defaults = dataclasses.asdict(plugin.config_cls())
    entry["settings"] = {k: v for k, v in trained.items() if k in defaults and defaults[k] != v}
    return entry


class _Placeholder:
    """What a tensor or storage of a weights file becomes when only its settings are read."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __setstate__(self, state: object) -> None:
        pass


class _SettingsUnpickler(pickle.Unpickler):
    """Reads a ``torch.save`` pickle without torch: tensors and storages become placeholders, plain
    containers stay, and any other global is refused (nothing from the file runs)."""

    _PLAIN = {("collections", "OrderedDict"): collections.OrderedDict, ("builtins", "set"): set}

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" or module.startswith("torch."):
            return _Placeholder
        if (module, name) in self._PLAIN:
            return self._PLAIN[(module, name)]
        raise pickle.UnpicklingError(f"refusing {module}.{name}")

    def persistent_load(self, pid: object) -> None:
        return None


def shipped_model_config(data: bytes) -> dict[str, Any]:
    """The model settings a weights file (``scripts/ship_weights.py``'s format, a ``torch.save`` zip)
    was trained with, read without importing torch; {} when it holds none or cannot be read."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            pickled = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
            payload = _SettingsUnpickler(io.BytesIO(archive.read(pickled))).load()
    except (zipfile.BadZipFile, StopIteration, pickle.UnpicklingError, EOFError, ValueError, TypeError):
        return {}
    config = payload.get("config") if isinstance(payload, dict) else None
    model_config = config.get("model_config") if isinstance(config, dict) else None
    return dict(model_config) if isinstance(model_config, dict) else {}


def _model_card_file(plugin: ModelPlugin) -> str | None:
    """The plugin package's MODEL_CARD.md (the package that holds its config module), if it has one."""
    package = plugin.config_cls.__module__.rpartition(".")[0]
    try:
        card = resources.files(package).joinpath("MODEL_CARD.md") if package else None
    except (ModuleNotFoundError, TypeError):
        return None
    return str(card) if card is not None and card.is_file() else None


def benchmark_rows(name: str, path: Path = BENCHMARKS) -> list[dict[str, Any]]:
    """Rows of docs/benchmarks.md tables whose first or second cell names the model (as the CLI does).

    Returns:
        Up to 8 entries, rows of quality tables (SSIM, PSNR, NRMSE columns) first: section (its ``##``
        heading) and cells as {column header: value}.
    """
    if not path.is_file():
        return []
    found, section, header = [], "", None
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            section, header = line.lstrip("#").strip(), None
        elif not line.startswith("|"):
            header = None
        elif header is None:
            header = _cells(line)
        elif not set(line) <= set("|-: "):
            cells = _cells(line)
            if name in (c.strip("`* ") for c in cells[:2]) and len(cells) == len(header):
                found.append({"section": section, "cells": dict(zip(header, cells, strict=True))})
    quality = [e for e in found if any(re.search(r"SSIM|PSNR|NRMSE", k) for k in e["cells"])]
    return (quality + [e for e in found if e not in quality])[:_MAX_QUALITY_ROWS]


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]

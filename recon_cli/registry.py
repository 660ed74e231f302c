"""Model plugins, discovered through the ``recon.models`` entry-point group.

Names are listed from installed package metadata without importing any plugin; a plugin is imported only
when it is asked for by name. First-party and third-party plugins register the same way::

    [project.entry-points."recon.models"]
    zero-filled = "recon_plugins.zero_filled:plugin"
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any

from recon_cli.contract import checked_model
from recon_cli.errors import ModelError
from recon_cli.settings import resolve_settings

if TYPE_CHECKING:
    import torch

ENTRY_POINT_GROUP = "recon.models"


@dataclass(frozen=True)
class LazyBuild:
    """A builder named by ``"module:attr"``: the module is imported only when a model is built.

    Declaring a plugin this way imports no torch, so ``recon models`` and ``--help`` stay fast.
    """

    target: str

    def __post_init__(self) -> None:
        module, _, attr = self.target.partition(":")
        if not module or not attr:
            raise ValueError(f"build must name 'module:attr', got {self.target!r}")

    def __call__(self, config: Any) -> Any:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)(config)


@dataclass(frozen=True)
class ModelPlugin:
    """What a model plugin declares.

    Attributes:
        name: registry name, e.g. "imunne".
        description: one line for ``recon models``.
        config_cls: typed dataclass holding the only copy of the model's defaults.
        build: config -> a module keeping ``recon_cli.contract.ReconModel`` (``forward(kspace, op,
            x0=None)`` returns the image; ``coil_maps`` is "required", "optional" or "ignored"); callers
            use ``create``, which checks it. A ``"module:attr"`` string names such a callable, imported
            only when a model is built (see ``LazyBuild``).
        trainable: whether ``recon train`` applies.
        cartesian / non_cartesian / static / dynamic: which data it supports.
        default_weights: package resource ("package.module", "file.pt") of shipped weights, if any.
        working_set: config -> ``recon_cli.memory.working_set.WorkingSet``, what the model keeps while it
            reconstructs a slice (``--dry-run`` and ``--max-memory`` plan with it); None: a generic guess.
        temporal_reach: config -> how many neighbouring frames on each side one output frame depends on
            (0: every frame is reconstructed from its own data alone), or None for that config: the whole
            series (a temporal regulariser, a stopping rule or an intensity scale shared by all frames).
            Only a finite reach lets ``--max-memory`` reconstruct the frames in overlapping windows
            (``recon_cli.memory.frame_windows``), and it must be exact: windows keep only the frames
            that lie at least this far from their cut ends. None (the default): never windowed.
    """

    name: str
    description: str
    config_cls: type
    build: Callable[[Any], Any] | str
    trainable: bool = False
    cartesian: bool = True
    non_cartesian: bool = True
    static: bool = True
    dynamic: bool = True
    default_weights: tuple[str, str] | None = None
    working_set: Callable[[Any], Any] | None = None
    temporal_reach: Callable[[Any], int | None] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.build, str):
            object.__setattr__(self, "build", LazyBuild(self.build))

    def create(self, config: Any) -> torch.nn.Module:
        """``build(config)``, checked against the model contract (ModelError naming this plugin)."""
        build = self.build
        assert not isinstance(build, str)  # made a LazyBuild in __post_init__
        return checked_model(build(config), self.name)

    def supports(self) -> str:
        """Human-readable list of the data this model handles."""
        kinds = [k for k, ok in (("Cartesian", self.cartesian), ("non-Cartesian", self.non_cartesian)) if ok]
        dims = [k for k, ok in (("2D", self.static), ("2D+t", self.dynamic)) if ok]
        return f"{' / '.join(kinds)}; {' / '.join(dims)}"


def available_models() -> list[str]:
    """Registered model names, sorted, read from entry-point metadata without importing plugins."""
    return sorted({ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)})


def load_plugin(name: str) -> ModelPlugin:
    """Import and return the plugin registered as ``name``.

    Raises:
        ModelError: unknown name (with the available ones and a close match) or a broken plugin.
    """
    eps = {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    if name not in eps:
        names = sorted(eps)
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ModelError(f"Unknown model '{name}'.{hint} Available: {', '.join(names) or '(none)'}")
    try:
        plugin = eps[name].load()
    except Exception as exc:  # a third-party plugin may fail in any way on import
        raise ModelError(f"model '{name}' failed to load from {eps[name].value}: {exc}") from exc
    if not isinstance(plugin, ModelPlugin):
        raise ModelError(f"model '{name}': {eps[name].value} is not a recon ModelPlugin")
    return plugin


def resolve_config(plugin: ModelPlugin, overrides: dict[str, Any] | None = None) -> Any:
    """Build the plugin's config: dataclass defaults, then ``overrides`` (file, then CLI).

    Unknown keys and values of the wrong type are errors naming the model and the key.
    """
    return resolve_settings(
        plugin.config_cls,
        overrides,
        error=lambda message: ModelError(f"model '{plugin.name}': {message}"),
        unknown="config key(s)",
        key=lambda name: f"config key '{name}'",
    )


def config_to_dict(config: Any) -> dict[str, Any]:
    """The resolved config as plain JSON-able data."""
    return dataclasses.asdict(config)

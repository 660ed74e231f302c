"""The contract between a model plugin's module and the pipeline (reconstruct, train, references).

``ModelPlugin.create(config)`` builds a module and checks it against ``ReconModel``; everything that runs a
model goes through the helpers here rather than probing attributes itself. Nothing here imports torch at
module level, so the registry stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol, cast, get_args, runtime_checkable

from recon_cli.errors import ModelError

if TYPE_CHECKING:
    import torch

    from recon_cli.ops.base import LinearOperator

CoilMapsMode = Literal["required", "optional", "ignored"]
COIL_MAPS_MODES: tuple[str, ...] = get_args(CoilMapsMode)


@runtime_checkable
class SolverInfo(Protocol):
    """How an iterative model's latest solve went (e.g. ``fixed_point.FixedPointInfo``)."""

    iterations: int
    relative_change: float


@runtime_checkable
class ReconModel(Protocol):
    """What ``ModelPlugin.build(config)`` returns: a ``torch.nn.Module`` with

    * ``coil_maps``: "required" (the operator carries sensitivity maps and the model needs them),
      "optional" (used when given), or "ignored" (coil images; the pipeline passes no maps);
    * ``forward(kspace, op, x0=None)``: measured k-space of one slice, ``(frames, coils, ny, nx)`` or
      ``(frames, coils, samples)`` complex64, and its ``LinearOperator``; returns the image
      ``(frames, ny, nx)`` complex64 on the input's device.

    Optional: ``last_info`` (a ``SolverInfo``, set by each forward of iterative models) and
    ``auxiliary_loss() -> Tensor | None`` (a training term from the latest forward, added to the loss).
    """

    coil_maps: CoilMapsMode

    def __call__(
        self, kspace: torch.Tensor, op: LinearOperator, x0: torch.Tensor | None = None
    ) -> torch.Tensor: ...


def checked_model(module: object, name: str) -> torch.nn.Module:
    """``module`` if it keeps the contract; otherwise a ModelError naming plugin ``name`` and the breach."""
    import torch

    if not isinstance(module, torch.nn.Module):
        raise ModelError(f"model '{name}': build() returned {type(module).__name__}, not a torch.nn.Module")
    mode = getattr(module, "coil_maps", None)
    if mode not in COIL_MAPS_MODES:
        raise ModelError(
            f"model '{name}': its module must set coil_maps to one of {', '.join(COIL_MAPS_MODES)} "
            f"(got {mode!r})"
        )
    if not isinstance(module, ReconModel):
        raise ModelError(f"model '{name}': its module does not follow recon's model contract")
    return module


def coil_maps_mode(module: object) -> CoilMapsMode:
    """Whether the model needs, may use, or ignores coil maps (checked)."""
    return cast("CoilMapsMode", checked_model(module, type(module).__name__).coil_maps)


def solver_info(module: object) -> SolverInfo | None:
    """The model's report of its latest solve, if it is an iterative model that keeps one."""
    info = getattr(module, "last_info", None)
    return info if isinstance(info, SolverInfo) else None


def auxiliary_loss(module: object) -> torch.Tensor | None:
    """The model's own training term from its latest forward, if it defines one."""
    term = getattr(module, "auxiliary_loss", None)
    return term() if callable(term) else None

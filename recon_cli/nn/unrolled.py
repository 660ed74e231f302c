"""The block shared by unrolled and fixed-point networks: a gradient step on data fidelity plus regulariser.

    x_{k+1} = x_k - t (A^H D (A x_k - y) + R(x_k)),   A^H D (A x - y) = op.normal(x, weighted=True) - A^H D y

with a learnable positive step t (softplus of a free parameter) and a learned regulariser R.
"""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from recon_cli.errors import ModelError
from recon_cli.nn.positive import softplus_inverse
from recon_cli.ops.base import LinearOperator


class GradientStepBlock(nn.Module):
    """One step x - t (A^H D (A x - y) + R(x)).

    Args:
        regulariser: Module mapping (frames, ny, nx) complex64 to the same shape and dtype; called as
            ``regulariser(x, context)`` when the block is given a context (e.g. the view-shared image).
        step_init: Initial step t (> 0).
    """

    def __init__(self, regulariser: nn.Module, step_init: float) -> None:
        super().__init__()
        if step_init <= 0:
            raise ValueError(f"step_init must be positive, got {step_init}")
        self.regulariser = regulariser
        self.step_raw = nn.Parameter(torch.tensor(softplus_inverse(step_init)))

    @property
    def step(self) -> torch.Tensor:
        """The step t = softplus(step_raw) > 0, a () float32 tensor."""
        return F.softplus(self.step_raw)

    def forward(
        self,
        x: torch.Tensor,
        op: LinearOperator,
        gridded: torch.Tensor,
        context: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Apply the step.

        Args:
            x: (frames, ny, nx) complex64 current image.
            op: Forward model with coil maps (image domain (frames, ny, nx)).
            gridded: (frames, ny, nx) complex64 A^H D y, the gridding of the measured data.
            context: Extra regulariser input, e.g. the (1, ny, nx) complex64 view-shared image; None: the
                regulariser sees x alone.

        Returns:
            (frames, ny, nx) complex64.
        """
        prior = self.regulariser(x) if context is None else self.regulariser(x, context)
        return x - self.step * (data_gradient(x, op, gridded) + prior)


def data_gradient(x: torch.Tensor, op: LinearOperator, gridded: torch.Tensor) -> torch.Tensor:
    """The gradient of the data term 1/2 ||A x - y||_D^2: A^H D (A x - y) = A^H D A x - A^H D y.

    Computed in full precision even under autocast (NUFFTs and FFTs are not for half precision).

    Args:
        x: (frames, ny, nx) complex64 current image.
        op: Forward model with coil maps (image domain (frames, ny, nx)); D its density weights (Cartesian:
            none).
        gridded: (frames, ny, nx) complex64 A^H D y, the gridding of the measured data.

    Returns:
        (frames, ny, nx) complex64.
    """
    with torch.autocast(device_type=x.device.type, enabled=False):
        return op.normal(x, weighted=True).to(torch.complex64) - gridded


class ContractiveRegulariser(nn.Module):
    """R(x) = mu x - g C(x), a regulariser that keeps the gradient-step block a contraction.

    With C (approximately) 1-Lipschitz (spectrally normalised convolutions), mu > 0 and the gain
    g = lipschitz * mu * sigmoid(free parameter) < mu, the block x - t (A^H D (A x - y) + R(x)) has, on the
    null space of A, a Jacobian of norm at most 1 - t (mu - g) < 1: plain iteration converges to a unique
    fixed point, which is what an implicit network needs (the block R(x) = C(x) alone has eigenvalue 1
    there, so its iterates drift once they run past the count used in training). At the fixed point,
    x = (g / mu) C(x) wherever the data say nothing.

    Args:
        network: C, mapping (frames, ny, nx) complex64 to the same shape.
        lipschitz: Upper bound of g / mu, in (0, 1).
        shrink_init: Initial mu (> 0).
    """

    def __init__(self, network: nn.Module, lipschitz: float, shrink_init: float) -> None:
        super().__init__()
        if not 0 < lipschitz < 1 or shrink_init <= 0:
            raise ValueError("lipschitz must be in (0, 1) and shrink_init > 0")
        self.network = network
        self.lipschitz = lipschitz
        self.shrink_raw = nn.Parameter(torch.tensor(softplus_inverse(shrink_init)))
        self.gain_raw = nn.Parameter(torch.tensor(2.0))  # g starts at 0.88 * lipschitz * mu

    @property
    def shrink(self) -> torch.Tensor:
        """mu > 0, a () float32 tensor."""
        return F.softplus(self.shrink_raw)

    @property
    def gain(self) -> torch.Tensor:
        """g in (0, lipschitz * mu), a () float32 tensor."""
        return self.lipschitz * self.shrink * torch.sigmoid(self.gain_raw)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """x: (frames, ny, nx) complex64 -> R(x), same shape and dtype; ``context`` goes to C unchanged
        (a fixed input: the bound on the Jacobian in x still holds)."""
        network = self.network(x) if context is None else self.network(x, context)
        return self.shrink * x - self.gain * network


def zero_outside_support(x: torch.Tensor, op: LinearOperator) -> torch.Tensor:
    """``x`` (frames, ny, nx) with every pixel where all coil maps of ``op`` are zero set to 0.

    ESPIRiT's maps are zero where the calibration found no signal; there A x does not depend on x, so
    what a network puts there is not constrained by the data (the SENSE solvers leave it at 0). Maps
    without zeros (true coil sensitivities, smooth maps) leave ``x`` as it is.
    """
    maps = getattr(op, "maps", None)
    if maps is None:
        return x
    return x * (maps != 0).any(dim=0).to(x.real.dtype)


def canonical_phase(image: torch.Tensor, enabled: bool) -> torch.Tensor:
    """The unit complex number ``u`` for which ``image * conj(u)`` sums to a real positive value.

    Coil maps fix an image's phase only up to a convention: ESPIRiT's maps carry their own phase
    reference, a scanner's another, the simulation's true maps a third. A network that sees real and
    imaginary parts is not invariant to that global phase, so the networks turn every slice to this
    canonical phase (gridding, context and start alike: the data term is linear, the reweighted start
    invariant to it) and turn their output back. ``enabled`` False, or an image summing to zero: 1.
    """
    one = torch.ones((), dtype=image.dtype, device=image.device)
    if not enabled:
        return one
    total = image.detach().sum()
    size = total.abs()
    return total / size if bool(size > 0) else one


def require_maps(op: LinearOperator, model: str) -> None:
    """Raise ModelError naming ``model`` unless ``op`` holds coil maps (image domain (frames, ny, nx))."""
    if getattr(op, "maps", None) is None:
        raise ModelError(f"{model}: needs coil maps (give --coils or let recon estimate them)")


def view_shared_context(
    kspace: torch.Tensor, op: LinearOperator, model: str, enabled: bool
) -> torch.Tensor | None:
    """The view-shared image of the slice as the regulariser's context, or None when not ``enabled``.

    Args:
        kspace: (frames, coils, ...) complex64 measured data.
        op: Forward model with coil maps.
        model: Model name for error messages.
        enabled: The model's ``view_share`` setting.

    Returns:
        (1, ny, nx) complex64 (``recon_cli.nn.view_share.temporal_average``) or None.
    """
    if not enabled:
        return None
    from recon_cli.nn.view_share import temporal_average

    return temporal_average(kspace, op, model)


# smoothed_start's default eps: frame differences below this fraction of the bright level count as noise
REWEIGHT_EPS = 0.05


def smoothed_start(
    gridded: torch.Tensor,
    op: LinearOperator,
    smoothing: float,
    iterations: int,
    rounds: int = 1,
    eps: float = REWEIGHT_EPS,
) -> torch.Tensor:
    """The networks' starting image: ``gridded`` when ``smoothing`` is 0, else a temporally smoothed SENSE
    image, ``iterations`` conjugate-gradient steps from zero on

        (A^H D A + smoothing D_t^H W D_t + 1e-3 I) x = A^H D y,

    D_t the difference of consecutive frames and W = I. The frames share what they measured, so the start
    is already free of most streaks (a 13-spoke 128 x 128 cine: NRMSE 0.04-0.12 after 10 steps, against
    0.16-0.40 for the gridding); the network only corrects what the prior blurs. With ``rounds`` > 1, every
    further round reweights the penalty by the last image's frame differences and runs ``iterations``
    more CG steps from it: W = e / sqrt(|D_t x|^2 + e^2) (e = ``eps`` times the gridding's 99th
    percentile magnitude), so pixels that move are barely smoothed while static ones keep the full weight
    (iteratively reweighted least squares towards the temporal total variation of ``cs``, at the cost of
    CG steps; a round continues from the last one's residual, updated for the new weights, so it costs its
    CG steps and no more). A single frame gets plain CG-SENSE. Computed in full precision without a graph
    (it has no parameters).

    Args:
        gridded: (frames, ny, nx) complex64 A^H D y.
        op: Forward model with coil maps.
        smoothing: Weight of the temporal difference penalty (>= 0; 0: no solve).
        iterations: CG steps per round (>= 1).
        rounds: Solves in all, the first unweighted (>= 1).
        eps: Frame differences below this fraction of the bright level count as noise in the reweighting
            (> 0; smaller: closer to temporal TV, moving edges kept sharper).

    Returns:
        (frames, ny, nx) complex64.
    """
    if smoothing == 0:
        return gridded
    from recon_cli.solvers.iterative import conjugate_gradient
    from recon_cli.solvers.regularizers import temporal_difference, temporal_difference_adjoint

    with torch.no_grad(), torch.autocast(device_type=gridded.device.type, enabled=False):
        level = eps * float(torch.quantile(gridded.abs().flatten().float(), 0.99))
        weight: torch.Tensor | float = 1.0
        x: torch.Tensor | None = None
        residual: torch.Tensor | None = None
        for round_ in range(rounds):

            def system(v: torch.Tensor, w: torch.Tensor | float = weight) -> torch.Tensor:
                penalty = temporal_difference_adjoint(w * temporal_difference(v))
                return op.normal(v, weighted=True).to(torch.complex64) + smoothing * penalty + 1e-3 * v

            solved = conjugate_gradient(system, gridded, x0=x, r0=residual, max_iter=iterations, tol=0.0)
            x, residual = solved.x, solved.residual_vector
            if round_ + 1 < rounds and x.shape[0] > 1 and level > 0 and residual is not None:
                difference = temporal_difference(x)
                step = difference.abs()
                new_weight = level / torch.sqrt(step * step + level * level)
                # the next system differs from this one only in the penalty's weights, so its residual at x
                # follows from this solve's without applying the forward model again
                change = temporal_difference_adjoint((weight - new_weight) * difference)
                residual = residual + smoothing * change
                weight = new_weight
        assert x is not None
        return x


class StartConfig(Protocol):
    """The start options a CU-Net model's config carries (``recon_plugins.cunet.config.CUNetConfig``)."""

    @property
    def start_smoothing(self) -> float: ...
    @property
    def start_iterations(self) -> int: ...
    @property
    def start_rounds(self) -> int: ...
    @property
    def start_eps(self) -> float: ...


def configured_start(gridded: torch.Tensor, op: LinearOperator, config: StartConfig) -> torch.Tensor:
    """``smoothed_start`` of ``gridded`` with the options of a model's ``config``."""
    return smoothed_start(
        gridded, op, config.start_smoothing, config.start_iterations, config.start_rounds, config.start_eps
    )


class NetworkInputConfig(StartConfig, Protocol):
    """The input options the unrolled networks' configs carry (cunet, alt-un, imunne)."""

    @property
    def view_share(self) -> bool: ...
    @property
    def canonical_phase(self) -> bool: ...


def canonical_inputs(
    gridded: torch.Tensor,
    kspace: torch.Tensor,
    op: LinearOperator,
    x0: torch.Tensor | None,
    config: NetworkInputConfig,
    model: str,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor]:
    """A network's inputs turned to the canonical phase of ``gridded`` (see ``canonical_phase``).

    Returns:
        (gridded, context, start, back): the turned gridding, view-shared context (None without
        ``view_share``) and start (``x0``, or ``configured_start`` of the gridding; complex64), and the
        unit complex number that turns the network's output back to the phase of the maps.
    """
    turn = canonical_phase(gridded, config.canonical_phase).conj()
    gridded = gridded * turn
    context = view_shared_context(kspace, op, model, config.view_share)
    context = None if context is None else context * turn
    start = configured_start(gridded, op, config) if x0 is None else x0 * turn
    return gridded, context, start.to(torch.complex64), turn.conj()


def sense_gridding(kspace: torch.Tensor, op: LinearOperator, model: str) -> torch.Tensor:
    """A^H D y coil-combined by the operator's maps, in full precision even under autocast.

    Args:
        kspace: (frames, coils, ...) complex64 measured data.
        op: Forward model; must hold coil maps.
        model: Model name for the error message.

    Returns:
        (frames, ny, nx) complex64.

    Raises:
        ModelError: the operator has no coil maps.
    """
    require_maps(op, model)
    with torch.autocast(device_type=kspace.device.type, enabled=False):
        return op.gridding(kspace).to(torch.complex64)

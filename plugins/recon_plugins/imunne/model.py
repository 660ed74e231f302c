"""The ``imunne`` model: the fixed point of x = x - t (A^H D (A x - y) + R(x)), trained by JFB."""

from __future__ import annotations

import torch
from torch import nn

from recon_cli.nn.cunet import CUNet
from recon_cli.nn.slice_model import SliceModel
from recon_cli.nn.unrolled import (
    ContractiveRegulariser,
    GradientStepBlock,
    canonical_inputs,
    sense_gridding,
    zero_outside_support,
)
from recon_cli.ops.base import LinearOperator
from recon_cli.solvers.fixed_point import FixedPointInfo, jacobian_free_fixed_point
from recon_plugins.imunne.config import IMUNNEConfig


class IMUNNE(SliceModel):
    """Implicit (fixed-point) network with one shared gradient-step block and a CU-Net regulariser.

    The fixed point is found without an autograd graph (Picard or Anderson iteration from the gridded
    image). In training mode with gradients enabled, the last iteration applies the block with gradients
    to the detached previous iterate (Jacobian-free backpropagation), so training memory does not grow
    with the number of iterations. In evaluation mode the fixed point itself is returned.

    With ``residual_weight`` > 0, a training forward also keeps ``residual_weight`` times the relative
    fixed-point residual of its last, differentiated application, ||f(x) - x|| / ||x|| at the detached
    previous iterate x; the training loop adds it to the loss (``auxiliary_loss``). It costs no extra
    block application and rewards a block whose iterates settle where the loss is low, so that inference
    can iterate to a tolerance instead of stopping at a tuned count.

    With ``relaxation`` a < 1, every iteration is the averaged step x + a (f(x) - x) (Krasnosel'skii-Mann
    iteration): the same fixed points, but a block whose iterates oscillate (a Jacobian eigenvalue near
    -1) is damped into a monotone sequence.

    Attributes:
        last_info: FixedPointInfo of the latest forward call (iterations run, final relative change).
    """

    def __init__(self, config: IMUNNEConfig) -> None:
        super().__init__()
        self.config = config
        self.coil_maps = "required"
        context_chans = int(config.view_share)
        if config.contractive:
            network = CUNet(config.chans, config.depth, spectral_norm=True, context_chans=context_chans)
            regulariser: nn.Module = ContractiveRegulariser(network, config.lipschitz, config.shrink_init)
        else:
            regulariser = CUNet(config.chans, config.depth, context_chans=context_chans)
        self.block = GradientStepBlock(regulariser, config.step_init)
        self.last_info: FixedPointInfo | None = None
        self._residual: torch.Tensor | None = None

    def auxiliary_loss(self) -> torch.Tensor | None:
        """The weighted fixed-point residual of the latest training forward (None when not kept)."""
        residual, self._residual = self._residual, None
        return residual

    def reconstruct(self, kspace: torch.Tensor, op: LinearOperator, x0: torch.Tensor | None) -> torch.Tensor:
        """x0 default: the coil-combined gridding A^H D y (``start_smoothing``: a smoothed SENSE image)."""
        c = self.config
        gridded = sense_gridding(kspace, op, "imunne")
        gridded, context, start, back = canonical_inputs(gridded, kspace, op, x0, c, "imunne")
        training = self.training and torch.is_grad_enabled()
        iterations = self.config.iterations
        if training and self.config.train_iterations:
            iterations = self.config.train_iterations
        if training and 0 < self.config.train_iterations_min < iterations:
            low = self.config.train_iterations_min  # the training loop seeds and checkpoints this RNG
            iterations = int(torch.randint(low, iterations + 1, ()).item())
        last_input: list[torch.Tensor] = []
        relaxation = self.config.relaxation

        def step(x: torch.Tensor) -> torch.Tensor:
            last_input[:] = [x]
            y = self.block(x, op, gridded, context)
            return y if relaxation == 1.0 else x + relaxation * (y - x)

        x, self.last_info = jacobian_free_fixed_point(
            step,
            start,
            iterations,
            self.config.tol,
            use_anderson=self.config.anderson,
            memory=self.config.anderson_memory,
            with_gradient=training,
        )
        self._residual = None
        if training and self.config.residual_weight > 0:
            before = last_input[0].detach()
            change = torch.linalg.vector_norm(x - before) / torch.linalg.vector_norm(before).clamp_min(1e-12)
            self._residual = self.config.residual_weight * change
        x = x * back
        return zero_outside_support(x, op) if self.config.support_mask else x

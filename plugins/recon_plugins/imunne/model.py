"""The ``imunne`` model: the fixed point of x = x - t (A^H D (A x - y) + R(x)), trained by JFB."""

from __future__ import annotations

import torch
from torch import nn

from recon_cli.fixed_point import FixedPointInfo, jacobian_free_fixed_point
from recon_cli.nn.cunet import CUNet
from recon_cli.nn.unrolled import ContractiveRegulariser, GradientStepBlock, sense_gridding
from recon_cli.ops.base import LinearOperator
from recon_plugins.imunne.config import IMUNNEConfig


class IMUNNE(nn.Module):
    """Implicit (fixed-point) network with one shared gradient-step block and a CU-Net regulariser.

    The fixed point is found without an autograd graph (Picard or Anderson iteration from the gridded
    image). In training mode with gradients enabled, the last iteration applies the block with gradients
    to the detached previous iterate (Jacobian-free backpropagation), so training memory does not grow
    with the number of iterations. In evaluation mode the fixed point itself is returned.

    Attributes:
        last_info: FixedPointInfo of the latest forward call (iterations run, final relative change).
    """

    def __init__(self, config: IMUNNEConfig) -> None:
        super().__init__()
        self.config = config
        self.coil_maps = "required"
        if config.contractive:
            network = CUNet(config.chans, config.depth, spectral_norm=True)
            regulariser: nn.Module = ContractiveRegulariser(network, config.lipschitz, config.shrink_init)
        else:
            regulariser = CUNet(config.chans, config.depth)
        self.block = GradientStepBlock(regulariser, config.step_init)
        self.last_info: FixedPointInfo | None = None

    def forward(
        self, kspace: torch.Tensor, op: LinearOperator, x0: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Reconstruct one slice.

        Args:
            kspace: (frames, coils, ny, nx) Cartesian or (frames, coils, samples) non-Cartesian, complex64.
            op: The slice's forward model with coil maps; image domain (frames, ny, nx).
            x0: (frames, ny, nx) complex starting image; default the coil-combined gridding A^H D y.

        Returns:
            (frames, ny, nx) complex64.
        """
        gridded = sense_gridding(kspace, op, "imunne")
        start = gridded if x0 is None else x0.to(torch.complex64)
        training = self.training and torch.is_grad_enabled()
        iterations = self.config.iterations
        if training and self.config.train_iterations:
            iterations = self.config.train_iterations
        if training and 0 < self.config.train_iterations_min < iterations:
            low = self.config.train_iterations_min  # the training loop seeds and checkpoints this RNG
            iterations = int(torch.randint(low, iterations + 1, ()).item())
        x, self.last_info = jacobian_free_fixed_point(
            lambda x: self.block(x, op, gridded),
            start,
            iterations,
            self.config.tol,
            use_anderson=self.config.anderson,
            memory=self.config.anderson_memory,
            with_gradient=training,
        )
        return x

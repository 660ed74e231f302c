"""The ``deq`` model: x* = R(x* - eta A^H D (A x* - y)), found by Broyden's method, trained implicitly."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from recon_cli.nn import channels_to_image, image_to_channels, rms_scale
from recon_cli.nn.unrolled import sense_gridding
from recon_cli.ops.base import LinearOperator
from recon_cli.solvers.fixed_point import FixedPointInfo, broyden
from recon_cli.solvers.implicit import BackwardInfo, BackwardOptions, differentiable_fixed_point
from recon_plugins.deq.config import DEQConfig


class ResidualDenoiser(nn.Module):
    """R(z) = (z - s D(z / s)) / (1 + mu): a small CNN D, of bounded gain, removes artefacts and noise.

    D is ``layers`` 3x3 convolutions without bias on the real and imaginary channels with ReLU between
    them, each weight divided by its spectral norm (as a matrix, estimated by one power iteration per
    call) when that exceeds one, and the output scaled by a learned gain in (0, lipschitz). D is then
    (approximately) lipschitz-Lipschitz, and with the shrinkage mu = lipschitz + softplus(free parameter)
    the map R is a contraction: the fixed point is well defined and the solvers converge, also where the
    data leave k-space free and the gradient step is the identity. Without biases D is positively
    homogeneous; the scale s (the data's RMS level) keeps its input near unit level anyway.

    Args:
        chans: Feature channels.
        layers: Convolutions (>= 2).
        lipschitz: Bound on D's gain (> 0).
        shrink_init: Initial mu - lipschitz (> 0).
    """

    def __init__(self, chans: int, layers: int, lipschitz: float, shrink_init: float) -> None:
        super().__init__()
        widths = [2, *([chans] * (layers - 1)), 2]
        self.weights = nn.ParameterList(
            nn.Parameter(nn.Conv2d(a, b, 3, bias=False).weight.detach().clone())
            for a, b in zip(widths[:-1], widths[1:], strict=True)
        )
        for i, w in enumerate(self.weights):
            self.register_buffer(f"power_vector_{i}", F.normalize(torch.ones(w[0].numel()), dim=0))
        self.lipschitz = lipschitz
        self.gain_raw = nn.Parameter(torch.tensor(-2.0))  # gain = lipschitz * sigmoid: 0.12 lipschitz
        self.shrink_raw = nn.Parameter(torch.tensor(math.log(math.expm1(shrink_init))))

    @property
    def shrink(self) -> torch.Tensor:
        """mu > lipschitz, a () float32 tensor."""
        return self.lipschitz + F.softplus(self.shrink_raw)

    def normalised_weights(self) -> list[torch.Tensor]:
        """Each (out, in, 3, 3) weight divided by max(1, its spectral norm as an (out, 9 in) matrix).

        In training mode one power iteration per call refines the stored singular vector (without a
        graph; eval mode leaves it as it is, so reconstructions do not change the model); the norm
        estimate itself is differentiable, as in spectral normalisation (Miyato et al. 2018).
        """
        out = []
        for i, w in enumerate(self.weights):
            matrix = w.reshape(w.shape[0], -1)
            vector = getattr(self, f"power_vector_{i}")
            if self.training:
                with torch.no_grad():
                    vector.copy_(F.normalize(matrix.T @ F.normalize(matrix @ vector, dim=0), dim=0))
            sigma = torch.linalg.vector_norm(matrix @ vector)
            out.append(w / sigma.clamp_min(1.0))
        return out

    def forward(self, z: torch.Tensor, scale: torch.Tensor, weights: list[torch.Tensor]) -> torch.Tensor:
        """z: (frames, ny, nx) complex64; scale: () float32 > 0; weights: from ``normalised_weights``.

        Returns (frames, ny, nx) complex64.
        """
        h = image_to_channels(z / scale)
        for w in weights[:-1]:
            h = F.relu(F.conv2d(h, w, padding=1))
        gain = self.lipschitz * torch.sigmoid(self.gain_raw)
        residual = channels_to_image(gain * F.conv2d(h, weights[-1], padding=1)) * scale
        return (z - residual) / (1.0 + self.shrink)


class DEQ(nn.Module):
    """Deep-equilibrium reconstruction with a learned proximal-gradient step.

    The step is f(x) = R(x - eta A^H D (A x - y)), eta = softplus(free parameter) > 0, D the operator's
    data weights (density compensation for radial data, none for Cartesian). The output is its fixed
    point, found without a graph by limited-memory Broyden from the gridded image A^H D y. In training
    mode with gradients enabled the output carries the gradient of ``config.backward`` (see
    ``recon_cli.solvers.implicit``); in evaluation mode the fixed point itself is returned.

    Attributes:
        last_info: FixedPointInfo of the latest forward solve (iterations, final relative residual).
        last_backward: BackwardInfo of the latest backward pass (VJPs made, residual, SHINE fall-back).
    """

    def __init__(self, config: DEQConfig) -> None:
        super().__init__()
        self.config = config
        self.coil_maps = "required"
        self.denoiser = ResidualDenoiser(config.chans, config.layers, config.lipschitz, config.shrink_init)
        self.step_raw = nn.Parameter(torch.tensor(math.log(math.expm1(config.step_init))))
        self.backward_options = BackwardOptions(
            mode=config.backward,
            solver=config.backward_solver,
            iterations=config.backward_iterations,
            tol=config.backward_tol,
            memory=config.memory,
            refine=config.shine_refine,
            fallback=config.shine_fallback,
        )
        self.last_info: FixedPointInfo | None = None
        self.last_backward = BackwardInfo()

    @property
    def step(self) -> torch.Tensor:
        """The data-consistency step eta > 0, a () float32 tensor."""
        return F.softplus(self.step_raw)

    def equilibrium_step(
        self,
        x: torch.Tensor,
        op: LinearOperator,
        gridded: torch.Tensor,
        scale: torch.Tensor,
        weights: list[torch.Tensor],
    ) -> torch.Tensor:
        """f(x) = R(x - eta (A^H D A x - A^H D y)).

        Args:
            x: (frames, ny, nx) complex64 current image.
            op: Forward model with coil maps.
            gridded: (frames, ny, nx) complex64 A^H D y.
            scale: () float32 intensity level of the data, for the denoiser.
            weights: The denoiser's normalised weights (``ResidualDenoiser.normalised_weights``).

        Returns:
            (frames, ny, nx) complex64.
        """
        with torch.autocast(device_type=x.device.type, enabled=False):
            data_gradient = op.normal(x, weighted=True).to(torch.complex64) - gridded
        return self.denoiser(x - self.step * data_gradient, scale, weights)

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
        gridded = sense_gridding(kspace, op, "deq")
        scale = rms_scale(gridded)
        start = gridded if x0 is None else x0.to(torch.complex64)
        training = self.training and torch.is_grad_enabled()
        iterations = self.config.iterations if training else self.config.eval_iterations
        tol = self.config.tol if training else self.config.eval_tol

        weights = self.denoiser.normalised_weights()  # once per call: f stays one map during the solve

        def f(x: torch.Tensor) -> torch.Tensor:
            return self.equilibrium_step(x, op, gridded, scale, weights)

        x, self.last_info, inverse = broyden(f, start, iterations, tol, self.config.memory)
        if not training:
            return x
        return differentiable_fixed_point(f, x, self.backward_options, inverse, self.last_backward)

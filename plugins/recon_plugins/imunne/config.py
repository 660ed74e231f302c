"""Configuration of the ``imunne`` model (the only copy of its defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from recon_plugins.cunet.config import CUNetConfig, check_cunet, check_start, check_virtual_coils

_CUNET = CUNetConfig()  # the CU-Net's defaults: one copy, in ``cunet``


@dataclass(frozen=True)
class IMUNNEConfig:
    """Options of ``imunne``.

    Attributes:
        iterations: Most fixed-point iterations at reconstruction (and in training unless
            ``train_iterations`` is set).
        train_iterations: Most iterations per training step (0: ``iterations``), the last of which is
            differentiated (JFB); training is cheaper with a few, and JFB's gradient does not depend on
            how the fixed point was reached.
        train_iterations_min: With 1 <= this < the training count, every training forward draws its
            iteration count uniformly from [train_iterations_min, train_iterations] (0: fixed), so the
            loss sees the iterates at many depths and rewards a block whose iterates settle rather than
            one tuned to a single depth.
        residual_weight: Weight of the fixed-point residual penalty added to the training loss (see
            ``IMUNNE``; 0: none). The shipped weights used 0.1 (relative change per iteration 3-5 % ->
            about 0.8 %); fine-tuning them at 1.0 raised validation NRMSE from 0.12 to 0.31 in 100 steps.
        relaxation: Averaging weight a in (0, 1] of every iteration, x <- x + a (f(x) - x) (1: plain
            f; see ``IMUNNE``). It changes the path to the fixed point, not the fixed point.
        tol: Stop when the relative change ||x_{k+1} - x_k|| / ||x_k|| falls below this (0: run all).
        anderson: Anderson acceleration instead of plain Picard iteration.
        anderson_memory: Past iterates mixed by Anderson acceleration.
        step_init: Initial gradient step t (> 0), learned as softplus of a free parameter.
        contractive: Regulariser R(x) = mu x - g C(x) with a spectrally normalised CU-Net C and g < mu
            (``recon_cli.nn.unrolled.ContractiveRegulariser``), so the iteration converges to a fixed
            point however long it runs, but at a cost in quality after short training (see the model
            card); False: R = C, a plain CU-Net, as in the unrolled ``alt-un``.
        lipschitz: Bound of g / mu in (0, 1) (contractive only).
        shrink_init: Initial mu (contractive only).
        chans: Complex channels of the CU-Net's first level.
        depth: Spatial down-sampling steps of the CU-Net.
        view_share: Give the CU-Net the slice's view-shared image (all frames' samples gridded together,
            density-compensated and coil-combined, on the scale of the gridded frames; see
            ``recon_cli.nn.view_share``) as one extra complex input channel at every iteration. Off: the
            one-input network of the shipped weights.
        support_mask: Zero the fixed point outside the coil maps' support (as ``cunet``).
        canonical_phase: Turn each slice to one global phase before the network and the output back
            (as ``cunet``).
        start_smoothing: Start from a temporally smoothed SENSE image instead of the gridding: this weight
            of the frame-difference penalty in ``start_iterations`` CG steps
            (as ``cunet``; ``recon_cli.nn.unrolled.smoothed_start``; 0: the gridding of the shipped weights).
        start_iterations: CG steps of that start (ignored at ``start_smoothing`` 0).
        start_rounds: Solves of that start, the later ones reweighted (as ``cunet``).
        start_eps: Noise level of that reweighting, a fraction of the bright level (as ``cunet``).
        virtual_coils: Most SVD virtual coils ``recon reconstruct`` gives the model (as ``cunet``).
    """

    iterations: int = 30
    train_iterations: int = 0
    train_iterations_min: int = 0
    residual_weight: float = 0.0
    relaxation: float = 1.0
    tol: float = 1e-3
    anderson: bool = False
    anderson_memory: int = 5
    step_init: float = 0.5
    contractive: bool = False
    lipschitz: float = 0.9
    shrink_init: float = 1.0
    chans: int = _CUNET.chans
    depth: int = _CUNET.depth
    view_share: bool = False
    support_mask: bool = _CUNET.support_mask
    canonical_phase: bool = _CUNET.canonical_phase
    start_smoothing: float = _CUNET.start_smoothing
    start_iterations: int = _CUNET.start_iterations
    start_rounds: int = _CUNET.start_rounds
    start_eps: float = _CUNET.start_eps
    virtual_coils: int = _CUNET.virtual_coils

    def __post_init__(self) -> None:
        from recon_cli.errors import ModelError

        if self.iterations < 1 or self.tol < 0 or self.anderson_memory < 1 or self.train_iterations < 0:
            raise ModelError(
                "imunne: iterations and anderson_memory must be >= 1, train_iterations and tol >= 0"
            )
        if self.train_iterations_min < 0 or self.residual_weight < 0:
            raise ModelError("imunne: train_iterations_min and residual_weight must be >= 0")
        if not 0 < self.relaxation <= 1:
            raise ModelError(f"imunne: relaxation must be in (0, 1], got {self.relaxation}")
        if self.contractive and not (0 < self.lipschitz < 1 and self.shrink_init > 0):
            raise ModelError("imunne: lipschitz must be in (0, 1) and shrink_init > 0")
        if self.step_init <= 0:
            raise ModelError(f"imunne: step_init must be > 0, got {self.step_init}")
        check_cunet("imunne", self.chans, self.depth)
        check_start("imunne", self.start_smoothing, self.start_iterations, self.start_rounds, self.start_eps)
        check_virtual_coils("imunne", self.virtual_coils)

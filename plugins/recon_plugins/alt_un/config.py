"""Configuration of the ``alt-un`` model (the only copy of its defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from recon_plugins.cunet.config import CUNetConfig, check_cunet, check_start, check_virtual_coils

_CUNET = CUNetConfig()  # the CU-Net's defaults: one copy, in ``cunet``


@dataclass(frozen=True)
class AltUNConfig:
    """Options of ``alt-un``.

    Attributes:
        blocks: Number K of unrolled gradient-step blocks, all trained end to end.
        shared: One CU-Net (and step) shared by all blocks (True) or a separate one per block.
        step_init: Initial gradient step t (> 0), learned as softplus of a free parameter.
        chans: Complex channels of the CU-Net's first level.
        depth: Spatial down-sampling steps of the CU-Net.
        view_share: Give the CU-Net the slice's view-shared image (all frames' samples gridded together,
            density-compensated and coil-combined, on the scale of the gridded frames; see
            ``recon_cli.nn.view_share``) as one extra complex input channel in every block. Off: the
            one-input network of the shipped weights.
        support_mask: Zero the last block's output outside the coil maps' support (as ``cunet``).
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

    blocks: int = 5
    shared: bool = True
    step_init: float = 0.5
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

        if self.blocks < 1 or self.step_init <= 0:
            raise ModelError("alt-un: blocks must be >= 1 and step_init > 0")
        check_cunet("alt-un", self.chans, self.depth)
        check_start("alt-un", self.start_smoothing, self.start_iterations, self.start_rounds, self.start_eps)
        check_virtual_coils("alt-un", self.virtual_coils)

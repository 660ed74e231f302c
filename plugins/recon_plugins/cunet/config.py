"""Configuration of the ``cunet`` model (the only copy of its defaults)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CUNetConfig:
    """Options of ``cunet``.

    Attributes:
        chans: Complex channels of the CU-Net's first level (doubling at every level below).
        depth: Spatial down-sampling steps of the CU-Net.
        view_share: Give the CU-Net the slice's view-shared image (all frames' samples gridded together,
            density-compensated and coil-combined, on the scale of the gridded frames; see
            ``recon_cli.nn.view_share``) as one extra complex input channel. Off: the
            one-input network of the shipped weights.
        support_mask: Zero the output where every coil map is zero (outside the support ESPIRiT found,
            where the data say nothing; ``recon_cli.nn.unrolled.zero_outside_support``); alt-un and
            imunne take the same option.
        canonical_phase: Turn each slice to one global phase before the network (its gridding summed is
            real positive) and the output back, so the images do not depend on the phase convention of
            the coil maps (ESPIRiT's, a scanner's, the simulation's; ``recon_cli.nn.unrolled
            .canonical_phase``); alt-un and imunne take the same option. Off: the phase the maps give.
        start_smoothing: Start from a temporally smoothed SENSE image instead of the gridding: this weight
            of the frame-difference penalty in ``start_iterations`` CG steps
            (``recon_cli.nn.unrolled.smoothed_start``; 0: the gridding of the shipped weights).
        start_iterations: CG steps of that start (ignored at ``start_smoothing`` 0).
        start_rounds: Solves of that start, each of ``start_iterations`` CG steps: the first with a uniform
            temporal penalty, every further one reweighted by the last image's frame differences
            (iteratively reweighted least squares towards temporal total variation; 1: the uniform solve
            of the shipped stage-C weights; ``recon_cli.nn.unrolled.smoothed_start``).
        start_eps: Frame differences below this fraction of the gridding's bright level (99th percentile)
            count as noise in that reweighting (smaller: closer to temporal TV, which keeps moving edges
            sharper but needs more rounds; ``recon_cli.nn.unrolled.smoothed_start``).
        virtual_coils: ``recon reconstruct`` compresses the data and coil maps of a scan with more coils
            than this to this many SVD virtual coils first (``recon_cli.scan_coil_maps.model_compression``;
            it says so on the console and in run.json), so every data-consistency step costs that fraction of
            the physical coils' (0: all coils). Training compresses only with ``data.virtual_coils``.
    """

    chans: int = 8
    depth: int = 3
    view_share: bool = False
    support_mask: bool = True
    canonical_phase: bool = True
    start_smoothing: float = 0.0
    start_iterations: int = 10
    start_rounds: int = 1
    start_eps: float = 0.05  # recon_cli.nn.unrolled.REWEIGHT_EPS (the stage-D weights' value)
    virtual_coils: int = 4

    def __post_init__(self) -> None:
        check_cunet("cunet", self.chans, self.depth)
        check_start("cunet", self.start_smoothing, self.start_iterations, self.start_rounds, self.start_eps)
        check_virtual_coils("cunet", self.virtual_coils)


def check_cunet(model: str, chans: int, depth: int) -> None:
    """A ModelError naming ``model`` unless its CU-Net has chans >= 1 and depth in 1..6 (the checks of
    every model built on a CU-Net)."""
    from recon_cli.errors import ModelError

    if chans < 1 or not 1 <= depth <= 6:
        raise ModelError(f"{model}: chans must be >= 1 and depth in 1..6, got chans={chans}, depth={depth}")


def check_start(model: str, smoothing: float, iterations: int, rounds: int, eps: float) -> None:
    """A ModelError naming ``model`` unless start_smoothing >= 0, start_iterations, start_rounds >= 1 and
    start_eps > 0."""
    from recon_cli.errors import ModelError

    if smoothing < 0 or iterations < 1 or rounds < 1 or not eps > 0:
        raise ModelError(
            f"{model}: start_smoothing must be >= 0, start_iterations, start_rounds >= 1 and start_eps > 0, "
            f"got {smoothing}, {iterations}, {rounds} and {eps}"
        )


def check_virtual_coils(model: str, virtual_coils: int) -> None:
    """A ModelError naming ``model`` unless virtual_coils >= 0."""
    from recon_cli.errors import ModelError

    if virtual_coils < 0:
        raise ModelError(f"{model}: virtual_coils must be >= 0 (0: all coils), got {virtual_coils}")

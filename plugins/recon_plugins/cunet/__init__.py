"""Complex (2+1)D U-Net on the gridded image series: a trainable baseline and the regulariser of
``alt-un`` and ``imunne``."""

from recon_cli.memory.working_set import WorkingSet
from recon_cli.registry import ModelPlugin
from recon_plugins.cunet.config import CUNetConfig


def _working_set(config: CUNetConfig) -> WorkingSet:
    """The gridding, the network's output and the residual sum (a smoothed start's CG solve holds 5
    before); one CU-Net application."""
    return WorkingSet(
        images=(5 + (config.start_rounds > 1)) if config.start_smoothing else 3,  # + the reweighting
        cnn_chans=config.chans,
        cnn_inputs=1 + int(config.view_share),
    )


def _temporal_reach(config: CUNetConfig) -> int | None:
    """The CU-Net's reach (``recon_cli.nn.cunet.temporal_reach``: 2 depth + 2 frames); the gridding it
    corrects is per frame and the network has no normalisation. None with ``view_share``: the view-shared
    context grids all frames' samples together, so every frame depends on the whole series; so does a
    smoothed start (``start_smoothing``: its CG solve couples all frames), and so does ``canonical_phase``
    (the turn is the phase of the whole series' gridding summed)."""
    if config.view_share or config.start_smoothing or config.canonical_phase:
        return None
    from recon_cli.nn.cunet import temporal_reach

    return temporal_reach(config.depth)


plugin = ModelPlugin(
    name="cunet",
    description="Residual complex U-Net (2D spatial + 1D temporal convolutions) on the SENSE-combined "
    "gridded image (train it with `recon train`)",
    config_cls=CUNetConfig,
    build="recon_plugins.cunet.model:CUNetRecon",
    trainable=True,
    default_weights=("recon_plugins.cunet", "weights.pt"),
    working_set=_working_set,
    temporal_reach=_temporal_reach,
)

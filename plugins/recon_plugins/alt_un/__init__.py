"""Alt-UN: unrolled gradient steps with a CU-Net regulariser, the end-to-end baseline of ``imunne``."""

from recon_cli.memory.working_set import WorkingSet
from recon_cli.registry import ModelPlugin
from recon_plugins.alt_un.config import AltUNConfig


def _working_set(config: AltUNConfig) -> WorkingSet:
    """The iterate, the gridding, the next iterate and the data gradient (a smoothed start's CG solve
    holds 5 before); one CU-Net per block."""
    return WorkingSet(
        images=(5 + (config.start_rounds > 1)) if config.start_smoothing else 4,  # + the reweighting
        normal=True,
        cnn_chans=config.chans,
        cnn_inputs=1 + int(config.view_share),
    )


def _temporal_reach(config: AltUNConfig) -> int | None:
    """``blocks`` times the CU-Net's reach (``recon_cli.nn.cunet.temporal_reach``): every block adds the
    CU-Net's reach to the last, and its data gradient A^H D (A x - y) adds none (per frame). None with
    ``view_share``: the view-shared context grids all frames' samples together; with ``start_smoothing``:
    its CG solve couples all frames; with ``canonical_phase``: the turn is a sum over all frames."""
    if config.view_share or config.start_smoothing or config.canonical_phase:
        return None
    from recon_cli.nn.cunet import temporal_reach

    return config.blocks * temporal_reach(config.depth)


plugin = ModelPlugin(
    name="alt-un",
    description="Unrolled network: K gradient steps on data consistency plus a CU-Net regulariser, "
    "trained end to end (train it with `recon train`)",
    config_cls=AltUNConfig,
    build="recon_plugins.alt_un.model:AltUN",
    trainable=True,
    default_weights=("recon_plugins.alt_un", "weights.pt"),
    working_set=_working_set,
    temporal_reach=_temporal_reach,
)

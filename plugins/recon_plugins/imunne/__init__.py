"""IMUNNE: an implicit network whose output is the fixed point of a learned gradient-step block."""

from recon_cli.memory.working_set import WorkingSet
from recon_cli.registry import ModelPlugin
from recon_plugins.imunne.config import IMUNNEConfig


def _working_set(config: IMUNNEConfig) -> WorkingSet:
    """The iterate, the gridding, the next iterate, the data gradient and the last input (Anderson adds
    two histories of ``anderson_memory`` iterates); one CU-Net application per iteration."""
    history = 2 * config.anderson_memory if config.anderson else 0
    return WorkingSet(
        images=5 + history + int(bool(config.start_smoothing) and config.start_rounds > 1),
        normal=True,
        cnn_chans=config.chans,
        cnn_inputs=1 + int(config.view_share),
    )


def _temporal_reach(config: IMUNNEConfig) -> int | None:
    """With ``tol`` 0 and plain (Picard) iteration: ``iterations`` times the CU-Net's reach
    (``recon_cli.nn.cunet.temporal_reach``; the data gradient and the relaxation are per frame). Otherwise
    None: the stopping test ||x+ - x|| / ||x|| is a norm of the whole series (how many iterations every
    frame gets depends on all frames), Anderson acceleration mixes the iterates with weights fitted to
    the whole series' residuals, ``view_share`` grids all frames' samples together, and a smoothed start
    (``start_smoothing``) solves for all frames at once, as ``canonical_phase``'s turn is a sum over them."""
    if (
        config.tol != 0
        or config.anderson
        or config.view_share
        or config.start_smoothing
        or config.canonical_phase
    ):
        return None
    from recon_cli.nn.cunet import temporal_reach

    return config.iterations * temporal_reach(config.depth)


plugin = ModelPlugin(
    name="imunne",
    description="Implicit network: fixed point of a gradient step with a CU-Net regulariser, trained "
    "with Jacobian-free backpropagation (train it with `recon train`)",
    config_cls=IMUNNEConfig,
    build="recon_plugins.imunne.model:IMUNNE",
    trainable=True,
    default_weights=("recon_plugins.imunne", "weights.pt"),
    working_set=_working_set,
    temporal_reach=_temporal_reach,
)

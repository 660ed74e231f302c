"""IFR-Net: the iterative feature refinement network (Liu et al., IEEE TCI 2019), unrolled and trained."""

from recon_cli.registry import ModelPlugin
from recon_plugins.ifr_net.config import IfrNetConfig


def _temporal_reach(config: IfrNetConfig) -> int:
    """0: frames go through the stages as a batch of 2D images (2D convolutions, element-wise
    shrinkage), each scaled by its own RMS level (``frame_scale``), and the data consistency is per frame
    (closed form with the frame's mask, or CG with per-frame systems)."""
    return 0


plugin = ModelPlugin(
    name="ifr-net",
    description="IFR-Net: unrolled stages of closed-form data consistency, a shrinkage CNN denoiser and "
    "learned feature refinement (Cartesian; train it with `recon train --loss nmse`)",
    config_cls=IfrNetConfig,
    build="recon_plugins.ifr_net.model:IfrNet",
    trainable=True,
    non_cartesian=False,
    temporal_reach=_temporal_reach,
)

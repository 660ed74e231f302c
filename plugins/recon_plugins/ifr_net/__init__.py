"""IFR-Net: the iterative feature refinement network (Liu et al., IEEE TCI 2019), unrolled and trained."""

from recon_cli.memory.frame_windows import frame_by_frame
from recon_cli.registry import ModelPlugin
from recon_plugins.ifr_net.config import IfrNetConfig

plugin = ModelPlugin(
    name="ifr-net",
    description="IFR-Net: unrolled stages of closed-form data consistency, a shrinkage CNN denoiser and "
    "learned feature refinement (Cartesian; train it with `recon train --loss nmse`)",
    config_cls=IfrNetConfig,
    build="recon_plugins.ifr_net.model:IfrNet",
    trainable=True,
    non_cartesian=False,
    # 0: frames go through the stages as a batch of 2D images, each scaled by its own RMS level, with
    # per-frame data consistency (its mask, or per-frame CG)
    temporal_reach=frame_by_frame,
)

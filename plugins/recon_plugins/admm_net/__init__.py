"""ADMM-Net: unrolled ADMM with learned filters and shrinkage (Yang et al., NeurIPS 2016)."""

from recon_cli.memory.frame_windows import frame_by_frame
from recon_cli.registry import ModelPlugin
from recon_plugins.admm_net.config import AdmmNetConfig

plugin = ModelPlugin(
    name="admm-net",
    description="ADMM-Net: unrolled ADMM stages (reconstruction, convolution, piecewise-linear shrinkage, "
    "multiplier update) with learned filters (Cartesian; train it with `recon train --loss nmse`)",
    config_cls=AdmmNetConfig,
    build="recon_plugins.admm_net.model:AdmmNet",
    trainable=True,
    non_cartesian=False,
    # frames go through the stages as a batch of 2D images (3x3 filters, element-wise shrinkage), each
    # scaled by its own RMS level, and the reconstruction layer is per frame (its mask, or per-frame CG)
    temporal_reach=frame_by_frame,
)

"""ADMM-Net: unrolled ADMM with learned filters and shrinkage (Yang et al., NeurIPS 2016)."""

from recon_cli.registry import ModelPlugin
from recon_plugins.admm_net.config import AdmmNetConfig


def _temporal_reach(config: AdmmNetConfig) -> int:
    """0: frames go through the stages as a batch of 2D images (3x3 filters, element-wise shrinkage),
    each scaled by its own RMS level (``frame_scale``), and the reconstruction layer is per frame
    (closed form with the frame's mask, or CG with per-frame systems)."""
    return 0


plugin = ModelPlugin(
    name="admm-net",
    description="ADMM-Net: unrolled ADMM stages (reconstruction, convolution, piecewise-linear shrinkage, "
    "multiplier update) with learned filters (Cartesian; train it with `recon train --loss nmse`)",
    config_cls=AdmmNetConfig,
    build="recon_plugins.admm_net.model:AdmmNet",
    trainable=True,
    non_cartesian=False,
    temporal_reach=_temporal_reach,
)

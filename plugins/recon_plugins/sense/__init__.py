"""CG-SENSE: Tikhonov-regularised least squares solved by conjugate gradients on the normal equations."""

from recon_cli.memory.frame_windows import frame_by_frame
from recon_cli.memory.working_set import WorkingSet
from recon_cli.registry import ModelPlugin
from recon_plugins.sense.config import SenseConfig


def _working_set(config: SenseConfig) -> WorkingSet:
    """CG holds x, r, p, A^H A p, the right-hand side and the result; one normal weighting."""
    return WorkingSet(images=6, normal=True)


plugin = ModelPlugin(
    name="sense",
    description="CG-SENSE: min ||A x - y||^2 + lam ||x||^2 by conjugate gradients (density-weighted "
    "for non-Cartesian data)",
    config_cls=SenseConfig,
    build="recon_plugins.sense.model:CgSense",
    trainable=False,
    working_set=_working_set,
    # CG solves every frame as its own system (batch_dims=1: per-frame step sizes and residual norms, and
    # a converged frame stops changing while others go on), and A^H D A, D and A^H D y are per frame
    temporal_reach=frame_by_frame,
)

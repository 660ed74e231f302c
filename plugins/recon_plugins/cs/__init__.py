"""Compressed sensing: L1-wavelet sparsity in space plus temporal total variation (cine), FISTA or ADMM."""

from recon_cli.memory.working_set import WorkingSet
from recon_cli.registry import ModelPlugin
from recon_plugins.cs.config import CsConfig


def _working_set(config: CsConfig) -> WorkingSet:
    """The gridding, A^H D y and the start (image grid) and, on the wavelet-padded grid, FISTA's x, y,
    previous x, gradient and the wavelet coefficients with their thresholded copy; ADMM keeps a split
    variable and a multiplier per term and CG's vectors on top."""
    padded = 6 if config.solver == "fista" else 12
    return WorkingSet(images=3, padded_images=padded, normal=True)


plugin = ModelPlugin(
    name="cs",
    description="Compressed sensing: L1-wavelet in space + temporal total variation, by FISTA or ADMM",
    config_cls=CsConfig,
    build="recon_plugins.cs.model:CompressedSensing",
    trainable=False,
    working_set=_working_set,
)

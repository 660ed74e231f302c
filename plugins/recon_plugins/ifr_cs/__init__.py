"""IFR-CS: iterative feature refinement, a classical compressed-sensing reconstruction for Cartesian data."""

from recon_cli.registry import ModelPlugin
from recon_plugins.ifr_cs.config import IfrCsConfig

plugin = ModelPlugin(
    name="ifr-cs",
    description="Iterative feature refinement (IFR-CS): closed-form data consistency, wavelet "
    "soft-thresholding, and a feature descriptor that adds back structure (Cartesian, frame by frame)",
    config_cls=IfrCsConfig,
    build="recon_plugins.ifr_cs.model:IterativeFeatureRefinement",
    trainable=False,
    non_cartesian=False,
)

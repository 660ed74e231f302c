"""XPDNet: cross-domain primal-dual network with wavelet CNNs and coil-map refinement (Ramzi et al.)."""

from recon_cli.registry import ModelPlugin
from recon_plugins.xpdnet.config import XPDNetConfig

plugin = ModelPlugin(
    name="xpdnet",
    description="Cross-domain primal-dual network: residual dual, MWCNN image updates, learned "
    "coil-map refinement (train it with `recon train`)",
    config_cls=XPDNetConfig,
    build="recon_plugins.xpdnet.model:XPDNet",
    trainable=True,
)

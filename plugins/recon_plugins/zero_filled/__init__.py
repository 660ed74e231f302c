"""Zero-filled / gridding reconstruction: inverse FFT or density-compensated NUFFT adjoint."""

from recon_cli.memory.frame_windows import frame_by_frame
from recon_cli.memory.working_set import WorkingSet
from recon_cli.registry import ModelPlugin
from recon_plugins.zero_filled.config import ZeroFilledConfig


def _working_set(config: ZeroFilledConfig) -> WorkingSet:
    """One adjoint and the combined image: no iterations, no normal operator."""
    return WorkingSet(images=2)


plugin = ModelPlugin(
    name="zero-filled",
    description="Inverse FFT (Cartesian) or density-compensated gridding (non-Cartesian), "
    "coil-combined by root-sum-of-squares or with coil maps",
    config_cls=ZeroFilledConfig,
    build="recon_plugins.zero_filled.model:ZeroFilled",
    trainable=False,
    working_set=_working_set,
    # every frame is its own adjoint, density compensation (Pipe-Menon or ramp, computed and normalised
    # per frame) and coil combination (maps or root sum of squares); nothing crosses frames
    temporal_reach=frame_by_frame,
)

"""Seeded numerical phantoms and a simple acquisition simulator (sample data, tests, synthetic training).

``images``: the phantom images (Shepp-Logan, the cardiac cine); ``moving_brain``: real anatomy
(brain-template slices) under motion; ``simulate``: coil maps, coil noise and the k-space a scanner would
record of them. Everything is importable from ``recon_cli.phantoms``. ``anatomy`` (real anatomy: slices
of the MNI brain template) is imported from its own module, ``recon_cli.phantoms.anatomy``, since it
reads the template file.
"""

from recon_cli.phantoms.images import as_generator, cardiac_cine_phantom, shepp_logan
from recon_cli.phantoms.moving_brain import moving_brain_cine
from recon_cli.phantoms.simulate import (
    coil_maps,
    coil_noise_covariance,
    complex_noise,
    noise_sigma,
    simulate_cartesian,
    simulate_radial_cine,
)

__all__ = [
    "as_generator",
    "cardiac_cine_phantom",
    "coil_maps",
    "coil_noise_covariance",
    "complex_noise",
    "moving_brain_cine",
    "noise_sigma",
    "shepp_logan",
    "simulate_cartesian",
    "simulate_radial_cine",
]

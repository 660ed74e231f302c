"""Sampling patterns: Cartesian undersampling masks and radial trajectories, seeded.

Kinds (``MASK_KINDS``):

* Cartesian 1-D (``recon_cli.sampling.cartesian``, fastMRI semantics): ``random``, ``equispaced``.
* Cartesian 2-D: ``random-2d`` (uniform with a fully sampled centre block), ``poisson`` (variable-density
  Poisson disc, ``recon_cli.sampling.poisson``), ``pseudo-radial`` (radial lines rasterised on the grid,
  ``recon_cli.sampling.pseudo_radial``).
* Radial (``recon_cli.sampling.radial``): ``golden-angle``, ``tiny-golden-angle``; trajectories are
  radians/voxel in [-pi, pi), ordered (ky, kx) as torchkbnufft's ``omega``.

``PatternSpec`` (``recon_cli.sampling.spec``) names a pattern and checks it; ``draw_pattern`` draws it;
``simulate_pattern`` (``recon_cli.sampling.io``) writes it with a picture; ``recon_cli.sampling.undersample``
(not imported here: it needs torch) applies one to a fully sampled scan. Every random choice comes from
an explicit ``numpy.random.Generator`` (or an int seed made into one), never from global random state.

Names are loaded on first use, so importing ``recon_cli.sampling.kinds`` or ``recon_cli.sampling.spec``
(as the CLI does for the kinds and ``PatternSpec``'s defaults) imports no numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recon_cli.lazy import lazy_exports

_EXPORTS = {
    "CARTESIAN_KINDS": "kinds",
    "MASK_KINDS": "kinds",
    "ONE_D_KINDS": "kinds",
    "RADIAL_KINDS": "kinds",
    "TWO_D_KINDS": "kinds",
    "as_rng": "cartesian",
    "cartesian_mask": "cartesian",
    "center_block": "cartesian",
    "center_columns": "cartesian",
    "equispaced_mask": "cartesian",
    "poisson_mask": "cartesian",
    "random_2d_mask": "cartesian",
    "random_mask": "cartesian",
    "SimulatedPattern": "io",
    "check_h5_suffix": "io",
    "simulate_pattern": "io",
    "write_pattern": "io",
    "write_pattern_png": "io",
    "pseudo_radial_frames": "pseudo_radial",
    "pseudo_radial_lines": "pseudo_radial",
    "pseudo_radial_mask": "pseudo_radial",
    "GOLDEN_ANGLE_DEG": "radial",
    "GOLDEN_RATIO": "radial",
    "golden_angle_radial": "radial",
    "radial_acceleration": "radial",
    "tiny_golden_angle_deg": "radial",
    "PatternSpec": "spec",
    "draw_pattern": "spec",
    "pattern_statistics": "spec",
    "spiral": "spiral",
}

__all__ = [
    "CARTESIAN_KINDS",
    "GOLDEN_ANGLE_DEG",
    "GOLDEN_RATIO",
    "MASK_KINDS",
    "ONE_D_KINDS",
    "RADIAL_KINDS",
    "TWO_D_KINDS",
    "PatternSpec",
    "SimulatedPattern",
    "as_rng",
    "cartesian_mask",
    "center_block",
    "center_columns",
    "check_h5_suffix",
    "draw_pattern",
    "equispaced_mask",
    "golden_angle_radial",
    "pattern_statistics",
    "poisson_mask",
    "pseudo_radial_frames",
    "pseudo_radial_lines",
    "pseudo_radial_mask",
    "radial_acceleration",
    "random_2d_mask",
    "random_mask",
    "simulate_pattern",
    "spiral",
    "tiny_golden_angle_deg",
    "write_pattern",
    "write_pattern_png",
]


__getattr__ = lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:
    from recon_cli.sampling.cartesian import (
        as_rng,
        cartesian_mask,
        center_block,
        center_columns,
        equispaced_mask,
        poisson_mask,
        random_2d_mask,
        random_mask,
    )
    from recon_cli.sampling.io import (
        SimulatedPattern,
        check_h5_suffix,
        simulate_pattern,
        write_pattern,
        write_pattern_png,
    )
    from recon_cli.sampling.kinds import CARTESIAN_KINDS, MASK_KINDS, ONE_D_KINDS, RADIAL_KINDS, TWO_D_KINDS
    from recon_cli.sampling.pseudo_radial import pseudo_radial_frames, pseudo_radial_lines, pseudo_radial_mask
    from recon_cli.sampling.radial import (
        GOLDEN_ANGLE_DEG,
        GOLDEN_RATIO,
        golden_angle_radial,
        radial_acceleration,
        tiny_golden_angle_deg,
    )
    from recon_cli.sampling.spec import PatternSpec, draw_pattern, pattern_statistics
    from recon_cli.sampling.spiral import spiral

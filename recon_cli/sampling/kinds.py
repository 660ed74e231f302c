"""The names of the sampling patterns ``recon`` draws (numpy-free, so ``recon --help`` can list them).

``ONE_D_KINDS`` and ``TWO_D_KINDS`` are the Cartesian kinds (``recon_cli.sampling.cartesian``),
``RADIAL_KINDS`` the radial ones (``recon_cli.sampling.radial``); ``MASK_KINDS`` is all of them, in the
order ``recon simulate-mask --help`` lists them.
"""

from __future__ import annotations

ONE_D_KINDS = ("random", "equispaced")
TWO_D_KINDS = ("random-2d", "poisson", "pseudo-radial")
CARTESIAN_KINDS = ONE_D_KINDS + TWO_D_KINDS
RADIAL_KINDS = ("golden-angle", "tiny-golden-angle")
MASK_KINDS = CARTESIAN_KINDS + RADIAL_KINDS

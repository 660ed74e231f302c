"""Coil sensitivities: ESPIRiT (torch, batched; sigpy as a cross-check), Walsh and Inati adaptive
combine, sum-of-squares normalisation, SVD coil compression, and coil-map files.

Submodules: ``calibration`` (where calibration data comes from), ``espirit``, ``adaptive`` (Walsh,
Inati, sum-of-squares), ``compression``, ``maps_file``, ``estimate`` (maps of a whole scan),
``options`` (defaults), ``common`` (grids and per-pixel linear algebra).

Names are loaded on first use, so importing ``recon_cli.coils.options`` (as the CLI does for its
defaults) does not import torch. Nothing here reads scans: the ``recon estimate-coils`` job that reads
one and writes its maps is ``recon_cli.estimate_coils``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recon_cli.coils.options import COIL_METHODS, DEFAULTS, CoilOptions
from recon_cli.lazy import lazy_exports

_EXPORTS = {
    "calibration_kspace": "calibration",
    "calibration_block": "calibration",
    "espirit_maps": "espirit",
    "walsh_maps": "adaptive",
    "inati_maps": "adaptive",
    "sos_maps": "adaptive",
    "calibration_images": "adaptive",
    "compress_coils": "compression",
    "compress_scan": "compression",
    "compression_matrix": "compression",
    "uncompress_maps": "compression",
    "write_maps": "maps_file",
    "read_maps": "maps_file",
    "read_compression": "maps_file",
    "estimate_maps": "estimate",
}

__all__ = [
    "COIL_METHODS",
    "DEFAULTS",
    "CoilOptions",
    "calibration_block",
    "calibration_images",
    "calibration_kspace",
    "compress_coils",
    "compress_scan",
    "compression_matrix",
    "espirit_maps",
    "estimate_maps",
    "inati_maps",
    "read_compression",
    "read_maps",
    "sos_maps",
    "uncompress_maps",
    "walsh_maps",
    "write_maps",
]


__getattr__ = lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:
    from recon_cli.coils.adaptive import calibration_images, inati_maps, sos_maps, walsh_maps
    from recon_cli.coils.calibration import calibration_block, calibration_kspace
    from recon_cli.coils.compression import (
        compress_coils,
        compress_scan,
        compression_matrix,
        uncompress_maps,
    )
    from recon_cli.coils.espirit import espirit_maps
    from recon_cli.coils.estimate import estimate_maps
    from recon_cli.coils.maps_file import read_compression, read_maps, write_maps

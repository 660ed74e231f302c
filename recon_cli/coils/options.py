"""Coil-estimation options: the only copy of their defaults (the CLI reads them from here).

Kept free of torch so ``recon --help`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass

COIL_METHODS = ("espirit", "walsh", "inati", "sos")


@dataclass(frozen=True)
class CoilOptions:
    """How ``estimate_maps`` estimates coil sensitivities.

    Attributes:
        method: one of ``COIL_METHODS``.
        calib_width: largest calibration block side (k-space samples).
        kernel_width: ESPIRiT kernel size.
        threshold: ESPIRiT singular-value threshold, relative to the largest (``bart ecalib -t`` takes
            its square).
        crop: ESPIRiT eigenvalue crop; maps are zero where the eigenvalue is at most this.
        smoothing: Walsh/Inati block size in pixels of their 64-sample grid (odd).
        compress: virtual coils for SVD coil compression; 0 keeps the physical coils.
    """

    method: str = "espirit"
    calib_width: int = 24
    kernel_width: int = 6
    threshold: float = 0.02
    crop: float = 0.95
    smoothing: int = 5
    compress: int = 0


DEFAULTS = CoilOptions()

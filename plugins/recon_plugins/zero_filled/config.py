"""Configuration of the zero-filled reconstruction (the only copy of its defaults)."""

from __future__ import annotations

from dataclasses import dataclass

COMBINE_CHOICES = ("auto", "rss", "sense")
DCF_CHOICES = ("pipe-menon", "ramp", "none")


@dataclass(frozen=True)
class ZeroFilledConfig:
    """Options of ``zero-filled``.

    Attributes:
        combine: "rss" (root-sum-of-squares of coil images), "sense" (coil maps: sum conj(S) x / sum |S|^2),
            or "auto" (sense when coil maps are given, otherwise rss).
        density_compensation: non-Cartesian only: "pipe-menon" (iterative, torchkbnufft), "ramp" (|k|),
            or "none" (plain adjoint).
    """

    combine: str = "auto"
    density_compensation: str = "pipe-menon"

    def __post_init__(self) -> None:
        from recon_cli.errors import ModelError

        if self.combine not in COMBINE_CHOICES:
            raise ModelError(f"zero-filled: combine must be one of {', '.join(COMBINE_CHOICES)}")
        if self.density_compensation not in DCF_CHOICES:
            raise ModelError(f"zero-filled: density_compensation must be one of {', '.join(DCF_CHOICES)}")

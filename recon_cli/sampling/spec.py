"""What ``recon simulate-mask`` draws: a pattern specification, checked once, and the pattern it names.

Importing this module imports no numpy (the pattern generators are loaded when a spec is checked or
drawn), so the command line reads ``PatternSpec``'s defaults from here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from recon_cli.errors import UsageError
from recon_cli.sampling.kinds import CARTESIAN_KINDS, MASK_KINDS, TWO_D_KINDS

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class PatternSpec:
    """What ``recon simulate-mask`` draws; ``resolved()`` fills defaults and checks the combination.

    Attributes:
        kind: One of ``MASK_KINDS`` (default ``random``: fastMRI's 1-D random lines).
        frames: Frames (a new draw, or new spokes, per frame); None: 1 (or the scan's, when applied to one).
        seed: Seed of the generator.
        shape: Cartesian (ny, nx) matrix.
        acceleration: Cartesian: requested acceleration. Radial: sets the spokes when ``spokes`` is None.
        fraction: Alternative to ``acceleration``: the sampled fraction, ``1 / acceleration`` (radial:
            spokes over the Nyquist count). Resolved Cartesian specs carry both.
        center_fraction: Cartesian: fraction of the phase-encode axis (1-D kinds) or of each axis
            (``random-2d``, ``poisson``) in the fully sampled centre block; ``pseudo-radial`` has none.
        phase_axis: 1-D Cartesian kinds: -1 (columns, fastMRI) or -2 (rows, ISMRMRD lines).
        spokes: Radial: spokes per frame.
        samples: Radial: samples per spoke (default ``2 * matrix``).
        matrix: Radial: image size N of an N x N image (default ``max(shape)``, else ``samples // 2``).
        tiny_golden_index: ``tiny-golden-angle``: which tiny golden angle (7 gives 23.63 degrees).
    """

    kind: str = "random"
    frames: int | None = None
    seed: int = 0
    shape: tuple[int, int] | None = None
    acceleration: float | None = None
    fraction: float | None = None
    center_fraction: float = 0.08
    phase_axis: int = -1
    spokes: int | None = None
    samples: int | None = None
    matrix: int | None = None
    tiny_golden_index: int = 7

    @property
    def is_cartesian(self) -> bool:
        return self.kind in CARTESIAN_KINDS

    def resolved(self) -> PatternSpec:
        """A copy with defaults filled in; raises ``UsageError`` for a bad combination."""
        if self.kind not in MASK_KINDS:
            raise UsageError(f"--kind: unknown kind '{self.kind}'; choose from {', '.join(MASK_KINDS)}")
        if self.frames is None:
            return replace(self, frames=1).resolved()
        if self.frames < 1:
            raise UsageError(f"--frames must be >= 1, got {self.frames}")
        if self.acceleration is not None and self.fraction is not None:
            raise UsageError("give either --acceleration or --fraction, not both")
        if self.fraction is not None and not 0 < self.fraction <= 1:
            raise UsageError(f"--fraction must be in (0, 1], got {self.fraction:g}")
        if self.is_cartesian:
            return self._resolved_cartesian()
        return self._resolved_radial()

    def _requested_acceleration(self) -> float | None:
        return 1.0 / self.fraction if self.fraction is not None else self.acceleration

    def _resolved_cartesian(self) -> PatternSpec:
        if self.shape is None or len(self.shape) != 2 or min(self.shape) < 1:
            raise UsageError(f"--kind {self.kind} needs --shape NY,NX with positive sizes")
        from recon_cli.sampling.cartesian import _check_2d_args, _check_mask_args

        acceleration = self._requested_acceleration()
        if acceleration is None:
            raise UsageError(f"--kind {self.kind} needs --acceleration or --fraction")
        if self.phase_axis not in (-1, -2):
            raise UsageError(f"phase_axis must be -1 or -2, got {self.phase_axis}")
        try:
            if self.kind in TWO_D_KINDS:
                _check_2d_args(
                    self.shape, acceleration, 0.0 if self.kind == "pseudo-radial" else self.center_fraction
                )
            else:
                _check_mask_args(self.shape[self.phase_axis], acceleration, self.center_fraction)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        return replace(self, acceleration=acceleration, fraction=1.0 / acceleration)

    def _resolved_radial(self) -> PatternSpec:
        from recon_cli.sampling.radial import radial_acceleration

        matrix = self.matrix or (max(self.shape) if self.shape else None) or (self.samples or 0) // 2
        if matrix < 1:
            raise UsageError(f"--kind {self.kind} needs --matrix N (or --shape, or --samples)")
        acceleration = self._requested_acceleration()
        if (self.spokes is None) == (acceleration is None):
            raise UsageError(
                f"--kind {self.kind} needs exactly one of --spokes, --acceleration or --fraction"
            )
        if acceleration is not None and acceleration <= 0:
            raise UsageError(f"--acceleration must be > 0, got {acceleration}")
        spokes = self.spokes
        if spokes is None:  # from the acceleration over Nyquist (pi/2 N spokes)
            spokes = max(1, round(radial_acceleration(1, matrix) / (acceleration or 1)))
        samples = self.samples or 2 * matrix
        if spokes < 1 or samples < 2 or self.tiny_golden_index < 1:
            raise UsageError("--spokes and --tiny-index must be >= 1 and --samples >= 2")
        return replace(self, acceleration=None, fraction=None, spokes=spokes, samples=samples, matrix=matrix)

    def params(self) -> dict[str, Any]:
        """The parameters that define the pattern (for the file's attributes and reports)."""
        keep = ["frames", "seed", "shape", "acceleration", "fraction", "center_fraction"]
        if not self.is_cartesian:
            keep = ["frames", "spokes", "samples", "matrix"]
        elif self.kind == "pseudo-radial":
            keep = ["frames", "shape", "fraction", "acceleration"]
        elif self.kind in ("random", "equispaced"):
            keep.append("phase_axis")
        params = {k: v for k, v in asdict(self).items() if k in keep}
        if self.kind == "tiny-golden-angle":
            params["tiny_golden_index"] = self.tiny_golden_index
        return params


def draw_pattern(spec: PatternSpec) -> np.ndarray:
    """The pattern a resolved spec describes.

    Returns:
        Cartesian: (frames, ny, nx) bool mask. Radial: (frames, 2, spokes * samples) float32 trajectory.

    Raises:
        UsageError: the generator cannot make the pattern (e.g. a Poisson-disc acceleration out of reach).
    """
    from recon_cli.sampling.cartesian import cartesian_mask
    from recon_cli.sampling.radial import golden_angle_radial

    assert spec.frames is not None, "draw_pattern needs a resolved spec"
    if spec.is_cartesian:
        assert spec.shape is not None and spec.acceleration is not None
        try:
            return cartesian_mask(
                spec.kind,
                spec.shape,
                spec.acceleration,
                spec.center_fraction,
                spec.seed,
                spec.frames,
                phase_axis=spec.phase_axis,
            )
        except ValueError as exc:
            raise UsageError(f"--kind {spec.kind}: {exc}") from None
    assert spec.spokes is not None and spec.samples is not None
    tiny = spec.tiny_golden_index if spec.kind == "tiny-golden-angle" else None
    return golden_angle_radial(spec.spokes, spec.frames, spec.samples, tiny_golden_index=tiny)


def pattern_statistics(spec: PatternSpec, pattern: np.ndarray) -> tuple[float, float]:
    """(sampled fraction, acceleration) a drawn pattern achieves.

    Cartesian: the mask's mean and its inverse. Radial: spokes over the Nyquist count (pi/2 N) per frame,
    and its inverse.
    """
    from recon_cli.sampling.radial import radial_acceleration

    if pattern.dtype == bool:
        fraction = float(pattern.mean())
        return fraction, (1.0 / fraction if fraction > 0 else math.inf)
    assert spec.spokes is not None and spec.matrix is not None
    acceleration = radial_acceleration(spec.spokes, spec.matrix)
    return 1.0 / acceleration, acceleration

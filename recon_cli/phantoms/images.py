"""Seeded numerical phantom images: modified Shepp-Logan and a moving cardiac cine of the chest.

Conventions (DESIGN.md section 2): images are ``(..., ny, nx)`` with row 0 at the top (anterior) and the
patient's left on the image right (radiological display). Every random choice comes from an explicit
``torch.Generator`` (or an int seed), never from global random state, so the same seed gives the same
phantom on every machine.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

Value = float | torch.Tensor  # a scalar, or a tensor that broadcasts against the image grid
Draw = Callable[[float, float], float]  # (low, high) -> a seeded uniform draw

# Modified Shepp-Logan (Toft 1996): intensity, semi-axis a (x), semi-axis b (y), centre x0, y0, angle (deg).
_SHEPP_LOGAN = (
    (1.0, 0.69, 0.92, 0.0, 0.0, 0.0),
    (-0.8, 0.6624, 0.874, 0.0, -0.0184, 0.0),
    (-0.2, 0.11, 0.31, 0.22, 0.0, -18.0),
    (-0.2, 0.16, 0.41, -0.22, 0.0, 18.0),
    (0.1, 0.21, 0.25, 0.0, 0.35, 0.0),
    (0.1, 0.046, 0.046, 0.0, 0.1, 0.0),
    (0.1, 0.046, 0.046, 0.0, -0.1, 0.0),
    (0.1, 0.046, 0.023, -0.08, -0.605, 0.0),
    (0.1, 0.023, 0.023, 0.0, -0.606, 0.0),
    (0.1, 0.023, 0.046, 0.06, -0.605, 0.0),
)


def as_generator(seed: torch.Generator | int | None) -> torch.Generator:
    """A CPU ``torch.Generator`` from a generator (returned as is), an int seed, or None (seed 0)."""
    if isinstance(seed, torch.Generator):
        return seed
    return torch.Generator().manual_seed(0 if seed is None else int(seed))


def _uniform(gen: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=gen, dtype=torch.float64))


def _grid(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates in [-1, 1]: x to the right, y downwards. Returns (y, x), each (n, n)."""
    ax = (torch.arange(n, dtype=torch.float64) + 0.5) * (2.0 / n) - 1.0
    y, x = torch.meshgrid(ax, ax, indexing="ij")
    return y, x


def _ellipse(
    y: torch.Tensor, x: torch.Tensor, cy: Value, cx: Value, ry: Value, rx: Value, angle_deg: float = 0.0
) -> torch.Tensor:
    """Bool mask of an ellipse; all arguments broadcast (e.g. (frames, 1, 1) against (n, n))."""
    t = math.radians(angle_deg)
    dx, dy = x - cx, y - cy
    u = dx * math.cos(t) + dy * math.sin(t)
    v = -dx * math.sin(t) + dy * math.cos(t)
    return (u / rx) ** 2 + (v / ry) ** 2 <= 1.0


def shepp_logan(n: int, *, scale: float = 1.0) -> torch.Tensor:
    """Modified Shepp-Logan head phantom (Toft's high-contrast intensities), computed from its ellipses.

    Args:
        n: Image size.
        scale: Zoom of the head within the field of view (1.0: the skull touches the top and bottom).

    Returns:
        (n, n) float32 in [0, 1]; the small ellipses near the skull base are at the bottom.
    """
    y, x = _grid(n)
    y = -y  # the parameters use y upwards
    img = torch.zeros(n, n, dtype=torch.float64)
    for value, a, b, x0, y0, angle in _SHEPP_LOGAN:
        inside = _ellipse(y, x, y0 * scale, x0 * scale, b * scale, a * scale, angle)
        img = img + value * inside
    return img.clamp_min(0.0).to(torch.float32)


def _contraction(frames: int, cycles: float, phase: float) -> torch.Tensor:
    """Systolic contraction in [0, 1] per frame (0 = end-diastole), periodic with ``frames / cycles``."""
    t = torch.arange(frames, dtype=torch.float64) / frames
    return (0.5 - 0.5 * torch.cos(2 * math.pi * (cycles * t + phase))).reshape(frames, 1, 1)


def cardiac_cine_phantom(
    n: int,
    frames: int,
    *,
    generator: torch.Generator | int | None = None,
    heart_cycles: float | None = None,
    respiration: bool = True,
    supersample: int = 2,
    detail: float = 0.0,
) -> torch.Tensor:
    """A moving numerical chest in a short-axis-like view for real-time cine.

    Body ellipse with a bright subcutaneous fat layer, dark lungs, spine and descending aorta, and a heart
    whose left-ventricular blood pool shrinks over the cardiac cycle while the myocardium thickens (the
    myocardial area is conserved), with the right ventricle beside it. Positions, sizes, intensities,
    heart rate (``heart_cycles`` cycles over the frames, drawn from [0.85, 1.2] when None), respiratory
    drift and a smooth background phase are drawn from ``generator``.

    Args:
        n: Image size (n x n).
        frames: Number of time frames.
        generator: Seeded generator or int seed.
        heart_cycles: Cardiac cycles over all frames; None draws one.
        respiration: Add a slow vertical drift of heart and lungs (up to 3% of the field of view).
        supersample: Draw on a grid this many times finer, then average, to soften edges.
        detail: Strength (0-1) of what makes real anatomy not piecewise constant (``_add_detail``): tissue
            texture at fine and coarse scales that moves with the heart, papillary muscles, and blood
            signal that varies over the cardiac cycle (in-flow). 0 gives flat compartments. The detail's
            random draws come after all others, so a seed gives the same anatomy and motion at any level.

    Returns:
        (frames, n, n) complex64; magnitudes in [0, 1].
    """
    gen = as_generator(generator)
    u = _sampler(gen)
    m = n * supersample
    y, x = _grid(m)
    cycles = u(0.85, 1.2) if heart_cycles is None else float(heart_cycles)
    s = _contraction(frames, cycles, u(0.0, 1.0))
    t = torch.arange(frames, dtype=torch.float64).reshape(frames, 1, 1) / frames
    drift = u(0.0, 0.03) * torch.sin(2 * math.pi * (u(0.15, 0.4) * t + u(0, 1))) if respiration else 0 * t
    img, (by, bx) = _paint_thorax(torch.zeros(frames, m, m, dtype=torch.float64), y, x, s, drift, u)
    img, heart = _paint_heart(img, y, x, s, drift, (by + u(-0.14, -0.06), bx + u(0.02, 0.1)), u)
    yy, xx = _grid(n)
    phase = u(-math.pi, math.pi) + u(-1, 1) * xx + u(-1, 1) * yy + u(-0.5, 0.5) * (xx**2 + yy**2)
    if detail > 0:
        img = _add_detail(img, y, x, s, heart, float(detail), cycles, supersample, _sampler(_child(gen)))
    mag = torch.nn.functional.avg_pool2d(img.unsqueeze(1), supersample).squeeze(1).clamp(0.0, 1.0)
    return torch.polar(mag, phase.expand_as(mag)).to(torch.complex64)


def _child(gen: torch.Generator) -> torch.Generator:
    """A new generator seeded from one draw of ``gen``."""
    return torch.Generator().manual_seed(int(torch.randint(0, 2**62, (), generator=gen)))


def _smooth_field(shape: tuple[int, int], width: float, gen: torch.Generator) -> torch.Tensor:
    """Gaussian random field with unit standard deviation and correlation length ``width`` pixels."""
    noise = torch.randn(shape, generator=gen, dtype=torch.float64)
    ky = torch.fft.fftfreq(shape[0], dtype=torch.float64).reshape(-1, 1)
    kx = torch.fft.fftfreq(shape[1], dtype=torch.float64).reshape(1, -1)
    kernel = torch.exp(-2 * (math.pi * width) ** 2 * (ky**2 + kx**2))
    field = torch.fft.ifft2(torch.fft.fft2(noise) * kernel).real
    return (field - field.mean()) / field.std()


def _add_detail(
    img: torch.Tensor,
    y: torch.Tensor,
    x: torch.Tensor,
    s: torch.Tensor,
    heart: dict[str, Any],
    detail: float,
    cycles: float,
    supersample: int,
    u: Draw,
) -> torch.Tensor:
    """Papillary muscles, in-flow blood signal and tissue texture (see ``cardiac_cine_phantom``)."""
    frames, m = img.shape[0], img.shape[-1]
    cy, cx, r, r_ed, muscle = (heart[k] for k in ("cy", "cx", "r", "r_ed", "muscle"))
    # blood brightens and darkens over the cycle (in-flow of unsaturated spins), pools only
    t = torch.arange(frames, dtype=torch.float64).reshape(frames, 1, 1) / frames
    flow = 1 + detail * u(0.05, 0.12) * torch.sin(2 * math.pi * (cycles * t + u(0.0, 1.0)))
    img = torch.where(heart["pools"], img * flow, img)
    # two papillary muscles inside the left-ventricular pool, thickening in systole
    for angle in (u(200.0, 235.0), u(300.0, 335.0)):
        a = math.radians(angle)
        dist, rad = 0.55 * r, u(0.16, 0.22) * r_ed * (1 + 0.3 * s)
        inside = _ellipse(y, x, cy + dist * math.sin(a), cx + dist * math.cos(a), rad, rad)
        img = torch.where(inside, torch.as_tensor(muscle * u(1.0, 1.3), dtype=img.dtype), img)
    # texture: fine and coarse random fields, the heart's following its radial contraction
    shape = (m, m)
    gen = torch.Generator().manual_seed(int(u(0.0, 2.0**31)))
    fine, coarse = 1.2 * supersample, 8.0 * supersample

    def field() -> torch.Tensor:
        return u(0.06, 0.12) * _smooth_field(shape, fine, gen) + u(0.06, 0.12) * _smooth_field(
            shape, coarse, gen
        )

    still, moving = field(), field()
    scale = (r / r_ed).reshape(frames, 1, 1)  # material point at rho (end-diastole) sits at rho * scale
    grid = torch.stack((cx + (x - cx) / scale, cy + (y - cy) / scale), dim=-1)  # (frames, m, m, 2): x, y
    warped = torch.nn.functional.grid_sample(
        moving.expand(frames, 1, m, m), grid, mode="bilinear", padding_mode="reflection", align_corners=False
    ).squeeze(1)
    in_heart = _ellipse(y, x, cy, cx, heart["outer"] + 0.02, heart["outer"] + 0.02) | heart["rv"]
    texture = torch.where(in_heart, warped, still)
    return img * (1 + detail * texture).clamp_min(0.0)


def _sampler(gen: torch.Generator) -> Callable[[float, float], float]:
    """A function drawing one uniform number in [low, high) from ``gen``."""

    def draw(low: float, high: float) -> float:
        return _uniform(gen, low, high)

    return draw


def _paint(img: torch.Tensor, inside: torch.Tensor, value: float) -> torch.Tensor:
    """``img`` with ``value`` where ``inside`` (broadcast over frames)."""
    return torch.where(inside, torch.as_tensor(value, dtype=img.dtype), img)


def _paint_thorax(
    img: torch.Tensor, y: torch.Tensor, x: torch.Tensor, s: torch.Tensor, drift: Value, u: Draw
) -> tuple[torch.Tensor, tuple[float, float]]:
    """Body with fat layer, lungs, spine and descending aorta. Returns the image and the body centre."""
    by, bx, bry, brx, fat = u(0.0, 0.06), u(-0.03, 0.03), u(0.55, 0.66), u(0.78, 0.9), u(0.03, 0.06)
    img = _paint(img, _ellipse(y, x, by, bx, bry, brx), u(0.6, 0.8))
    img = _paint(img, _ellipse(y, x, by, bx, bry - fat, brx - fat), u(0.22, 0.32))
    lung = u(0.02, 0.06)
    for side in (-1.0, 1.0):
        ly, lx = by + u(-0.12, -0.04) + drift, bx + side * u(0.4, 0.48)
        img = _paint(img, _ellipse(y, x, ly, lx, u(0.3, 0.38), u(0.17, 0.22), side * u(0, 12)), lung)
    spine_y, spine_r = by + bry - fat - u(0.14, 0.18), u(0.07, 0.09)
    img = _paint(img, _ellipse(y, x, spine_y, bx, spine_r, spine_r), 0.08)  # cortical bone
    img = _paint(img, _ellipse(y, x, spine_y, bx, spine_r - 0.015, spine_r - 0.015), u(0.35, 0.5))
    ao_r = u(0.035, 0.05) * (1 + 0.06 * s)  # pulsatile
    img = _paint(
        img, _ellipse(y, x, spine_y - spine_r - ao_r - 0.01, bx + u(0.06, 0.1), ao_r, ao_r), u(0.6, 0.85)
    )
    return img, (by, bx)


def _paint_heart(
    img: torch.Tensor,
    y: torch.Tensor,
    x: torch.Tensor,
    s: torch.Tensor,
    drift: Value,
    centre: tuple[float, float],
    u: Draw,
) -> tuple[torch.Tensor, dict[str, Any]]:
    """Right ventricle, left-ventricular myocardium and blood pool for every frame. Returns the image and
    the heart's geometry (centre, radii per frame, muscle intensity, right-ventricle and blood-pool masks)
    for ``_add_detail``."""
    cy, cx = centre[0] + drift, centre[1]
    r_ed, wall, shrink = u(0.13, 0.17), u(0.05, 0.065), u(0.2, 0.33)
    blood, muscle = u(0.8, 1.0), u(0.15, 0.25)
    r = r_ed * (1 - shrink * s)  # blood-pool radius
    outer = torch.sqrt(r**2 + (r_ed + wall) ** 2 - r_ed**2)  # constant myocardial area
    rv_ry, rv_rx = (u(0.18, 0.23) * (1 - 0.5 * shrink * s), u(0.1, 0.14) * (1 - 0.6 * shrink * s))
    rv_cx, rv_cy = cx - outer - 0.5 * rv_rx, cy - 0.03
    rv = _ellipse(y, x, rv_cy, rv_cx, rv_ry + 0.012, rv_rx + 0.012, -25)  # wall and pool
    img = _paint(img, rv, muscle)
    rv_pool = _ellipse(y, x, rv_cy, rv_cx, rv_ry, rv_rx, -25)
    img = _paint(img, rv_pool, 0.95 * blood)
    img = _paint(img, _ellipse(y, x, cy, cx, outer, outer), muscle)
    lv_pool = _ellipse(y, x, cy, cx, r, r)
    img = _paint(img, lv_pool, blood)
    return img, dict(cy=cy, cx=cx, r=r, r_ed=r_ed, outer=outer, muscle=muscle, rv=rv, pools=lv_pool | rv_pool)

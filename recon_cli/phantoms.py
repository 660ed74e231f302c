"""Seeded numerical phantoms and a simple acquisition simulator (sample data, tests, synthetic training).

Conventions (DESIGN.md section 2): images are ``(..., ny, nx)`` with row 0 at the top (anterior) and the
patient's left on the image right (radiological display); k-space from ``fft2c`` is centred and
orthonormal; radial trajectories are radians/voxel in [-pi, pi), ordered (ky, kx) as torchkbnufft's
``omega``. Every random choice comes from an explicit ``torch.Generator`` (or an int seed), never from
global random state, so the same seed gives the same phantom on every machine.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recon_cli.io.scan import Scan, ScanHeader, SliceGeometry
from recon_cli.ops.functional import fft2c

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


def coil_maps(
    n_coils: int, shape: tuple[int, int], *, generator: torch.Generator | int | None = None
) -> torch.Tensor:
    """Birdcage coil sensitivities from ``sigpy.mri.birdcage_maps``, with sigpy's scaling.

    sigpy normalises the maps so that sum_c |S_c|^2 = 1 at every pixel; the root-sum-of-squares of the
    coil images of an object therefore equals the object's magnitude. With a generator, the coil ring's
    relative radius (1.2-2.0) and a constant phase per coil are drawn from it; without one the maps are
    sigpy's defaults (radius 1.5, no extra phase).

    Args:
        n_coils: Number of coils on the ring.
        shape: (ny, nx) image shape.
        generator: Seeded generator or int seed, or None for fixed maps.

    Returns:
        (coils, ny, nx) complex64.
    """
    import sigpy.mri

    radius, phases = 1.5, torch.zeros(n_coils, dtype=torch.float64)
    if generator is not None:
        gen = as_generator(generator)
        radius = _uniform(gen, 1.2, 2.0)
        phases = (torch.rand(n_coils, generator=gen, dtype=torch.float64) * 2 - 1) * math.pi
    maps = sigpy.mri.birdcage_maps((n_coils, *shape), r=radius, dtype=np.complex128)
    maps = torch.from_numpy(maps) * torch.polar(torch.ones_like(phases), phases).reshape(-1, 1, 1)
    return maps.to(torch.complex64)


def coil_noise_covariance(
    n_coils: int, *, correlation: float = 0.0, generator: torch.Generator | int | None = None
) -> torch.Tensor:
    """A synthetic receiver noise covariance with unit mean variance.

    AR(1) correlation ``correlation**|i-j|`` between coils, per-coil variances drawn from [0.7, 1.3]
    (all 1 without a generator).

    Returns:
        (coils, coils) complex64 Hermitian positive definite (for |correlation| < 1).
    """
    idx = torch.arange(n_coils, dtype=torch.float64)
    corr = float(correlation) ** (idx[:, None] - idx[None, :]).abs()
    var = torch.ones(n_coils, dtype=torch.float64)
    if generator is not None:
        var = 0.7 + 0.6 * torch.rand(n_coils, generator=as_generator(generator), dtype=torch.float64)
    cov = var.sqrt()[:, None] * corr * var.sqrt()[None, :]
    return (cov / var.mean()).to(torch.complex64)


def complex_noise(
    shape: tuple[int, ...],
    sigma: float,
    gen: torch.Generator,
    cov: torch.Tensor | None = None,
    coil_dim: int = -2,
) -> torch.Tensor:
    """Complex Gaussian noise with E|n|^2 = sigma^2 (times ``cov`` between coils along ``coil_dim``)."""
    white = torch.randn((*shape, 2), generator=gen, dtype=torch.float64)
    noise = torch.view_as_complex(white) * (sigma / math.sqrt(2.0))
    if cov is not None:
        chol = torch.linalg.cholesky(cov.to(torch.complex128))
        noise = torch.movedim(torch.movedim(noise, coil_dim, -1) @ chol.T, -1, coil_dim)
    return noise.to(torch.complex64)


def noise_sigma(image: torch.Tensor, snr: float) -> float:
    """Noise standard deviation per k-space sample that gives ``image`` the SNR ``snr``.

    SNR here is the mean magnitude over the object (pixels above 10% of the maximum) divided by the noise
    standard deviation; with orthonormal FFTs the k-space noise per sample equals the per-pixel noise of
    a fully sampled single-coil reconstruction.
    """
    mag = image.abs()
    obj = mag[mag > 0.1 * mag.max()]
    return float(obj.mean()) / float(snr) if obj.numel() else 0.0


def simulate_cartesian(
    image: torch.Tensor,
    maps: torch.Tensor,
    *,
    snr: float | None = 30.0,
    generator: torch.Generator | int | None = None,
    mask: torch.Tensor | None = None,
    noise_cov: torch.Tensor | None = None,
    noise_samples: int = 0,
    fov_mm: float = 300.0,
    slice_thickness_mm: float = 8.0,
    frame_time_ms: float | None = None,
) -> Scan:
    """Multi-coil Cartesian k-space of an image: ``fft2c(image * maps)`` plus noise, optionally masked.

    Args:
        image: (ny, nx), (frames, ny, nx) or (slices, frames, ny, nx) complex ground truth.
        maps: (coils, ny, nx) complex coil sensitivities.
        snr: Image SNR as defined by ``noise_sigma``; None for no noise.
        generator: Seeded generator or int seed for the noise.
        mask: Sampling mask broadcastable to (slices, frames, 1, ny, nx); unsampled points are zeroed.
        noise_cov: (coils, coils) receiver noise covariance (unit mean variance); None for white noise.
        noise_samples: Number of noise-only samples per coil to simulate (a noise calibration scan).
        fov_mm: Square field of view; slice_thickness_mm, frame_time_ms: header values.

    Returns:
        A ``Scan`` with kspace (slices, frames, coils, ny, nx) complex64 and ``reference`` the ground
        truth's magnitude (slices, frames, ny, nx) float32.
    """
    gen = as_generator(generator)
    img = image.to(torch.complex64)
    img = img.reshape((1,) * (4 - img.dim()) + tuple(img.shape))
    kspace = fft2c(img.unsqueeze(2) * maps.to(torch.complex64))
    sigma = noise_sigma(img, snr) if snr else 0.0
    kspace = kspace + complex_noise(tuple(kspace.shape), sigma, gen, noise_cov, coil_dim=2)
    if mask is not None:
        mask = torch.broadcast_to(mask.bool(), (*img.shape[:2], 1, *img.shape[-2:]))
        kspace = kspace * mask
    matrix = (int(img.shape[-2]), int(img.shape[-1]))
    header = _synthetic_header(matrix, fov_mm, slice_thickness_mm, "cartesian", frame_time_ms, img.shape[0])
    scan = Scan(kspace=kspace, header=header, source=Path("<synthetic>"), format="synthetic", mask=mask)
    scan.reference = img.abs().to(torch.float32)
    return _add_noise_scan(scan, noise_samples, sigma, gen, noise_cov, snr)


def simulate_radial_cine(
    image: torch.Tensor,
    maps: torch.Tensor,
    traj: torch.Tensor,
    *,
    readout_length: int,
    snr: float | None = 30.0,
    generator: torch.Generator | int | None = None,
    noise_cov: torch.Tensor | None = None,
    noise_samples: int = 0,
    fov_mm: float = 300.0,
    slice_thickness_mm: float = 8.0,
    frame_time_ms: float = 40.0,
) -> Scan:
    """Multi-coil radial k-space of a cine: NUFFT of ``image * maps`` along ``traj`` plus noise.

    The forward model is ``recon_cli.ops.nufft.nufft_forward`` (FINUFFT by default, scaled to agree with
    ``fft2c`` at Cartesian points), so the noise level means the same as in ``simulate_cartesian``.

    Args:
        image: (frames, ny, nx) complex ground truth, e.g. from ``cardiac_cine_phantom``.
        maps: (coils, ny, nx) complex coil sensitivities.
        traj: (frames, 2, samples) radians/voxel, e.g. from ``recon_cli.sampling.golden_angle_radial``.
        readout_length: Samples per spoke.
        snr, generator, noise_cov, noise_samples, fov_mm, slice_thickness_mm: as in ``simulate_cartesian``.
        frame_time_ms: Time per frame; the header's TR is this over the spokes per frame.

    Returns:
        A ``Scan`` with kspace (1, frames, coils, samples) complex64, traj (1, frames, 2, samples)
        float32, ``readout_length`` set and ``reference`` (1, frames, ny, nx) float32 magnitude.
    """
    from recon_cli.ops.nufft import nufft_forward

    gen = as_generator(generator)
    img = image.to(torch.complex64)
    kspace = nufft_forward(img.unsqueeze(1) * maps.to(torch.complex64), traj).unsqueeze(0)
    sigma = noise_sigma(img, snr) if snr else 0.0
    kspace = kspace + complex_noise(tuple(kspace.shape), sigma, gen, noise_cov, coil_dim=2)
    matrix = (int(img.shape[-2]), int(img.shape[-1]))
    header = _synthetic_header(matrix, fov_mm, slice_thickness_mm, "radial", frame_time_ms, 1)
    header.sequence["TR_ms"] = round(frame_time_ms * readout_length / traj.shape[-1], 4)
    scan = Scan(
        kspace=kspace.to(torch.complex64), header=header, source=Path("<synthetic>"), format="synthetic"
    )
    scan.traj = traj.to(torch.float32).unsqueeze(0)
    scan.readout_length = int(readout_length)
    scan.reference = img.abs().to(torch.float32).unsqueeze(0)
    return _add_noise_scan(scan, noise_samples, sigma, gen, noise_cov, snr)


def _add_noise_scan(
    scan: Scan,
    n: int,
    sigma: float,
    gen: torch.Generator,
    cov: torch.Tensor | None,
    snr: float | None,
) -> Scan:
    """Attach ``n`` noise-only samples per coil (``extra['noise_data']``, (coils, n)) and their covariance."""
    from recon_cli.noise import noise_covariance

    scan.extra.update({"synthetic": True, "snr": snr, "noise_sigma": sigma})
    if n > 0:
        data = complex_noise((scan.n_coils, n), sigma, gen, cov, coil_dim=0)
        scan.extra["noise_data"] = data
        scan.noise, scan.noise_samples = noise_covariance(data), n
    return scan


def _synthetic_header(
    matrix: tuple[int, int],
    fov_mm: float,
    thickness: float,
    trajectory: str,
    frame_time_ms: float | None,
    n_slices: int,
) -> ScanHeader:
    """Header with obviously synthetic patient/study fields and a double-oblique short-axis geometry."""
    a, b = math.radians(35.0), math.radians(-50.0)
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    rot = rz @ rx
    def vec(i: int) -> tuple[float, float, float]:
        return (round(float(rot[0, i]), 6), round(float(rot[1, i]), 6), round(float(rot[2, i]), 6))

    geometry = [
        SliceGeometry(
            position=(12.5, -20.0, 35.0 + i * thickness), read_dir=vec(0), phase_dir=vec(1), slice_dir=vec(2)
        )
        for i in range(n_slices)
    ]
    return ScanHeader(
        recon_matrix=matrix,
        encoded_matrix=matrix,
        fov_mm=(float(fov_mm) * matrix[0] / max(matrix), float(fov_mm) * matrix[1] / max(matrix), thickness),
        trajectory=trajectory,
        slice_spacing_mm=float(thickness),
        frame_time_ms=frame_time_ms,
        geometry=geometry,
        patient={
            "name": "SYNTHETIC^PHANTOM",
            "id": "SYNTH-0001",
            "birth_date": "20000101",
            "sex": "O",
            "weight_kg": "70",
        },
        study={
            "date": "20240101",
            "time": "120000",
            "description": "Synthetic numerical phantom",
            "id": "SYNTH",
            "institution": "recon synthetic data",
        },
        series={"description": f"synthetic {trajectory} phantom", "protocol_name": f"synthetic_{trajectory}"},
        sequence={"TR_ms": 3.0, "TE_ms": 1.5, "flip_deg": 50.0, "field_T": 1.5},
    )

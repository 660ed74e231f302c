"""Real anatomy in motion: a brain-template slice deformed periodically over the frames of a cine.

The cine phantom is piecewise smooth by construction, total variation's ideal case. This source gives
dynamic images with the texture of real tissue (``recon_cli.phantoms.anatomy``: slices of the MNI152
template) and a motion a learned prior has to follow:

* a smooth non-rigid displacement field (a Gaussian random field of correlation length ~1/6 of the field
  of view, peak amplitude 1.5-3.5% of it) that swells and relaxes periodically, 0.85-1.2 cycles over the
  frames (the pace of the cine phantom's heartbeat);
* a slow rigid drift and rotation (up to 2% of the field of view and 2 degrees; breathing or bulk motion);
* a smooth random background phase (``smooth_phase``).

Every number is drawn from the generator, so a seed gives one slice and one motion. ``part`` picks
training slices or the held-out ones (every fifth template slice), so held-out sets never share anatomy
with training.
"""

from __future__ import annotations

import math

import torch

from recon_cli.phantoms.images import _sampler, _smooth_field, as_generator


def moving_brain_cine(
    n: int,
    frames: int,
    *,
    part: str = "train",
    generator: torch.Generator | int | None = None,
    index: int | None = None,
) -> torch.Tensor:
    """A brain-template slice under periodic non-rigid and slow rigid motion.

    Args:
        n: Image size (n x n).
        frames: Number of time frames.
        part: "train", "test" (held-out slices) or "all" (``recon_cli.phantoms.anatomy.brain_slices``).
        generator: Seeded generator or int seed; it draws the slice (unless ``index``), motion and phase.
        index: Which slice of ``part``; None draws one.

    Returns:
        (frames, n, n) complex64; magnitudes in [0, 1].
    """
    from recon_cli.phantoms.anatomy import brain_slices, smooth_phase

    gen = as_generator(generator)
    u = _sampler(gen)
    slices = brain_slices(n, part)
    pick = int(torch.randint(0, slices.shape[0], (), generator=gen)) if index is None else int(index)
    image = slices[pick].to(torch.float64)
    t = torch.arange(frames, dtype=torch.float64).reshape(frames, 1, 1) / frames
    # non-rigid: a fixed smooth vector field scaled by a periodic swelling in [0, 1]
    width = n / 6.0
    field = torch.stack((_smooth_field((n, n), width, gen), _smooth_field((n, n), width, gen)), dim=-1)
    field = field / field.norm(dim=-1).amax() * 2 * u(0.015, 0.035)  # peak displacement, normalised coords
    swell = 0.5 - 0.5 * torch.cos(2 * math.pi * (u(0.85, 1.2) * t + u(0.0, 1.0)))
    # rigid: slow drift (about a third of a cycle to one cycle over the frames) and rotation
    slow = torch.sin(2 * math.pi * (u(0.15, 0.4) * t + u(0.0, 1.0)))
    shift = torch.tensor([u(-1.0, 1.0), u(-1.0, 1.0)], dtype=torch.float64) * 2 * u(0.0, 0.02)
    angle = math.radians(u(-2.0, 2.0)) * slow
    yy, xx = torch.meshgrid(
        torch.linspace(-1 + 1 / n, 1 - 1 / n, n, dtype=torch.float64),
        torch.linspace(-1 + 1 / n, 1 - 1 / n, n, dtype=torch.float64),
        indexing="ij",
    )
    cos, sin = torch.cos(angle), torch.sin(angle)
    gx = cos * xx - sin * yy + shift[0] * slow
    gy = sin * xx + cos * yy + shift[1] * slow
    grid = torch.stack((gx, gy), dim=-1) + swell.unsqueeze(-1) * field  # (frames, n, n, 2): x, y
    moved = torch.nn.functional.grid_sample(
        image.expand(frames, 1, n, n), grid, mode="bilinear", padding_mode="zeros", align_corners=False
    ).squeeze(1)
    phase = smooth_phase((n, n), gen).to(torch.complex128)
    return (moved.clamp(0.0, 1.0) * phase).to(torch.complex64)

"""Non-Cartesian operator and density compensation against independent references (numpy FFT, sigpy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sigpy
import sigpy.mri
import torch

from recon_cli.ops.cartesian import CartesianSense
from recon_cli.ops.nufft import NonCartesianSense, nufft_adjoint, nufft_forward, pipe_menon_dcf, ramp_dcf
from recon_cli.phantoms import shepp_logan
from recon_cli.sampling import golden_angle_radial
from tests.helpers import correlation


def _complex(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    return torch.complex(torch.randn(shape, generator=gen), torch.randn(shape, generator=gen))


def test_nufft_equals_numpy_fft_on_cartesian_points(rng: torch.Generator) -> None:
    n = 32
    image = _complex((1, 1, n, n), rng)
    ky, kx = np.meshgrid(np.arange(n) - n // 2, np.arange(n) - n // 2, indexing="ij")
    traj = torch.from_numpy(np.stack([ky.ravel(), kx.ravel()]) * 2 * np.pi / n).float()[None]
    ours = nufft_forward(image, traj).reshape(n, n).numpy()
    x = image[0, 0].numpy()
    reference = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x), norm="ortho"))
    assert np.linalg.norm(ours - reference) / np.linalg.norm(reference) < 1e-2


@pytest.mark.parametrize("maps", [False, True])
def test_adjoints_pass_the_dot_product_test(rng: torch.Generator, maps: bool) -> None:
    n, coils, frames = 24, 3, 2
    sens = _complex((coils, n, n), rng) if maps else None
    traj = torch.as_tensor(golden_angle_radial(7, frames, 48)).float()
    for op in (
        NonCartesianSense(coils, (n, n), traj, maps=sens),
        CartesianSense((coils, n, n), mask=torch.rand(1, 1, 1, n, generator=rng) > 0.5, maps=sens),
    ):
        x = _complex((frames, *op.domain_shape), rng)
        y = _complex((frames, *op.range_shape), rng)
        lhs = torch.vdot(op(x).flatten(), y.flatten())
        rhs = torch.vdot(x.flatten(), op.adjoint(y).flatten())
        assert abs(lhs - rhs) / abs(lhs) < 1e-4


@pytest.mark.parametrize("spokes", [13, 201])
@pytest.mark.parametrize("dcf", [pipe_menon_dcf, ramp_dcf])
def test_gridding_keeps_the_image_level(spokes: int, dcf) -> None:  # noqa: ANN001
    """Density-compensated gridding keeps the mean intensity, even far below Nyquist."""
    n = 128
    image = torch.as_tensor(shepp_logan(n)).to(torch.complex64)[None, None]
    traj = torch.as_tensor(golden_angle_radial(spokes, 1, 2 * n)).float()
    gridded = nufft_adjoint(nufft_forward(image, traj), traj, (n, n), dcf(traj, (n, n)))
    ratio = float(gridded.real.mean() / image.real.mean())
    assert 0.9 < ratio < 1.15


def test_pipe_menon_gridding_matches_sigpy() -> None:
    """Our NUFFT + Pipe-Menon gridding against sigpy's NUFFT adjoint with sigpy's Pipe-Menon weights."""
    n, spokes = 96, 150
    image = torch.as_tensor(shepp_logan(n)).to(torch.complex64)[None, None]
    traj = torch.as_tensor(golden_angle_radial(spokes, 1, 2 * n)).float()
    kspace = nufft_forward(image, traj)
    ours = nufft_adjoint(kspace, traj, (n, n), pipe_menon_dcf(traj, (n, n)))[0, 0].abs().numpy()
    coord = (traj[0].T.numpy() * n / (2 * math.pi)).astype(np.float32)  # (samples, 2) in cycles, (y, x)
    weights = sigpy.mri.pipe_menon_dcf(coord, (n, n), show_pbar=False)
    theirs = np.abs(sigpy.nufft_adjoint(kspace[0, 0].numpy() * weights, coord, oshape=(n, n)))
    yy, xx = np.mgrid[:n, :n] - n / 2
    inside = np.hypot(yy, xx) < n / 2  # sigpy's apodisation zeroes the corners outside the FOV disc
    assert correlation(ours[inside], theirs[inside]) > 0.99

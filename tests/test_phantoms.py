"""Phantoms, coil maps, golden-angle trajectories and the acquisition simulator.

Independent references: the Shepp-Logan ellipse table evaluated by hand at chosen points, numpy's FFT
for Cartesian k-space, and sigpy's NUFFT for the radial forward model.
"""

from __future__ import annotations

import numpy as np
import pytest
import sigpy
import torch

from recon_cli import phantoms
from recon_cli.sampling import golden_angle_radial


def _pixel(n: int, x: float, y_up: float) -> tuple[int, int]:
    """Row and column of the pixel whose centre is nearest to (x, y) in [-1, 1], y pointing up."""
    return round((1 - y_up) / 2 * n - 0.5), round((x + 1) / 2 * n - 0.5)


def test_shepp_logan_values_and_orientation() -> None:
    n = 256
    img = phantoms.shepp_logan(n)
    assert img.shape == (n, n) and img.dtype == torch.float32
    # hand-evaluated sums of the ellipse intensities at points well inside their regions
    expected = {(0.0, 0.0): 0.2, (0.0, 0.9): 1.0, (0.0, 0.3): 0.3, (0.22, 0.0): 0.0, (0.95, 0.0): 0.0,
                (0.3065, 0.266): 0.0, (0.1335, 0.266): 0.3, (-0.3065, 0.266): 0.0}  # fmt: skip
    for (x, y), value in expected.items():
        assert float(img[_pixel(n, x, y)]) == pytest.approx(value, abs=1e-6), (x, y)
    assert float(img[_pixel(n, 0.0, -0.606)]) == pytest.approx(0.3, abs=1e-6)  # small ellipses at the bottom
    torch.testing.assert_close(img, img.flip(-1), atol=0.21, rtol=0)  # left-right mirror up to small ellipses


def test_cine_phantom_shape_and_determinism() -> None:
    a = phantoms.cardiac_cine_phantom(48, 6, generator=torch.Generator().manual_seed(7))
    b = phantoms.cardiac_cine_phantom(48, 6, generator=7)
    c = phantoms.cardiac_cine_phantom(48, 6, generator=8)
    assert a.shape == (6, 48, 48) and a.dtype == torch.complex64
    assert torch.equal(a, b)
    assert (a - c).abs().mean() > 0.01
    assert 0.5 < float(a.abs().max()) <= 1.0 and float(a.abs()[:, 0, 0].max()) == 0.0  # corners are air
    assert float(a.angle()[0].std()) > 0.05  # smooth, non-constant phase


def test_cine_phantom_heart_moves_periodically() -> None:
    frames = 8
    x = phantoms.cardiac_cine_phantom(64, 2 * frames, generator=3, heart_cycles=2.0, respiration=False).abs()
    # periodic: two cardiac cycles over 2 * frames frames
    torch.testing.assert_close(x[:frames], x[frames:], atol=1e-5, rtol=0)
    diff = (x[1:frames] - x[:1]).abs()
    assert float(diff.amax()) > 0.3  # something moves in every cycle
    moving = (diff > 0.05).any(dim=0).float().mean()
    assert 0.005 < float(moving) < 0.15, float(moving)  # ... and only the heart (and aortic pulsation)
    breathing = phantoms.cardiac_cine_phantom(64, 2 * frames, generator=3, heart_cycles=2.0).abs()
    assert not torch.allclose(breathing, x)


def test_cine_phantom_detail_adds_texture_not_new_anatomy() -> None:
    frames = 6
    kw = dict(generator=5, heart_cycles=2.0, respiration=False)
    flat = phantoms.cardiac_cine_phantom(64, 2 * frames, **kw).abs()
    assert torch.equal(flat, phantoms.cardiac_cine_phantom(64, 2 * frames, detail=0.0, **kw).abs())
    rich = phantoms.cardiac_cine_phantom(64, 2 * frames, detail=1.0, **kw).abs()
    assert torch.equal(rich, phantoms.cardiac_cine_phantom(64, 2 * frames, detail=1.0, **kw).abs())
    assert float(rich.max()) <= 1.0
    # the same body: the object's support is unchanged, intensities change by texture-sized amounts
    assert float(((flat > 0.12) != (rich > 0.12)).float().mean()) < 0.01  # above lungs and bone
    # inside compartments that are flat without detail, the texture varies from pixel to pixel
    pad = torch.nn.functional.pad(flat[:1], (1, 1, 1, 1), mode="replicate")[0]
    local = pad.unfold(0, 3, 1).unfold(1, 3, 1).reshape(64, 64, 9)
    interior = (local.amax(-1) - local.amin(-1) < 1e-6) & (flat[0] > 0.2)
    assert int(interior.sum()) > 300
    relative = rich[0][interior] / flat[0][interior]
    assert 0.05 < float(relative.std()) < 0.4
    # still periodic over the heart cycle, and only the heart (with its texture) moves
    torch.testing.assert_close(rich[:frames], rich[frames:], atol=1e-4, rtol=0)
    moving = ((rich[1:frames] - rich[:1]).abs() > 0.05).any(dim=0).float().mean()
    assert 0.005 < float(moving) < 0.2, float(moving)


def test_coil_maps() -> None:
    maps = phantoms.coil_maps(8, (40, 32))
    assert maps.shape == (8, 40, 32) and maps.dtype == torch.complex64
    torch.testing.assert_close((maps.abs() ** 2).sum(0), torch.ones(40, 32), atol=1e-5, rtol=0)
    seeded = phantoms.coil_maps(8, (40, 32), generator=1)
    assert torch.equal(seeded, phantoms.coil_maps(8, (40, 32), generator=1))
    assert not torch.allclose(seeded, maps)
    torch.testing.assert_close((seeded.abs() ** 2).sum(0), torch.ones(40, 32), atol=1e-5, rtol=0)


def test_simulate_cartesian_against_numpy_fft() -> None:
    image = phantoms.cardiac_cine_phantom(32, 3, generator=2)
    maps = phantoms.coil_maps(4, (32, 32), generator=2)
    scan = phantoms.simulate_cartesian(image, maps, snr=None)
    assert scan.kspace.shape == (1, 3, 4, 32, 32) and scan.kspace.dtype == torch.complex64
    coil = image.numpy()[:, None] * maps.numpy()[None]
    ref = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(coil, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    assert np.linalg.norm(scan.kspace[0].numpy() - ref) / np.linalg.norm(ref) < 1e-5
    torch.testing.assert_close(scan.reference[0], image.abs())
    assert scan.header.recon_matrix == (32, 32) and scan.header.trajectory == "cartesian"
    mask = torch.zeros(1, 1, 1, 1, 32, dtype=torch.bool)
    mask[..., ::2] = True
    masked = phantoms.simulate_cartesian(image, maps, snr=20.0, generator=0, mask=mask)
    assert float(masked.kspace[..., 1::2].abs().max()) == 0.0 and masked.acceleration_estimate() == 2.0


def test_simulate_radial_matches_sigpy_nufft() -> None:
    n, frames, spokes, samples = 48, 3, 7, 96
    image = phantoms.cardiac_cine_phantom(n, frames, generator=5)
    maps = phantoms.coil_maps(4, (n, n), generator=5)
    traj = torch.as_tensor(golden_angle_radial(spokes, frames, samples))
    scan = phantoms.simulate_radial_cine(image, maps, traj, readout_length=samples, snr=None)
    assert scan.kspace.shape == (1, frames, 4, spokes * samples) and scan.traj.shape == (
        1,
        frames,
        2,
        spokes * samples,
    )
    assert scan.readout_length == samples and scan.header.trajectory == "radial" and not scan.is_cartesian
    assert scan.reference.shape == (1, frames, n, n)
    coil = image.numpy()[:, None] * maps.numpy()[None]
    coord = traj.numpy().transpose(0, 2, 1) * (n / (2 * np.pi))  # radians/voxel -> samples, (ky, kx) order
    ref = np.stack(
        [sigpy.nufft(coil[f], np.ascontiguousarray(coord[f]), oversamp=2.0, width=6) for f in range(frames)]
    )
    err = np.linalg.norm(scan.kspace[0].numpy() - ref) / np.linalg.norm(ref)
    assert err < 2e-3, err


def test_simulated_noise_level_and_covariance() -> None:
    image = phantoms.cardiac_cine_phantom(32, 2, generator=1)
    maps = phantoms.coil_maps(4, (32, 32))
    cov = phantoms.coil_noise_covariance(4, correlation=0.4, generator=1)
    clean = phantoms.simulate_cartesian(image, maps, snr=None)
    noisy = phantoms.simulate_cartesian(
        image, maps, snr=10.0, generator=3, noise_cov=cov, noise_samples=20000
    )
    sigma = phantoms.noise_sigma(image, 10.0)
    assert noisy.simulation.noise_sigma == pytest.approx(sigma)
    noise = (noisy.kspace - clean.kspace).movedim(2, 0).reshape(4, -1)
    measured = (noise @ noise.conj().T / noise.shape[1]).to(torch.complex64)
    torch.testing.assert_close(measured, cov * sigma**2, atol=0.06 * sigma**2, rtol=0)
    assert noisy.noise.shape == (4, 4) and noisy.noise_samples == 20000
    torch.testing.assert_close(noisy.noise, cov * sigma**2, atol=0.05 * sigma**2, rtol=0)
    assert noisy.simulation.noise_samples.shape == (4, 20000)

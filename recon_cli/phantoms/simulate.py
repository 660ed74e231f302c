"""A simple acquisition simulator: coil sensitivities, correlated coil noise, Cartesian and radial k-space.

k-space from ``fft2c`` is centred and orthonormal; radial trajectories are radians/voxel in [-pi, pi),
ordered (ky, kx) as torchkbnufft's ``omega``. Randomness comes from explicit generators (or int seeds).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recon_cli.io.scan import Scan, ScanHeader, Simulation, SliceGeometry, Trajectory
from recon_cli.ops.functional import fft2c
from recon_cli.phantoms.images import _uniform, as_generator


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
    return Scan(
        kspace=kspace,
        header=header,
        source=Path("<synthetic>"),
        format="synthetic",
        mask=mask,
        reference=img.abs().to(torch.float32),
        **_noise_scan(int(kspace.shape[2]), noise_samples, sigma, gen, noise_cov, snr),
    )


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
    tr_ms = round(frame_time_ms * readout_length / traj.shape[-1], 4)
    header = _synthetic_header(matrix, fov_mm, slice_thickness_mm, "radial", frame_time_ms, 1, tr_ms)
    return Scan(
        kspace=kspace.to(torch.complex64),
        header=header,
        source=Path("<synthetic>"),
        format="synthetic",
        traj=traj.to(torch.float32).unsqueeze(0),
        readout_length=int(readout_length),
        reference=img.abs().to(torch.float32).unsqueeze(0),
        **_noise_scan(int(kspace.shape[2]), noise_samples, sigma, gen, noise_cov, snr),
    )


def _noise_scan(
    coils: int,
    n: int,
    sigma: float,
    gen: torch.Generator,
    cov: torch.Tensor | None,
    snr: float | None,
) -> dict[str, Any]:
    """The simulation's ``Scan`` fields: how it was made, and ``n`` > 0 noise-only samples per coil.

    Returns:
        ``simulation`` (a ``Simulation`` holding the samples, (coils, n)) and, when ``n`` > 0, ``noise``
        (their covariance) and ``noise_samples``.
    """
    from recon_cli.noise import noise_covariance

    if n <= 0:
        return {"simulation": Simulation(snr=snr, noise_sigma=sigma)}
    data = complex_noise((coils, n), sigma, gen, cov, coil_dim=0)
    return {
        "simulation": Simulation(snr=snr, noise_sigma=sigma, noise_samples=data),
        "noise": noise_covariance(data),
        "noise_samples": n,
    }


def _synthetic_header(
    matrix: tuple[int, int],
    fov_mm: float,
    thickness: float,
    trajectory: Trajectory,
    frame_time_ms: float | None,
    n_slices: int,
    tr_ms: float = 3.0,
) -> ScanHeader:
    """Header with obviously synthetic patient/study fields and a double-oblique short-axis geometry."""
    a, b = math.radians(35.0), math.radians(-50.0)
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    rot = rz @ rx

    def vec(i: int) -> tuple[float, float, float]:
        return (round(float(rot[0, i]), 6), round(float(rot[1, i]), 6), round(float(rot[2, i]), 6))

    geometry = tuple(
        SliceGeometry(
            position=(12.5, -20.0, 35.0 + i * thickness), read_dir=vec(0), phase_dir=vec(1), slice_dir=vec(2)
        )
        for i in range(n_slices)
    )
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
        sequence={"TR_ms": tr_ms, "TE_ms": 1.5, "flip_deg": 50.0, "field_T": 1.5},
    )

"""Non-Cartesian operator and density compensation against independent references (numpy FFT, sigpy, BART).

The operator contract (adjoint, normal, autograd, dtypes, devices) is tested in
``tests/ops/test_operator_contract.py``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import sigpy
import sigpy.mri
import torch

from recon_cli.ops.nufft import (
    NonCartesianSense,
    available_backends,
    default_backend,
    nufft_adjoint,
    nufft_forward,
    pipe_menon_dcf,
    ramp_dcf,
)
from recon_cli.ops.nufft_backends import BACKENDS
from recon_cli.phantoms import shepp_logan
from recon_cli.sampling import golden_angle_radial
from tests.helpers import bart, correlation, nrmse, read_cfl, write_cfl


def _complex(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    return torch.complex(torch.randn(shape, generator=gen), torch.randn(shape, generator=gen))


@pytest.mark.parametrize("backend", BACKENDS)
def test_nufft_equals_numpy_fft_on_cartesian_points(rng: torch.Generator, backend: str) -> None:
    """Scaling and (ky, kx) order: on a non-square Cartesian grid the NUFFT is the centred orthonormal FFT."""
    ny, nx = 24, 32
    image = _complex((1, 1, ny, nx), rng)
    ky, kx = np.meshgrid(np.arange(ny) - ny // 2, np.arange(nx) - nx // 2, indexing="ij")
    radians = np.stack([ky.ravel() * 2 * np.pi / ny, kx.ravel() * 2 * np.pi / nx])
    traj = torch.from_numpy(radians).float()[None]
    ours = nufft_forward(image, traj, backend=backend).reshape(ny, nx).numpy()
    x = image[0, 0].numpy()
    reference = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x), norm="ortho"))
    assert np.linalg.norm(ours - reference) / np.linalg.norm(reference) < 1e-4


def test_default_backend_is_finufft_on_cpu() -> None:
    assert available_backends("cpu") == ["finufft", "torchkbnufft"]
    assert default_backend("cpu") == "finufft"
    assert NonCartesianSense(2, (8, 8), torch.zeros(1, 2, 4)).backend_for(torch.device("cpu")) == "finufft"


def test_backends_agree(rng: torch.Generator) -> None:
    """FINUFFT and torchkbnufft (two independent NUFFTs) agree on forward and adjoint to ~1e-3."""
    n, coils, frames = 48, 3, 2
    traj = torch.from_numpy(golden_angle_radial(21, frames, 2 * n))
    image = _complex((frames, coils, n, n), rng)
    kspace = _complex((frames, coils, traj.shape[-1]), rng)
    ops = {b: NonCartesianSense(coils, (n, n), traj, backend=b) for b in BACKENDS}
    forward = {b: op(image) for b, op in ops.items()}
    adjoint = {b: op.adjoint(kspace) for b, op in ops.items()}
    assert nrmse(forward["torchkbnufft"].numpy(), forward["finufft"].numpy()) < 2e-3
    assert nrmse(adjoint["torchkbnufft"].numpy(), adjoint["finufft"].numpy()) < 2e-3


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_toeplitz_normal_equals_the_exact_dft(rng: torch.Generator, backend: str, weighted: bool) -> None:
    """A^H D A from the Toeplitz embedding against the dense DFT matrix, odd and even non-square sizes."""
    ny, nx, frames = 11, 14, 2
    traj = torch.from_numpy(golden_angle_radial(5, frames, 24))
    dcf = torch.rand((frames, 1, traj.shape[-1]), generator=rng, dtype=torch.float32) + 0.5
    op = NonCartesianSense(1, (ny, nx), traj, dcf=dcf, backend=backend)
    x = _complex((frames, 1, ny, nx), rng)
    y, x_ = np.mgrid[:ny, :nx]
    positions = np.stack([(y - ny // 2).ravel(), (x_ - nx // 2).ravel()])  # image index minus centre
    expected = []
    for f in range(frames):
        dft = np.exp(-1j * traj[f].double().numpy().T @ positions) / math.sqrt(ny * nx)  # (samples, pixels)
        weights = dcf[f, 0].double().numpy() if weighted else np.ones(dft.shape[0])
        expected.append(dft.conj().T @ (weights * (dft @ x[f].ravel().numpy())))
    ours = op.normal(x, weighted=weighted).reshape(frames, -1).numpy()
    assert nrmse(ours, np.stack(expected)) < 1e-4


@pytest.mark.parametrize("exact", [False, True], ids=["bart-nufft", "bart-dft"])
def test_forward_matches_bart_nufft(tmp_path: Path, rng: torch.Generator, exact: bool) -> None:
    """Against ``bart nufft`` (and its exact DFT, ``-s``) on BART's own radial trajectory: the same data up
    to BART's scale (1 for its NUFFT, sqrt(pixels) for its DFT), and the right orientation.

    BART's trajectory is in samples (cycles per FOV), (x, y, z) order, x being BART's first (fastest)
    image dimension, which is our last axis; ours is radians/voxel in (ky, kx) order.
    """
    n = 64
    bart("traj", "-r", "-x", str(n), "-y", "31", tmp_path / "traj")
    bart_traj = read_cfl(tmp_path / "traj").real  # (3, samples, spokes)
    image = _complex((n, n), rng).numpy()
    image[: n // 4, n // 2 :] += 4.0  # a bright quadrant (top right) makes flips and transposes obvious
    write_cfl(tmp_path / "img", image.T)  # BART dims (x, y) = our (nx, ny)
    flags = ["-s"] if exact else []
    bart("nufft", *flags, "-d", f"{n}:{n}:1", tmp_path / "traj", tmp_path / "img", tmp_path / "ksp")
    theirs = read_cfl(tmp_path / "ksp").reshape(-1, order="F")  # samples fastest, as our flattening
    kx, ky = (bart_traj[i].reshape(-1, order="F") * 2 * np.pi / n for i in (0, 1))
    for order, expect_match in (((ky, kx), True), ((kx, ky), False)):
        traj = torch.from_numpy(np.stack(order)).float()[None]
        ours = nufft_forward(torch.from_numpy(image)[None, None], traj)[0, 0].numpy()
        scale = np.vdot(ours, theirs) / np.vdot(ours, ours)  # least-squares complex scalar
        assert (nrmse(scale * ours, theirs) < (1e-4 if exact else 1e-2)) == expect_match


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


def test_pipe_menon_with_finufft_spreading_grids_like_torchkbnufft() -> None:
    """The FINUFFT spread/interpolate-only weights (CPU path) against torchkbnufft's own Pipe-Menon."""
    import torchkbnufft as tkbn

    from recon_cli.ops.nufft import _normalise_dcf

    n = 96
    image = torch.as_tensor(shepp_logan(n)).to(torch.complex64)[None, None].expand(3, 1, n, n)
    traj = torch.as_tensor(golden_angle_radial(21, 3, 2 * n)).float()
    fast = pipe_menon_dcf(traj, (n, n))
    reference = tkbn.calc_density_compensation_function(traj, im_size=(n, n), num_iterations=10).real
    reference = _normalise_dcf(reference.reshape(fast.shape), traj, (n, n))
    assert fast.shape == (3, 1, traj.shape[-1]) and bool((fast > 0).all())
    assert correlation(fast.flatten().numpy(), reference.flatten().numpy()) > 0.999
    kspace = nufft_forward(image, traj)
    truth = image.abs().numpy()
    errors = []
    for weights in (fast, reference):
        gridded = nufft_adjoint(kspace, traj, (n, n), weights).abs().numpy()
        errors.append(nrmse(gridded * np.vdot(gridded, truth) / np.vdot(gridded, gridded), truth))
    assert abs(errors[0] - errors[1]) < 0.01 * errors[1], errors  # the same gridding


def test_finufft_takes_a_trajectory_made_under_inference_mode(rng: torch.Generator) -> None:
    """Inference tensors keep no version counter; the plan cache keys them by their values instead, and a
    new trajectory in the same memory still gets new plans."""
    n, frames = 32, 2
    image = _complex((frames, 1, n, n), rng)
    traj = torch.from_numpy(golden_angle_radial(9, frames, 2 * n))
    expected = nufft_forward(image, traj, backend="finufft")
    with torch.inference_mode():
        frozen = traj.clone()
        op = NonCartesianSense(1, (n, n), frozen, backend="finufft")
        got = op(image)
        frozen.mul_(0.5)  # same storage, other points: the cache must not reuse the old plans
        halved = op(image)
    assert torch.allclose(got, expected, atol=1e-5)
    assert torch.allclose(halved, nufft_forward(image, traj * 0.5, backend="finufft"), atol=1e-5)

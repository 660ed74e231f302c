"""Solvers and regularisers against independent references: dense linear algebra, pywt, optimality."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch

from recon_cli.solvers.convergence import relative_norm
from recon_cli.solvers.iterative import Splitting, admm, conjugate_gradient, fista, power_iteration
from recon_cli.solvers.regularizers import (
    Wavelet2d,
    huber_tv_gradient,
    soft_threshold,
    temporal_difference,
    temporal_difference_adjoint,
    temporal_difference_gram,
    wavelet_soft_threshold,
)


def _complex(shape: tuple[int, ...], gen: torch.Generator, dtype=torch.complex128) -> torch.Tensor:
    real = torch.randn((*shape, 2), generator=gen, dtype=torch.float64)
    return torch.view_as_complex(real).to(dtype)


def _spd_batch(n: int, batch: int, gen: torch.Generator) -> torch.Tensor:
    """(batch, n, n) Hermitian positive definite, condition number ~ 10^2."""
    b = _complex((batch, n, n), gen)
    return b.conj().transpose(-2, -1) @ b / n + 0.1 * torch.eye(n, dtype=torch.complex128)


def test_cg_solves_complex_spd_systems(device: torch.device, rng: torch.Generator) -> None:
    mats = _spd_batch(24, 3, rng).to(device)
    rhs = _complex((3, 24), rng).to(device)
    result = conjugate_gradient(
        lambda x: (mats @ x.unsqueeze(-1)).squeeze(-1), rhs, max_iter=200, tol=1e-10, batch_dims=1
    )
    expected = torch.linalg.solve(mats, rhs)
    assert torch.allclose(result.x, expected, rtol=0, atol=1e-8 * float(expected.abs().max()))
    assert result.residual <= 1e-10
    assert 1 <= result.iterations <= 60  # exact arithmetic: at most n; rounding adds a few


def test_cg_batch_stops_each_system_at_its_tolerance(rng: torch.Generator) -> None:
    """An already solved system in the batch stays put while the others iterate."""
    mats = _spd_batch(16, 2, rng)
    truth = _complex((2, 16), rng)
    rhs = (mats @ truth.unsqueeze(-1)).squeeze(-1)
    start = torch.stack([truth[0], torch.zeros_like(truth[1])])
    result = conjugate_gradient(
        lambda x: (mats @ x.unsqueeze(-1)).squeeze(-1), rhs, start, max_iter=100, tol=1e-9, batch_dims=1
    )
    assert torch.equal(result.x[0], truth[0])
    assert torch.allclose(result.x[1], truth[1], atol=1e-7)


def test_cg_complex64_and_iteration_cap(rng: torch.Generator) -> None:
    mats = _spd_batch(32, 1, rng)[0].to(torch.complex64)
    rhs = _complex((32,), rng, torch.complex64)
    result = conjugate_gradient(lambda x: mats @ x, rhs, max_iter=5, tol=0.0)
    assert result.iterations == 5 and result.x.dtype == torch.complex64


def test_power_iteration_finds_the_largest_eigenvalue(rng: torch.Generator) -> None:
    mat = _spd_batch(20, 1, rng)[0]
    top = float(torch.linalg.eigvalsh(mat)[-1])
    estimate = power_iteration(lambda x: mat @ x, torch.zeros(20, dtype=torch.complex128), iterations=200)
    assert estimate == pytest.approx(top, rel=1e-3)
    assert estimate <= top * (1 + 1e-12)


def _lasso(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, float]:
    a = _complex((40, 60), gen) / np.sqrt(40)
    x_true = torch.zeros(60, dtype=torch.complex128)
    x_true[torch.randperm(60, generator=gen)[:6]] = _complex((6,), gen)
    return a, a @ x_true + 0.01 * _complex((40,), gen), 0.05


@functools.cache
def _lasso_reference() -> np.ndarray:
    a, b, lam = _lasso(torch.Generator().manual_seed(1234))
    return _ista_reference(a.numpy(), b.numpy(), lam)


def _ista_reference(a: np.ndarray, b: np.ndarray, lam: float, iterations: int = 20000) -> np.ndarray:
    """Plain ISTA in NumPy: slow, but independent of the torch code under test."""
    step = 1.0 / np.linalg.norm(a, 2) ** 2
    x = np.zeros(a.shape[1], dtype=complex)
    for _ in range(iterations):
        v = x - step * (a.conj().T @ (a @ x - b))
        x = v * np.maximum(1 - step * lam / np.maximum(np.abs(v), 1e-300), 0)
    return x


def test_fista_solves_complex_lasso(rng: torch.Generator) -> None:
    a, b, lam = _lasso(rng)
    lipschitz = float(torch.linalg.matrix_norm(a, 2)) ** 2
    result = fista(
        lambda x: a.conj().T @ (a @ x - b),
        lambda v, t: soft_threshold(v, t * lam),
        torch.zeros(60, dtype=torch.complex128),
        step=1.0 / lipschitz,
        max_iter=3000,
    )
    reference = _lasso_reference()
    assert np.abs(result.x.numpy() - reference).max() < 1e-6
    # optimality: A^H (b - A x) = lam x / |x| on the support, |.| <= lam off it
    corr = (a.conj().T @ (b - a @ result.x)).numpy()
    on = np.abs(result.x.numpy()) > 1e-8
    assert np.allclose(corr[on], lam * result.x.numpy()[on] / np.abs(result.x.numpy()[on]), atol=1e-6)
    assert np.all(np.abs(corr[~on]) <= lam + 1e-6)


def test_admm_reaches_the_same_lasso_solution(rng: torch.Generator) -> None:
    a, b, lam = _lasso(rng)
    split = Splitting(lambda x: x, lambda z: z, lambda v, t: soft_threshold(v, t * lam))
    result = admm(
        lambda x: a.conj().T @ (a @ x),
        a.conj().T @ b,
        torch.zeros(60, dtype=torch.complex128),
        [split],
        rho=0.5,
        max_iter=300,
        cg_iter=20,
    )
    assert np.abs(result.x.numpy() - _lasso_reference()).max() < 1e-5


def test_fista_stops_at_tolerance(rng: torch.Generator) -> None:
    a, b, lam = _lasso(rng)
    result = fista(
        lambda x: a.conj().T @ (a @ x - b),
        lambda v, t: soft_threshold(v, t * lam),
        torch.zeros(60, dtype=torch.complex128),
        step=1.0 / float(torch.linalg.matrix_norm(a, 2)) ** 2,
        max_iter=5000,
        tol=1e-6,
    )
    assert result.iterations < 5000 and result.residual <= 1e-6


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128, torch.float32])
def test_relative_norm_matches_numpy(dtype: torch.dtype, rng: torch.Generator) -> None:
    a = torch.randn(3, 7, 5, generator=rng, dtype=torch.complex128).to(dtype)
    b = torch.randn(3, 7, 5, generator=rng, dtype=torch.complex128).to(dtype)
    expected = np.linalg.norm((a - b).numpy().ravel()) / np.linalg.norm(b.numpy().ravel())
    assert relative_norm(a - b, b) == pytest.approx(expected, rel=1e-5)
    # a zero reference is floored at the smallest normal number, not divided by
    zero = torch.zeros_like(b)
    assert relative_norm(zero, zero) == 0.0
    floor = torch.finfo(torch.linalg.vector_norm(zero).dtype).tiny
    small = a * 1e-36  # so that the ratio stays finite in float32
    expected_small = float(torch.linalg.vector_norm(small)) / floor
    assert relative_norm(small, zero) == pytest.approx(expected_small, rel=1e-4)
    assert math.isnan(relative_norm(a * float("nan"), b))


@pytest.mark.parametrize("name", ["haar", "db2", "db4", "sym4"])
def test_wavelet_is_orthonormal(name: str, device: torch.device, rng: torch.Generator) -> None:
    wavelet = Wavelet2d(name, levels=3).to(device)
    x = _complex((2, 3, 64, 48), rng).to(device)
    coeffs = wavelet(x)
    assert coeffs.shape == x.shape and coeffs.dtype == x.dtype
    assert torch.allclose(wavelet.adjoint(coeffs), x, atol=1e-9)  # perfect reconstruction
    # (pywt's sym/db filters are orthonormal to ~1e-11 for the longer ones)
    assert float(coeffs.abs().pow(2).sum() / x.abs().pow(2).sum()) == pytest.approx(1.0, abs=1e-9)
    other = _complex((2, 3, 64, 48), rng).to(device)  # <W x, c> = <x, W^H c>
    lhs, rhs = (
        torch.vdot(coeffs.flatten(), other.flatten()),
        torch.vdot(x.flatten(), wavelet.adjoint(other).flatten()),
    )
    assert abs(complex(lhs - rhs)) < 1e-10 * abs(complex(lhs))


def test_wavelet_matches_pywt_periodization(rng: torch.Generator) -> None:
    import pywt

    x = torch.randn(64, 32, generator=rng, dtype=torch.float64)
    expected, _ = pywt.coeffs_to_array(pywt.wavedec2(x.numpy(), "db4", mode="periodization", level=2))
    assert np.abs(Wavelet2d("db4", levels=2)(x).numpy() - expected).max() < 1e-12


def test_wavelet_complex64_and_shape_errors(rng: torch.Generator) -> None:
    wavelet = Wavelet2d("db2", levels=4)
    x = _complex((1, 64, 64), rng, torch.complex64)
    assert (wavelet.adjoint(wavelet(x)) - x).abs().max() < 1e-5
    assert wavelet.padded_shape((100, 64)) == (112, 64)
    with pytest.raises(ValueError, match="pad it to"):
        wavelet(torch.zeros(1, 100, 64, dtype=torch.complex64))
    with pytest.raises(ValueError, match="not orthogonal"):
        Wavelet2d("bior2.2")


def test_soft_threshold_keeps_phase_and_shrinks_magnitude() -> None:
    z = torch.tensor([3 + 4j, 0.3 - 0.4j, 0j], dtype=torch.complex128)
    out = soft_threshold(z, 1.0)
    assert torch.allclose(out, torch.tensor([2.4 + 3.2j, 0, 0], dtype=torch.complex128))


@pytest.mark.parametrize("shift", [(0, 0), (3, 5)])
def test_wavelet_soft_threshold_is_the_exact_prox(shift: tuple[int, int], rng: torch.Generator) -> None:
    """p = prox(v) minimises t ||W_detail R p||_1 + 1/2 ||p - v||^2: no perturbation does better."""
    wavelet, t = Wavelet2d("db2", levels=2), 0.3
    v = _complex((16, 16), rng)
    mask = wavelet.detail_mask((16, 16))

    def objective(p: torch.Tensor) -> float:
        coeffs = wavelet(torch.roll(p, shift, dims=(-2, -1)))
        return float(t * coeffs.abs()[mask].sum() + 0.5 * (p - v).abs().pow(2).sum())

    p = wavelet_soft_threshold(wavelet, v, t, shift=shift)
    best = objective(p)
    for _ in range(50):
        assert objective(p + 1e-3 * _complex((16, 16), rng)) > best


def test_temporal_difference_adjoint_and_gram(rng: torch.Generator) -> None:
    x, d = _complex((7, 5, 4), rng), _complex((6, 5, 4), rng)
    lhs = torch.vdot(temporal_difference(x).flatten(), d.flatten())
    rhs = torch.vdot(x.flatten(), temporal_difference_adjoint(d).flatten())
    assert abs(complex(lhs - rhs)) < 1e-12 * abs(complex(lhs))
    assert torch.allclose(temporal_difference_gram(x), temporal_difference_adjoint(temporal_difference(x)))
    flat = torch.ones(7, 5, 4, dtype=torch.complex128)
    assert temporal_difference_gram(flat).abs().max() == 0


def test_huber_tv_gradient_matches_autograd(rng: torch.Generator) -> None:
    mu = 0.5
    x = _complex((6, 3, 3), rng).requires_grad_(True)
    mag = temporal_difference(x).abs()
    value = torch.where(mag <= mu, mag**2 / (2 * mu), mag - mu / 2).sum()
    (grad,) = torch.autograd.grad(value, x)  # torch's complex gradient is the conjugate Wirtinger x 2
    assert torch.allclose(huber_tv_gradient(x.detach(), mu), grad, atol=1e-12)

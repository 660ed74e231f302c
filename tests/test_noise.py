"""Noise covariance and prewhitening against independent numpy computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recon_cli.noise import noise_covariance, prewhiten, whitening_matrix


def _correlated_noise(
    coils: int, n: int, seed: int, draw_seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Complex Gaussian noise with covariance M M^H. Returns (samples (coils, n), M (coils, coils)).

    ``seed`` fixes the mixing matrix M; ``draw_seed`` (default ``seed``) the white noise drawn.
    """
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(coils, coils)) + 1j * rng.normal(size=(coils, coils))
    mixing = np.eye(coils) + 0.4 * mixing  # strongly correlated but well conditioned
    if draw_seed is not None:
        rng = np.random.default_rng(draw_seed)
    white = (rng.normal(size=(coils, n)) + 1j * rng.normal(size=(coils, n))) / np.sqrt(2)
    return (mixing @ white).astype(np.complex64), mixing


def test_covariance_matches_numpy_and_truth() -> None:
    samples, mixing = _correlated_noise(8, 50_000, seed=0)
    cov = noise_covariance(torch.from_numpy(samples)).numpy()
    x = samples.astype(np.complex128)
    assert cov.dtype == np.complex64 and cov.shape == (8, 8)
    np.testing.assert_allclose(cov, x @ x.conj().T / x.shape[1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(cov, cov.conj().T)
    truth = mixing @ mixing.conj().T
    assert np.abs(cov - truth).max() < 0.05 * np.abs(truth).max()


def test_prewhitening_gives_identity_covariance() -> None:
    samples, _ = _correlated_noise(8, 50_000, seed=1)
    cov = noise_covariance(torch.from_numpy(samples))
    w = whitening_matrix(cov)
    # Independent reference: W = inverse of numpy's Cholesky factor.
    w_ref = np.linalg.inv(np.linalg.cholesky(cov.numpy().astype(np.complex128)))
    np.testing.assert_allclose(w.numpy(), w_ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.triu(w.numpy(), 1), 0)
    # The same samples whiten exactly; fresh samples from the same distribution approximately.
    white = prewhiten(torch.from_numpy(samples), w, coil_dim=0).numpy().astype(np.complex128)
    np.testing.assert_allclose(white @ white.conj().T / white.shape[1], np.eye(8), atol=1e-4)
    fresh, _ = _correlated_noise(8, 50_000, seed=1, draw_seed=7)  # same mixing, new draw
    white = prewhiten(torch.from_numpy(fresh), w, coil_dim=0).numpy().astype(np.complex128)
    emp = white @ white.conj().T / white.shape[1]
    assert np.abs(emp - np.eye(8)).max() < 0.05


def test_prewhiten_acts_on_coil_axis_of_kspace() -> None:
    rng = np.random.default_rng(2)
    kspace = (rng.normal(size=(2, 3, 4, 5, 6)) + 1j * rng.normal(size=(2, 3, 4, 5, 6))).astype(np.complex64)
    w = (rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))).astype(np.complex64)
    out = prewhiten(torch.from_numpy(kspace), torch.from_numpy(w), coil_dim=2).numpy()
    np.testing.assert_allclose(out, np.einsum("cd,sfdyx->sfcyx", w, kspace), rtol=1e-4, atol=1e-5)
    assert out.shape == kspace.shape and out.dtype == np.complex64


def test_rank_deficient_covariance_is_loaded_and_bad_inputs_rejected() -> None:
    samples, _ = _correlated_noise(8, 4, seed=3)  # fewer samples than coils: singular covariance
    w = whitening_matrix(noise_covariance(torch.from_numpy(samples)))
    assert torch.isfinite(torch.view_as_real(w)).all()
    with pytest.raises(ValueError):
        noise_covariance(torch.zeros(8, 0, dtype=torch.complex64))
    with pytest.raises(ValueError):
        whitening_matrix(torch.zeros(3, 4, dtype=torch.complex64))
    with pytest.raises(ValueError):
        whitening_matrix(torch.zeros(3, 3, dtype=torch.complex64))
    with pytest.raises(ValueError):
        prewhiten(torch.zeros(1, 1, 3, 2, 2, dtype=torch.complex64), torch.eye(4, dtype=torch.complex64))

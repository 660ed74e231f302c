"""Iterative feature refinement: ``ifr-cs``, ``ifr-net``, ``admm-net`` and their shared pieces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.fft
import torch
from typer.testing import CliRunner

from recon_cli.cli.main import app
from recon_cli.errors import ModelError
from recon_cli.metrics import compute_metrics
from recon_cli.nn.data_consistency import tikhonov_dc
from recon_cli.nn.dct import dct_filter_bank
from recon_cli.nn.shrinkage import PiecewiseLinearShrink
from recon_cli.ops.cartesian import CartesianSense
from recon_cli.ops.functional import fft2c
from recon_cli.ops.nufft import NonCartesianSense
from recon_cli.phantoms import cardiac_cine_phantom, coil_maps, simulate_cartesian, simulate_radial_cine
from recon_cli.registry import load_plugin, resolve_config
from recon_cli.sampling import cartesian_mask, golden_angle_radial
from recon_cli.train.config import TrainConfig
from recon_cli.train.objective import reconstruction_loss

runner = CliRunner()
TINY = {"ifr-net": {"stages": 2, "blocks": 1, "points": 21}, "admm-net": {"stages": 2, "points": 21}}


def _model(name: str, **overrides: object) -> torch.nn.Module:
    plugin = load_plugin(name)
    torch.manual_seed(0)
    return plugin.build(resolve_config(plugin, {**TINY.get(name, {}), **overrides}))


@pytest.fixture(scope="module")
def brain() -> torch.Tensor:
    """Four held-out brain-template slices, (4, 32, 32) float32."""
    from recon_cli.phantoms.anatomy import brain_slices

    return brain_slices(32, "test")[10:14]


def _single_coil(
    images: torch.Tensor, kind: str = "pseudo-radial", fraction: float = 0.25, phase: bool = False
):
    """Noise-free single-coil Cartesian data of ``images`` (frames, ny, nx): (kspace, op, truth)."""
    shape = tuple(images.shape[-2:])
    mask = torch.from_numpy(cartesian_mask(kind, shape, 1 / fraction, 0.08, 0, 1))[:, None]
    truth = images.to(torch.complex64)
    if phase:
        y, x = torch.meshgrid(torch.linspace(-1, 1, shape[0]), torch.linspace(-1, 1, shape[1]), indexing="ij")
        truth = truth * torch.polar(torch.ones(shape), 1.5 * x + 0.7 * y * x)
    kspace = fft2c(truth)[:, None] * mask
    return kspace, CartesianSense((1, *shape), mask=mask), truth


# --- shared pieces ------------------------------------------------------------------------------------


def test_shrinkage_is_exact_at_control_points_and_interpolates_like_numpy() -> None:
    shrink = PiecewiseLinearShrink(3, points=11, threshold=0.1)
    with torch.no_grad():
        shrink.values.copy_(torch.randn(3, 11, generator=torch.Generator().manual_seed(1)))
    p, q = shrink.positions.numpy(), shrink.values.detach().numpy()
    at_points = shrink(shrink.positions.repeat(1, 3, 1)).detach().numpy()[0]
    np.testing.assert_allclose(at_points, q, atol=1e-6)
    x = torch.rand(2, 3, 50, generator=torch.Generator().manual_seed(2)) * 2 - 1
    out = shrink(x).detach().numpy()
    for c in range(3):
        np.testing.assert_allclose(out[:, c], np.interp(x[:, c].numpy(), p, q[c]), atol=1e-5)


def test_shrinkage_continues_with_slope_one_outside_the_control_points() -> None:
    shrink = PiecewiseLinearShrink(2, points=5, threshold=0.2)
    with torch.no_grad():
        shrink.values.copy_(torch.randn(2, 5, generator=torch.Generator().manual_seed(3)))
    q = shrink.values.detach()
    x = torch.tensor([-7.0, -3.0, -1.5, 1.25, 2.0, 9.0]).repeat(1, 2, 1)
    out = shrink(x).detach()[0]
    expected_low = x[0, :, :3] + 1.0 + q[:, :1]  # x - p_1 + q_1 with p_1 = -1
    expected_high = x[0, :, 3:] - 1.0 + q[:, -1:]  # x - p_N + q_N with p_N = 1
    torch.testing.assert_close(out[:, :3], expected_low)
    torch.testing.assert_close(out[:, 3:], expected_high)
    # initialised as a soft threshold; gradients reach the values
    fresh = PiecewiseLinearShrink(1, points=101, threshold=0.1)
    z = torch.tensor([[[-3.0, -0.5, 0.05, 0.4, 2.0]]])
    torch.testing.assert_close(fresh(z), torch.sign(z) * (z.abs() - 0.1).clamp_min(0), atol=1e-6, rtol=0)
    fresh(z).sum().backward()
    assert fresh.values.grad is not None and fresh.values.grad.abs().sum() > 0


def test_dct_filter_bank_is_orthonormal_and_matches_scipy() -> None:
    bank = dct_filter_bank(3)
    matrix = bank.reshape(9, 9)
    torch.testing.assert_close(matrix @ matrix.T, torch.eye(9, dtype=torch.float64))
    patch = np.random.default_rng(0).standard_normal((3, 3))
    np.testing.assert_allclose(
        np.einsum("kmn,mn->k", bank.numpy(), patch), scipy.fft.dctn(patch, norm="ortho").ravel(), atol=1e-12
    )
    assert torch.allclose(bank[0], torch.full((3, 3), 1 / 3, dtype=torch.float64))


def test_dct_initialised_ifr_block_is_the_identity_without_shrinkage() -> None:
    from recon_plugins.ifr_net.config import IfrNetConfig
    from recon_plugins.ifr_net.model import DenoisingBlock

    block = DenoisingBlock(2, IfrNetConfig(threshold=0.0))
    u = torch.randn(2, 2, 12, 12, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(block(u)[..., 1:-1, 1:-1], u[..., 1:-1, 1:-1], atol=1e-5, rtol=0)


def test_closed_form_data_consistency_matches_conjugate_gradients() -> None:
    """Two coils with maps 1/sqrt(2) have the single coil's normal matrix, but no closed-form path."""
    gen = torch.Generator().manual_seed(5)
    mask = torch.from_numpy(cartesian_mask("random-2d", (16, 16), 3.0, 0.1, 0, 1))[:, None]
    truth = torch.randn(2, 16, 16, dtype=torch.complex64, generator=gen)
    z = torch.randn(2, 16, 16, dtype=torch.complex64, generator=gen)
    one = CartesianSense((1, 16, 16), mask=mask)
    two = CartesianSense((2, 16, 16), mask=mask, maps=torch.full((2, 16, 16), 2**-0.5, dtype=torch.complex64))
    closed = tikhonov_dc(z, one(truth[:, None]), one, 0.3)
    iterative = tikhonov_dc(z, two(truth), two, 0.3, cg_iterations=100)
    torch.testing.assert_close(closed, iterative, atol=2e-5, rtol=0)
    # the normal equations hold: (A^H A + rho) x = A^H y + rho z
    lhs = one.normal(closed[:, None])[:, 0] + 0.3 * closed
    torch.testing.assert_close(lhs, one.adjoint(one(truth[:, None]))[:, 0] + 0.3 * z, atol=2e-5, rtol=0)


def test_admm_reconstruction_layer_closed_form_matches_conjugate_gradients() -> None:
    from recon_plugins.admm_net.config import AdmmNetConfig
    from recon_plugins.admm_net.model import ReconstructionLayer

    torch.manual_seed(6)
    layer = ReconstructionLayer(AdmmNetConfig(complex=True, init="random", cg_iterations=200))
    mask = torch.from_numpy(cartesian_mask("random-2d", (16, 16), 3.0, 0.1, 0, 1))[:, None]
    truth = torch.randn(2, 1, 16, 16, dtype=torch.complex64)
    z, beta = torch.randn(4, 8, 16, 16), 0.1 * torch.randn(4, 8, 16, 16)
    one = CartesianSense((1, 16, 16), mask=mask)
    two = CartesianSense((2, 16, 16), mask=mask, maps=torch.full((2, 16, 16), 2**-0.5, dtype=torch.complex64))
    with torch.no_grad():
        closed = layer(one(truth), one, z, beta)
        iterative = layer(two(truth[:, 0]), two, z, beta)
    torch.testing.assert_close(closed, iterative, atol=1e-4, rtol=0)


def test_nmse_loss() -> None:
    target = torch.rand(1, 8, 8, generator=torch.Generator().manual_seed(7))
    output = (target + 0.1).to(torch.complex64)
    loss = reconstruction_loss(output, target, TrainConfig(loss="nmse"))
    expected = ((output.abs() - target) ** 2).sum() / (target**2).sum()
    torch.testing.assert_close(loss, expected)


# --- ifr-cs -------------------------------------------------------------------------------------------


def test_ifr_cs_improves_over_zero_filling_on_brain_slices(brain: torch.Tensor) -> None:
    kspace, op, truth = _single_coil(brain, "pseudo-radial", 0.25)
    model = _model("ifr-cs", iterations=40)
    out = model(kspace, op)
    assert out.shape == truth.shape and out.dtype == torch.complex64
    zero_filled = op.adjoint(kspace)[:, 0]
    ref = truth.abs().numpy()
    before = compute_metrics(zero_filled.abs().numpy(), ref)
    after = compute_metrics(out.abs().numpy(), ref)
    assert after["psnr"] > before["psnr"] + 3.0 and after["ssim"] > before["ssim"], (before, after)


def test_ifr_cs_uses_coil_maps_for_multicoil_data() -> None:
    gen = torch.Generator().manual_seed(8)
    image = cardiac_cine_phantom(32, 1, generator=gen)
    maps = coil_maps(4, (32, 32), generator=gen)
    mask = torch.from_numpy(cartesian_mask("random-2d", (32, 32), 3.0, 0.1, 0, 1))[:, None]
    scan = simulate_cartesian(image, maps, snr=60.0, generator=gen, mask=mask)
    model = _model("ifr-cs", iterations=20, cg_iterations=5)
    with pytest.raises(ModelError, match="coil maps"):
        model(scan.kspace[0], CartesianSense((4, 32, 32), mask=mask))
    op = CartesianSense((4, 32, 32), mask=mask, maps=maps)
    out = model(scan.kspace[0], op)
    error = (out.abs() - image.abs()).norm() / image.abs().norm()
    baseline = (op.adjoint(scan.kspace[0]).abs() - image.abs()).norm() / image.abs().norm()
    assert error < 0.8 * baseline, (float(error), float(baseline))


# --- ifr-net and admm-net -----------------------------------------------------------------------------


@pytest.mark.parametrize("complex_mode", [False, True])
@pytest.mark.parametrize("name", ["ifr-net", "admm-net"])
def test_a_few_training_steps_lower_the_nmse_loss(name: str, complex_mode: bool, brain: torch.Tensor) -> None:
    kspace, op, truth = _single_coil(brain, "pseudo-radial", 0.2, phase=complex_mode)
    model = _model(name, complex=complex_mode)
    config = TrainConfig(loss="nmse", loss_on="complex" if complex_mode else "magnitude")
    target = truth if complex_mode else truth.abs()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(8):
        loss = reconstruction_loss(model(kspace, op), target, config)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.8 * losses[0], losses
    out = model(kspace, op)
    assert out.shape == truth.shape and out.dtype == torch.complex64
    assert bool((out.imag == 0).all()) != complex_mode  # real mode returns real images


@pytest.mark.parametrize("name", ["ifr-net", "admm-net"])
def test_random_initialisation_and_multicoil_operator(name: str) -> None:
    gen = torch.Generator().manual_seed(9)
    image = cardiac_cine_phantom(16, 2, generator=gen)
    maps = coil_maps(3, (16, 16), generator=gen)
    mask = torch.from_numpy(cartesian_mask("random", (16, 16), 2.0, 0.2, 0, 2))[:, None]
    scan = simulate_cartesian(image, maps, snr=40.0, generator=gen, mask=mask)
    model = _model(name, init="random", complex=True, cg_iterations=3)
    out = model(scan.kspace[0], CartesianSense((3, 16, 16), mask=mask, maps=maps))
    assert out.shape == (2, 16, 16) and torch.isfinite(out.real).all()


@pytest.mark.parametrize("name", ["ifr-cs", "ifr-net", "admm-net"])
def test_radial_data_is_refused_with_a_clear_error(name: str) -> None:
    from recon_cli.reconstruct import load_model, reconstruct_scan

    gen = torch.Generator().manual_seed(10)
    image = cardiac_cine_phantom(16, 1, generator=gen)
    maps = coil_maps(2, (16, 16), generator=gen)
    traj = torch.from_numpy(golden_angle_radial(8, 1, 32))
    scan = simulate_radial_cine(image, maps, traj, readout_length=32, snr=40.0, generator=gen)
    model = load_model(name, config=TINY.get(name, {}), device="cpu", allow_untrained=True)
    with pytest.raises(ModelError, match="does not support non-Cartesian"):
        reconstruct_scan(scan, model, maps=maps[None])
    with pytest.raises(ModelError, match="needs Cartesian data"):
        model.module(scan.kspace[0], NonCartesianSense(2, (16, 16), scan.traj[0], maps=maps))


@pytest.mark.parametrize("name", ["ifr-net", "admm-net"])
def test_recon_train_trains_the_networks_on_brain_slices(name: str, tmp_path: Path) -> None:
    from recon_cli.reconstruct import load_model

    out = tmp_path / name
    sets = [f"{k}={v}" for k, v in TINY[name].items()]
    sets += ["data.matrix=32", "data.coils=1", "data.mask=pseudo-radial", "data.acceleration=4"]
    args = ["train", "--model", name, "--data", "synthetic:brain", "--out", str(out), "--steps", "2"]
    args += ["--loss", "nmse", "--workers", "0", "--batch-size", "2"]
    for item in sets:
        args += ["--set", item]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (out / "last.pt").exists()
    trained = load_model(name, weights=out, device="cpu")
    kspace, op, _ = _single_coil(torch.ones(1, 32, 32))
    assert torch.isfinite(trained.module(kspace, op).real).all()

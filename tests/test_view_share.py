"""The view-shared (temporal-average) input of ``cunet``, ``alt-un`` and ``imunne`` against independent
references: sigpy's NUFFT adjoint on the concatenated trajectory, and numpy's FFT for Cartesian data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sigpy
import torch

from recon_cli.nn.cunet import CUNet
from recon_cli.nn.view_share import concatenated_trajectory, shared_density, temporal_average
from recon_cli.ops.cartesian import CartesianSense
from recon_cli.registry import load_plugin, resolve_config
from recon_cli.train.config import DataConfig
from recon_cli.train.examples import operator_for
from recon_cli.train.synthetic import SyntheticCine

N, FRAMES, COILS, SPOKES = 32, 4, 4, 8
MODELS = {"cunet": {}, "alt-un": {"blocks": 2}, "imunne": {"iterations": 3, "tol": 0.0}}


@pytest.fixture(scope="module")
def radial() -> dict:
    """One seeded synthetic radial cine example with its true coil maps."""
    config = DataConfig(matrix=N, frames=FRAMES, coils=COILS, spokes=SPOKES)
    return SyntheticCine("radial", config, seed=3, length=1, fresh=False, needs_maps=True)[(0, 0)]


def _nrmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_radial_average_is_sigpys_adjoint_on_all_spokes(radial: dict) -> None:
    """All frames' spokes gridded at once: sigpy's adjoint NUFFT of the same weighted samples on the
    trajectory concatenated frame by frame (built here from the per-frame trajectories), coil-combined
    with conj(maps), in sigpy's own units (samples per FOV, (y, x) order)."""
    ours = temporal_average(radial["kspace"], operator_for(radial), "test")
    assert ours.shape == (1, N, N) and ours.dtype == torch.complex64
    traj, kspace, maps = (radial[k].numpy() for k in ("traj", "kspace", "maps"))
    coord = np.concatenate([traj[f].T for f in range(FRAMES)]) * N / (2 * math.pi)
    samples = np.concatenate([kspace[f] for f in range(FRAMES)], axis=1)  # (coils, frames * samples)
    weights = shared_density(concatenated_trajectory(radial["traj"], FRAMES), (N, N))[0, 0].numpy()
    coil_images = sigpy.nufft_adjoint(samples * weights, coord.astype(np.float32), oshape=(COILS, N, N))
    theirs = (np.conj(maps) * coil_images).sum(0)
    yy, xx = np.mgrid[:N, :N] - N / 2
    inside = np.hypot(yy, xx) < N / 2  # sigpy's apodisation differs in the corners outside the FOV disc
    assert _nrmse(ours[0].numpy()[inside], theirs[inside]) < 5e-3  # scale included: no fitted factor


def test_view_shared_models_run_under_inference_mode(radial: dict) -> None:
    """``recon reconstruct`` runs models under ``torch.inference_mode``: the same image as without it."""
    model = _build("imunne", view_share=True).eval()
    op = operator_for(radial)
    with torch.no_grad():
        expected = model(radial["kspace"], op)
    with torch.inference_mode():
        got = model(radial["kspace"].clone(), operator_for(radial))
    torch.testing.assert_close(got, expected)


def test_radial_average_of_a_static_object_beats_every_frame(radial: dict) -> None:
    """Density compensation of the joint trajectory: for an object that does not move, gridding every
    frame's spokes together recovers it far better than any one frame's gridding, on the same scale."""
    op = operator_for(radial)
    static = radial["target"][0].to(torch.complex64).expand(FRAMES, N, N).contiguous()
    kspace = op(static)
    shared = temporal_average(kspace, op, "test")[0]
    frames = op.gridding(kspace)
    truth = (static[0] * op.maps.abs().square().sum(0)).numpy()  # coil-combined: times sum |S|^2
    assert _nrmse(shared.numpy(), truth) < 0.5 * min(_nrmse(f.numpy(), truth) for f in frames)
    # the same scale as the frames' gridding: both keep the DC level (the image's sum)
    assert abs(float(shared.real.sum()) / truth.real.sum() - 1) < 0.05
    assert abs(float(frames.real.sum(dim=(-2, -1)).mean()) / truth.real.sum() - 1) < 0.1


def test_cartesian_average_is_the_sampled_mean_of_each_location() -> None:
    """Each k-space location averaged over the frames that sampled it, then a centred orthonormal inverse
    FFT and conj(maps) coil combination, all in numpy."""
    rng = np.random.default_rng(7)
    frames, coils, ny, nx = 5, 3, 12, 10
    maps = (rng.standard_normal((coils, ny, nx)) + 1j * rng.standard_normal((coils, ny, nx))).astype(
        np.complex64
    )
    mask = rng.random((frames, 1, ny, nx)) < 0.4
    mask[:, :, 0, 0] = False  # one location no frame sampled
    kspace = rng.standard_normal((frames, coils, ny, nx)) + 1j * rng.standard_normal((frames, coils, ny, nx))
    kspace = (kspace * mask).astype(np.complex64)
    op = CartesianSense((coils, ny, nx), mask=torch.from_numpy(mask), maps=torch.from_numpy(maps))
    ours = temporal_average(torch.from_numpy(kspace), op, "test")[0].numpy()
    count = mask.sum(0)
    average = np.where(count > 0, kspace.sum(0) / np.maximum(count, 1), 0)
    axes = (-2, -1)
    coil_images = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(average, axes), norm="ortho"), axes)
    theirs = (np.conj(maps) * coil_images).sum(0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def _build(name: str, **extra: object) -> torch.nn.Module:
    plugin = load_plugin(name)
    torch.manual_seed(0)
    return plugin.build(resolve_config(plugin, {**MODELS[name], **extra}))


@pytest.mark.parametrize("name", list(MODELS))
def test_shipped_weights_fit_the_architecture_their_settings_name(name: str) -> None:
    """Off by default; the shipped weights say whether they were trained with the context channel, and
    with that setting the parameters are exactly theirs (and without it they are not)."""
    plugin = load_plugin(name)
    assert plugin.config_cls().view_share is False
    from importlib.resources import files

    package, filename = plugin.default_weights
    saved = torch.load(files(package) / filename, weights_only=True)
    state = saved.get("model", saved)
    trained = saved.get("config", {}).get("model_config", {}).get("view_share", False)
    expected = {k: tuple(v.shape) for k, v in state.items()}
    shapes = {k: tuple(v.shape) for k, v in _build(name, view_share=trained).state_dict().items()}
    assert shapes == expected
    other = {k: tuple(v.shape) for k, v in _build(name, view_share=not trained).state_dict().items()}
    assert other != expected


@pytest.mark.parametrize("name", list(MODELS))
def test_context_enters_only_through_its_own_weights(name: str, radial: dict) -> None:
    """With the context channel's weights zeroed and every other weight copied from a model without
    view sharing, the outputs agree: the extra channel changes nothing else; with its weights non-zero
    it changes the output and receives gradient in training."""
    plain, shared = _build(name).eval(), _build(name, view_share=True).eval()
    state = shared.state_dict()
    for key, value in plain.state_dict().items():
        if state[key].shape == value.shape:
            state[key] = value.clone()
        else:  # the first convolution: (out, 1 + 1 context, kt, ky, kx)
            state[key] = torch.cat([value, torch.zeros_like(value)], dim=1)
    shared.load_state_dict(state)
    op = operator_for(radial)
    with torch.no_grad():
        expected, got = plain(radial["kspace"], op), shared(radial["kspace"], op)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6 * float(expected.abs().max()))
    first = next(m for m in shared.modules() if isinstance(m, CUNet)).down[0][0]
    with torch.no_grad():
        first.weight_real[:, 1:] = 0.05
    shared.train()
    output = shared(radial["kspace"], op)
    assert not torch.allclose(output.detach(), expected, rtol=1e-3)
    output.abs().mean().backward()
    assert float(first.weight_real.grad[:, 1:].abs().sum()) > 0

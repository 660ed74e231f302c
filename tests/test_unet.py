"""The ``unet`` plugin: shapes, learning on tiny data, and reconstruction of Cartesian and radial scans."""

from __future__ import annotations

import pytest
import torch

from recon_cli.errors import ModelError
from recon_cli.nn import UNet, channels_to_image, image_to_channels
from recon_cli.ops.cartesian import CartesianSense
from recon_cli.ops.nufft import NonCartesianSense
from recon_cli.phantoms import cardiac_cine_phantom, coil_maps, simulate_cartesian, simulate_radial_cine
from recon_cli.registry import load_plugin, resolve_config
from recon_cli.sampling import cartesian_mask, golden_angle_radial

SMALL = {"chans": 4, "num_pools": 2}


def _model(**overrides: object) -> torch.nn.Module:
    plugin = load_plugin("unet")
    torch.manual_seed(0)
    return plugin.build(resolve_config(plugin, {**SMALL, **overrides}))


def _cartesian_scan(n: int = 32, frames: int = 2, coils: int = 4, seed: int = 3):
    gen = torch.Generator().manual_seed(seed)
    image = cardiac_cine_phantom(n, frames, generator=gen)
    maps = coil_maps(coils, (n, n), generator=gen)
    mask = torch.from_numpy(cartesian_mask("random", (n, n), 3.0, 0.1, seed, frames)).unsqueeze(1)
    return image, maps, simulate_cartesian(image, maps, snr=40.0, generator=gen, mask=mask)


def _radial_scan(n: int = 32, frames: int = 2, coils: int = 4, seed: int = 4):
    gen = torch.Generator().manual_seed(seed)
    image = cardiac_cine_phantom(n, frames, generator=gen)
    maps = coil_maps(coils, (n, n), generator=gen)
    traj = torch.from_numpy(golden_angle_radial(8, frames, 2 * n))
    return image, maps, simulate_radial_cine(image, maps, traj, readout_length=2 * n, snr=40.0, generator=gen)


def test_plugin_is_registered_and_trainable() -> None:
    plugin = load_plugin("unet")
    assert plugin.trainable and plugin.cartesian and plugin.non_cartesian and plugin.static and plugin.dynamic
    with pytest.raises(ModelError, match="combine"):
        resolve_config(plugin, {"combine": "espirit"})


@pytest.mark.parametrize("shape", [(3, 2, 37, 45), (1, 2, 8, 8), (2, 2, 64, 48)])
def test_unet_keeps_any_image_size(shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    net = UNet(2, 2, chans=4, num_pools=3)
    out = net(torch.randn(shape))
    assert out.shape == shape and out.dtype == torch.float32


def test_channels_round_trip() -> None:
    x = torch.randn(3, 5, 7, dtype=torch.complex64)
    channels = image_to_channels(x)
    assert channels.shape == (3, 2, 5, 7)
    assert torch.equal(channels_to_image(channels), x)


def test_cartesian_and_radial_shapes_and_dtype() -> None:
    model = _model()
    _, _, scan = _cartesian_scan(n=32, frames=2)
    op = CartesianSense((scan.n_coils, 32, 32), mask=scan.mask[0])
    out = model(scan.kspace[0], op)
    assert out.shape == (2, 32, 32) and out.dtype == torch.complex64
    _, _, radial = _radial_scan(n=24, frames=3)
    op = NonCartesianSense(radial.n_coils, (24, 24), radial.traj[0])
    out = model(radial.kspace[0], op)
    assert out.shape == (3, 24, 24) and out.dtype == torch.complex64 and torch.isfinite(out.real).all()


def test_residual_network_is_intensity_equivariant() -> None:
    """The input's own RMS level scales the network, so scaling the data scales the image."""
    model = _model().eval()
    _, _, scan = _cartesian_scan()
    op = CartesianSense((scan.n_coils, 32, 32), mask=scan.mask[0])
    with torch.no_grad():
        a, b = model(scan.kspace[0], op), model(1000.0 * scan.kspace[0], op)
    torch.testing.assert_close(b, 1000.0 * a, rtol=1e-4, atol=1e-3)


def test_sense_combination_needs_maps() -> None:
    model = _model(combine="sense")
    assert model.coil_maps == "required"
    image, maps, scan = _cartesian_scan()
    with pytest.raises(ModelError, match="coil maps"):
        model(scan.kspace[0], CartesianSense((scan.n_coils, 32, 32), mask=scan.mask[0]))
    out = model(scan.kspace[0], CartesianSense((scan.n_coils, 32, 32), mask=scan.mask[0], maps=maps))
    assert out.shape == image.shape


def test_a_few_steps_reduce_the_loss_on_tiny_data() -> None:
    model = _model(chans=8)
    image, _, scan = _cartesian_scan()
    op = CartesianSense((scan.n_coils, 32, 32), mask=scan.mask[0])
    target = image.abs()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        loss = (model(scan.kspace[0], op).abs() - target).abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0], losses


def test_bf16_autocast_on_cpu_keeps_complex64_output() -> None:
    model = _model()
    _, _, scan = _cartesian_scan()
    op = CartesianSense((scan.n_coils, 32, 32), mask=scan.mask[0])
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        out = model(scan.kspace[0], op)
    assert out.dtype == torch.complex64 and torch.isfinite(out.real).all()


@pytest.mark.parametrize("kind", ["cartesian", "radial"])
def test_reconstruct_pipeline_runs_the_unet(kind: str) -> None:
    from recon_cli.reconstruct import load_model, reconstruct_scan

    _, _, scan = _cartesian_scan() if kind == "cartesian" else _radial_scan()
    model = load_model("unet", config=SMALL, device="cpu", allow_untrained=True)
    images = reconstruct_scan(scan, model)
    assert images.shape == (1, scan.n_frames, *scan.header.recon_matrix)
    assert images.dtype == torch.complex64 and torch.isfinite(images.real).all()


def test_the_pooling_is_torch_average_pooling_in_value_and_gradient() -> None:
    import torch.nn.functional as F

    from recon_cli.nn.unet import average_pool_2x2

    gen = torch.Generator().manual_seed(9)
    x = torch.randn(3, 5, 16, 12, generator=gen, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(3, 5, 8, 6, generator=gen, dtype=torch.float64)
    ours = average_pool_2x2(x)
    torch.testing.assert_close(ours, F.avg_pool2d(x, 2), rtol=0, atol=1e-14)
    (grad,) = torch.autograd.grad((ours * weights).sum(), x)
    (expected,) = torch.autograd.grad((F.avg_pool2d(x, 2) * weights).sum(), x)
    torch.testing.assert_close(grad, expected, rtol=0, atol=1e-14)


def test_the_cunet_gives_the_same_image_with_and_without_autograd() -> None:
    """u_pass pools with F.avg_pool2d under autograd and with the strided form without it."""
    from recon_cli.nn.cunet import CUNet

    torch.manual_seed(4)
    net = CUNet(4, 2, context_chans=1)
    x = torch.randn(6, 32, 32, dtype=torch.complex64)
    context = torch.randn(1, 32, 32, dtype=torch.complex64)
    with torch.no_grad():
        plain = net(x, context)
    recorded = net(x, context)
    assert recorded.requires_grad and not plain.requires_grad
    torch.testing.assert_close(recorded.detach(), plain, rtol=1e-5, atol=1e-6)

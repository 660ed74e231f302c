"""``cascade-net``, ``kiki-net``, ``pdnet``, ``xpdnet`` and ``ncpdnet``: learning on tiny data, training
through ``recon train``, reconstruction of Cartesian and radial scans, and the errors of unsupported data."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from recon_cli.errors import ModelError
from recon_cli.nn.primal_dual import images_to_measurements, measurements_to_images
from recon_cli.nn.sensitivity import SensitivityRefinement, with_maps
from recon_cli.ops.base import LinearOperator
from recon_cli.reconstruct import build_operator, load_model, reconstruct_scan
from recon_cli.registry import load_plugin, resolve_config
from tests.helpers import small_cine

MODELS = {
    "cascade-net": {"cascades": 3, "layers": 3, "features": 8},
    "kiki-net": {"iterations": 2, "k_layers": 3, "i_layers": 3, "features": 8},
    "pdnet": {"iterations": 2, "n_primal": 3, "n_dual": 2, "features": 6},
    "xpdnet": {"iterations": 2, "n_primal": 3, "chans": 4, "refine_chans": 4},
    "ncpdnet": {"iterations": 3, "n_primal": 3, "features": 8},
}
NON_CARTESIAN = sorted(set(MODELS) - {"kiki-net"})


def _model(name: str, **overrides: object) -> torch.nn.Module:
    plugin = load_plugin(name)
    torch.manual_seed(0)
    return plugin.build(resolve_config(plugin, {**MODELS[name], **overrides}))


def _scan(kind: str, **sizes: object):
    """This file's test scan (``tests.helpers.small_cine`` with its defaults, overridable)."""
    defaults = {"frames": 1, "coils": 3, "seed": 11, "acceleration": 4.0, "center_fraction": 0.08}
    defaults["spokes"] = 10
    return small_cine(kind, **{**defaults, **sizes})


def _slice(kind: str) -> tuple[torch.Tensor, torch.Tensor, LinearOperator]:
    """(target image, k-space of slice 0, operator with the true maps)."""
    image, maps, scan = _scan(kind)
    return image, scan.kspace[0], build_operator(scan, 0, maps)


def test_plugins_are_registered_with_their_data_kinds() -> None:
    for name in MODELS:
        plugin = load_plugin(name)
        assert plugin.trainable and plugin.cartesian and plugin.static and plugin.dynamic
        assert plugin.non_cartesian == (name != "kiki-net")
    with pytest.raises(ModelError, match="dual"):
        resolve_config(load_plugin("pdnet"), {"dual": "learned"})
    with pytest.raises(ModelError, match="lambda_init"):
        resolve_config(load_plugin("cascade-net"), {"lambda_init": 0.0})


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_few_steps_reduce_the_loss_on_cartesian_data(name: str) -> None:
    target, kspace, op = _slice("cartesian")
    model = _model(name).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(12):
        loss = (model(kspace, op).abs() - target.abs()).abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    # 12 steps from a near-identity start: 0.65 (kiki-net) to 0.97 (ncpdnet) of the first loss
    assert losses[-1] < 0.985 * losses[0] and min(losses) < losses[0], losses


@pytest.mark.parametrize("name", ["ncpdnet", "pdnet"])
def test_a_few_steps_reduce_the_loss_on_radial_data(name: str) -> None:
    target, kspace, op = _slice("radial")
    model = _model(name).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(10):
        loss = (model(kspace, op).abs() - target.abs()).abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.985 * losses[0], losses


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("kind", ["cartesian", "radial"])
def test_reconstruct_pipeline(name: str, kind: str) -> None:
    _, maps, scan = _scan(kind, frames=2)
    model = load_model(name, config=MODELS[name], device="cpu", allow_untrained=True)
    assert model.module.coil_maps == "required"
    if kind == "radial" and name == "kiki-net":
        with pytest.raises(ModelError, match="'kiki-net' does not support non-Cartesian data") as info:
            reconstruct_scan(scan, model, maps=maps.unsqueeze(0))
        assert "\n" not in str(info.value)
        return
    images = reconstruct_scan(scan, model, maps=maps.unsqueeze(0))
    assert images.shape == (1, 2, *scan.header.recon_matrix)
    assert images.dtype == torch.complex64 and torch.isfinite(images.real).all()


def test_kiki_net_refuses_a_non_cartesian_operator_and_missing_maps() -> None:
    _, kspace, op = _slice("radial")
    with pytest.raises(ModelError, match="Cartesian data only"):
        _model("kiki-net")(kspace, op)
    _, maps, scan = _scan("cartesian")
    for name in MODELS:
        with pytest.raises(ModelError, match="coil maps"):
            _model(name)(scan.kspace[0], build_operator(scan, 0, None))


def test_cascade_dc_with_large_lambda_replaces_the_sampled_kspace() -> None:
    """Single coil: DC with w -> 1 keeps the network's k-space off the mask and the data on it."""
    _, kspace, op = _slice("cartesian")
    from recon_plugins.cascade_net.model import DataConsistency

    single = build_operator(_scan("cartesian", coils=1)[2], 0, torch.ones(1, 32, 32, dtype=torch.complex64))
    y = _scan("cartesian", coils=1)[2].kspace[0]
    x = torch.randn(1, 32, 32, dtype=torch.complex64)
    out = DataConsistency(1e6)(x, single, single.gridding(y))
    from recon_cli.ops.functional import fft2c

    mask = single.mask[0, 0]
    k_out, k_in = fft2c(out)[0], fft2c(x)[0]
    torch.testing.assert_close(k_out[mask], y[0, 0][mask], rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(k_out[~mask], k_in[~mask], rtol=1e-5, atol=1e-5)


def test_ncpdnet_density_compensation_changes_radial_back_projection_only() -> None:
    for kind, differ in (("radial", True), ("cartesian", False)):
        _, kspace, op = _slice(kind)
        with torch.no_grad():
            a = _model("ncpdnet", density_compensation=True)(kspace, op)
            b = _model("ncpdnet", density_compensation=False)(kspace, op)
        assert (not torch.allclose(a, b, rtol=1e-3, atol=1e-4)) == differ


def test_map_refinement_starts_at_the_given_maps_and_keeps_unit_norm() -> None:
    _, maps, scan = _scan("radial")
    refine = SensitivityRefinement(chans=4, num_pools=2)
    torch.testing.assert_close(refine(maps), maps, rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        refine.unet.head.weight.normal_()
    refined = refine(maps)
    torch.testing.assert_close(refined.abs().square().sum(0), torch.ones(32, 32), rtol=1e-4, atol=1e-4)
    op = build_operator(scan, 0, maps)
    x = torch.randn(1, 32, 32, dtype=torch.complex64)
    new = with_maps(op, refined)
    new(x).abs().sum().backward()
    assert refine.unet.head.weight.grad is not None and refine.unet.head.weight.grad.abs().sum() > 0


def test_measurement_buffers_round_trip() -> None:
    for shape in [(2, 3, 4, 8, 6), (2, 3, 4, 50)]:
        data = torch.randn(shape, dtype=torch.complex64)
        images = measurements_to_images(data)
        assert images.shape[0] == 8 and images.shape[1] == 3
        assert torch.equal(images_to_measurements(images, 2, shape[2:]), data)


def test_recon_train_runs_and_its_weights_reconstruct(tmp_path: Path) -> None:
    from recon_cli.train import TrainRequest, train

    request = TrainRequest(
        out_dir=tmp_path / "run",
        model="cascade-net",
        data="synthetic:cartesian",
        model_config=dict(MODELS["cascade-net"]),
        data_config={"matrix": 32, "frames": 1, "coils": 2, "length": 2},
        train_config={"steps": 2, "workers": 0, "log_every": 1, "ckpt_every": 2},
        device="cpu",
    )
    result = train(request)
    assert result.step == 2 and (tmp_path / "run" / "last.pt").exists()
    _, maps, scan = _scan("cartesian")
    model = load_model("cascade-net", weights=tmp_path / "run" / "last.pt", device="cpu")
    images = reconstruct_scan(scan, model, maps=maps.unsqueeze(0))
    assert torch.isfinite(images.real).all()

"""Every registered model plugin keeps the contract of ``recon_cli.contract.ReconModel``.

One suite, parametrised over ``available_models()`` (as tests/ops/test_operator_contract.py is over the
operators): the plugin builds from its defaults, runs a tiny Cartesian and (where supported) radial
slice with the right shape, dtype and device, is deterministic, passes gradients if trainable, and
round-trips its state dict and config. A third-party plugin, registered through a temporary
distribution's entry points, is found and run the same way.
"""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest
import torch

from recon_cli.contract import COIL_MAPS_MODES, ReconModel, coil_maps_mode
from recon_cli.reconstruct import build_operator
from recon_cli.registry import available_models, config_to_dict, load_plugin, resolve_config
from tests.helpers import small_cine

# A few plugins' defaults are sized for real scans; their contract is the same at a smaller size.
SMALLER: dict[str, dict[str, object]] = {
    "cs": {"iterations": 3},
    "ifr-cs": {"iterations": 2},
    "deq": {"iterations": 3},
    "imunne": {"iterations": 2},
}


def _slices(plugin, kind: str) -> list[tuple[str, object, torch.Tensor]]:  # noqa: ANN001
    """(label, Scan, true maps) for the data kinds the plugin supports."""
    cases = []
    for frames, ok in ((3, plugin.dynamic), (1, plugin.static)):
        if ok:
            _, maps, scan = small_cine(kind, n=32, frames=frames, coils=3, seed=21, spokes=12)
            cases.append((f"{kind}-{frames}f", scan, maps))
            break  # one data kind per trajectory keeps the suite small; dynamic first when supported
    return cases


def _cases(name: str) -> list[tuple[str, object, torch.Tensor]]:
    plugin = load_plugin(name)
    cases = []
    if plugin.cartesian:
        cases += _slices(plugin, "cartesian")
    if plugin.non_cartesian:
        cases += _slices(plugin, "radial")
    return cases


def _run(model: torch.nn.Module, scan, maps: torch.Tensor, device: torch.device) -> torch.Tensor:  # noqa: ANN001
    mode = coil_maps_mode(model)
    op = build_operator(scan, 0, None if mode == "ignored" else maps).to(device)
    return model(scan.kspace[0].to(device), op)


def _build(name: str, device: torch.device) -> tuple[object, object, torch.nn.Module]:
    plugin = load_plugin(name)
    config = resolve_config(plugin, SMALLER.get(name, {}))
    torch.manual_seed(0)
    return plugin, config, plugin.create(config).to(device)


@pytest.mark.parametrize("name", available_models())
def test_plugin_declares_itself(name: str) -> None:
    plugin = load_plugin(name)
    assert plugin.name == name and plugin.description and len(plugin.description.splitlines()) == 1
    assert dataclasses.is_dataclass(plugin.config_cls)
    assert plugin.cartesian or plugin.non_cartesian
    assert plugin.static or plugin.dynamic
    defaults = plugin.config_cls()
    assert resolve_config(plugin, config_to_dict(defaults)) == defaults  # config round trip
    module = plugin.create(defaults)
    assert isinstance(module, ReconModel) and module.coil_maps in COIL_MAPS_MODES
    if plugin.default_weights is not None:
        assert plugin.trainable


@pytest.mark.parametrize("name", available_models())
def test_plugin_reconstructs_every_kind_it_supports(name: str, device: torch.device) -> None:
    plugin, _, model = _build(name, device)
    model.eval()
    for label, scan, maps in _cases(name):
        with torch.inference_mode():
            first = _run(model, scan, maps, device)
            again = _run(model, scan, maps, device)
        frames = scan.kspace.shape[1]
        assert first.shape == (frames, *scan.image_shape), (label, first.shape)
        assert first.dtype == torch.complex64 and first.device.type == device.type, label
        assert bool(torch.isfinite(first).all()), label
        assert torch.equal(first, again), f"{name} is not deterministic on {label}"


@pytest.mark.parametrize("name", [n for n in available_models() if load_plugin(n).trainable])
def test_trainable_plugin_passes_gradients_and_round_trips_its_weights(
    name: str, device: torch.device
) -> None:
    plugin, config, model = _build(name, device)
    label, scan, maps = _cases(name)[0]
    model.train()
    out = _run(model, scan, maps, device)
    out.abs().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and bool(torch.isfinite(g).all()) for g in grads if g is not None)
    assert any(g is not None and bool(g.abs().sum() > 0) for g in grads), f"{name}: no gradient reaches it"
    torch.manual_seed(1)  # a different initialisation, then the first model's weights
    twin = plugin.create(config).to(device)
    twin.load_state_dict(model.state_dict())
    model.eval()
    twin.eval()
    with torch.inference_mode():
        assert torch.equal(_run(model, scan, maps, device), _run(twin, scan, maps, device)), label


def test_a_module_breaking_the_contract_is_a_model_error() -> None:
    from recon_cli.contract import checked_model
    from recon_cli.errors import ModelError

    class NoMaps(torch.nn.Module):
        def forward(self, kspace, op, x0=None):  # noqa: ANN001, ANN201
            return op.adjoint(kspace)

    with pytest.raises(ModelError, match="coil_maps"):
        checked_model(NoMaps(), "no-maps")
    with pytest.raises(ModelError, match="not a torch.nn.Module"):
        checked_model(object(), "plain")


THIRD_PARTY = textwrap.dedent(
    '''
    """A third-party model: the coil-combined adjoint, scaled by a learnable factor."""
    from dataclasses import dataclass

    import torch

    from recon_cli.registry import ModelPlugin


    @dataclass(frozen=True)
    class ScaledConfig:
        scale: float = 2.0


    class Scaled(torch.nn.Module):
        def __init__(self, config: ScaledConfig) -> None:
            super().__init__()
            self.coil_maps = "required"
            self.scale = torch.nn.Parameter(torch.tensor(config.scale))

        def forward(self, kspace, op, x0=None):
            return self.scale * op.adjoint(kspace)


    plugin = ModelPlugin(
        name="toy-scaled",
        description="Adjoint times a learnable scale (a third-party plugin in a test).",
        config_cls=ScaledConfig,
        build=Scaled,
        trainable=True,
    )
    '''
)


def test_third_party_plugin_is_found_and_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin installed as its own distribution (dist-info with entry points) is listed and runs."""
    (tmp_path / "toy_recon_plugin.py").write_text(THIRD_PARTY)
    info = tmp_path / "toy_recon_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-recon-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[recon.models]\ntoy-scaled = toy_recon_plugin:plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "toy-scaled" in available_models()
    plugin = load_plugin("toy-scaled")
    model = plugin.create(plugin.config_cls())
    _, scan, maps = _cases("toy-scaled")[0]
    with torch.inference_mode():
        image = _run(model, scan, maps, torch.device("cpu"))
        reference = 2.0 * build_operator(scan, 0, maps).adjoint(scan.kspace[0])
    torch.testing.assert_close(image, reference)
    # and end to end through the command line, with its weights from a file
    from typer.testing import CliRunner

    from recon_cli.cli.main import app
    from recon_cli.io.ismrmrd_write import write_ismrmrd

    _, radial, _ = _cases("toy-scaled")[-1]
    raw = tmp_path / "scan.h5"
    write_ismrmrd(raw, radial)
    weights = tmp_path / "toy.pt"
    torch.save({"scale": torch.tensor(3.0)}, weights)
    args = [
        "reconstruct",
        str(raw),
        "--model",
        "toy-scaled",
        "--weights",
        str(weights),
        "--out",
        str(tmp_path / "o"),
    ]
    result = CliRunner().invoke(app, [*args, "--format", "h5"])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "o" / "scan" / "scan.h5").exists()

"""``support_mask`` of ``cunet``, ``alt-un`` and ``imunne``: zero outside the coil maps' support, the
unmasked image inside it, and nothing changed where the maps have no zeros."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from recon_cli.registry import load_plugin, resolve_config
from recon_cli.train.config import DataConfig
from recon_cli.train.examples import operator_for
from recon_cli.train.synthetic import SyntheticCine

N = 32
MODELS = {"cunet": {}, "alt-un": {"blocks": 2}, "imunne": {"iterations": 3, "tol": 0.0}}


@pytest.fixture(scope="module")
def example() -> dict:
    config = DataConfig(matrix=N, frames=4, coils=4, spokes=8)
    return SyntheticCine("radial", config, seed=5, length=1, fresh=False, needs_maps=True)[(0, 0)]


def _run(name: str, example: dict, maps: torch.Tensor, **settings: object) -> torch.Tensor:
    plugin = load_plugin(name)
    torch.manual_seed(0)
    model = plugin.build(resolve_config(plugin, {**MODELS[name], **settings})).eval()
    with torch.no_grad():
        return model(example["kspace"], operator_for({**example, "maps": maps}))


@pytest.mark.parametrize("name", list(MODELS))
def test_zero_outside_the_maps_support_and_the_same_inside(name: str, example: dict) -> None:
    assert load_plugin(name).config_cls().support_mask is True
    maps = example["maps"].clone()
    yy, xx = torch.meshgrid(torch.arange(N), torch.arange(N), indexing="ij")
    outside = torch.hypot(yy - N / 2, xx - N / 2) > 0.4 * N
    maps[:, outside] = 0  # as ESPIRiT's maps are where it found no signal
    masked = _run(name, example, maps)
    plain = _run(name, example, maps, support_mask=False)
    assert plain[:, outside].abs().max() > 1e-5 * plain.abs().max()  # the network does put values there
    assert bool((masked[:, outside] == 0).all())
    torch.testing.assert_close(masked[:, ~outside], plain[:, ~outside], rtol=0, atol=0)


@pytest.mark.parametrize("name", list(MODELS))
def test_maps_without_zeros_are_left_alone(name: str, example: dict) -> None:
    maps = example["maps"]
    assert bool((maps != 0).any(dim=0).all())
    torch.testing.assert_close(
        _run(name, example, maps), _run(name, example, maps, support_mask=False), rtol=0, atol=0
    )


def test_the_option_reaches_every_cunet_model() -> None:
    """One default, declared in ``cunet`` and taken by the other two."""
    values = {name: dataclasses.asdict(load_plugin(name).config_cls())["support_mask"] for name in MODELS}
    assert values == dict.fromkeys(MODELS, True)

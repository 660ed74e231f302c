"""The variable-density spiral trajectory, and a primal-dual model reconstructing spiral data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from recon_cli.ops.nufft import NonCartesianSense
from recon_cli.sampling import spiral


def test_spiral_shape_range_and_determinism() -> None:
    traj = spiral(6, 3, 200, 32)
    assert traj.shape == (3, 2, 6 * 200) and traj.dtype == np.float32
    assert traj.min() >= -math.pi and traj.max() < math.pi
    np.testing.assert_array_equal(traj, spiral(6, 3, 200, 32))
    radius = np.hypot(traj[0, 0, :200], traj[0, 1, :200])
    assert radius[0] == 0 and np.all(np.diff(radius) >= 0) and radius[-1] > 0.95 * math.pi
    assert not np.allclose(traj[0], traj[1])  # frames rotate


def test_variable_density_spends_more_samples_near_the_centre() -> None:
    def inner_share(density: float) -> float:
        traj = spiral(4, 1, 400, 32, density=density)[0]
        return float(np.mean(np.hypot(traj[0], traj[1]) < math.pi / 2))

    assert inner_share(1.0) == pytest.approx(0.5, abs=0.01)
    assert inner_share(2.0) > 0.65


def test_spiral_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        spiral(0, 1, 100, 32)
    with pytest.raises(ValueError):
        spiral(4, 1, 100, 32, density=0.5)


def test_ncpdnet_reconstructs_spiral_data() -> None:
    from recon_cli.phantoms import coil_maps, shepp_logan
    from recon_cli.registry import load_plugin, resolve_config

    n = 32
    maps = coil_maps(3, (n, n), generator=torch.Generator().manual_seed(0))
    image = shepp_logan(n).to(torch.complex64)[None]
    traj = torch.from_numpy(spiral(8, 1, 256, n, acceleration=2.0))
    op = NonCartesianSense(3, (n, n), traj, maps=maps)
    kspace = op(image)
    plugin = load_plugin("ncpdnet")
    torch.manual_seed(0)
    model = plugin.build(resolve_config(plugin, {"iterations": 2, "n_primal": 2, "features": 4}))
    with torch.no_grad():
        out = model(kspace, op)
    assert out.shape == (1, n, n) and torch.isfinite(out.real).all()
    # the density-compensated start already shows the object; the untrained network stays near it
    correlation = torch.corrcoef(torch.stack([out.abs().flatten(), image.abs().flatten()]))[0, 1]
    assert correlation > 0.8, correlation

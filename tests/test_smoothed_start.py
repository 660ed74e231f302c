"""``start_smoothing`` of ``cunet``, ``alt-un`` and ``imunne``: the temporally smoothed SENSE start
(``recon_cli.nn.unrolled.smoothed_start``) against a dense solve built with numpy, its gain over the
gridding on a radial cine, and what it changes in the plugins' declarations."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from recon_cli.errors import ModelError
from recon_cli.nn.unrolled import smoothed_start
from recon_cli.ops.cartesian import CartesianSense
from recon_cli.registry import load_plugin, resolve_config
from recon_cli.train.config import DataConfig
from recon_cli.train.examples import operator_for
from recon_cli.train.objective import image_metrics
from recon_cli.train.synthetic import SyntheticCine

MODELS = {"cunet": {}, "alt-un": {"blocks": 2}, "imunne": {"iterations": 2, "tol": 0.0}}


def _centred_dft(n: int) -> np.ndarray:
    eye = np.eye(n)
    return np.fft.fftshift(np.fft.fft(np.fft.ifftshift(eye, axes=0), axis=0, norm="ortho"), axes=0)


def _dense_problem(frames: int = 4, coils: int = 3, n: int = 8) -> dict:
    """A small Cartesian cine problem written out as dense numpy matrices, and the same as an operator."""
    rng = np.random.default_rng(3)
    maps = rng.standard_normal((coils, n, n)) + 1j * rng.standard_normal((coils, n, n))
    mask = rng.random((frames, 1, n, n)) < 0.4
    truth = rng.standard_normal((frames, n, n)) + 1j * rng.standard_normal((frames, n, n))
    truth[:, :4] = truth[0, :4]  # half the image static, so the reweighting has something to tell apart
    dft = np.kron(_centred_dft(n), _centred_dft(n))  # row-major flattening of (ny, nx)
    blocks = [
        np.vstack([np.diag(mask[t, 0].ravel()) @ dft @ np.diag(maps[c].ravel()) for c in range(coils)])
        for t in range(frames)
    ]
    y = [b @ truth[t].ravel() for t, b in enumerate(blocks)]
    pixels = n * n
    normal = np.zeros((frames * pixels, frames * pixels), complex)
    for t, b in enumerate(blocks):
        normal[t * pixels : (t + 1) * pixels, t * pixels : (t + 1) * pixels] = b.conj().T @ b
    op = CartesianSense(
        (coils, n, n), mask=torch.from_numpy(mask), maps=torch.from_numpy(maps).to(torch.complex64)
    )
    kspace = torch.from_numpy(np.stack([v.reshape(coils, n, n) for v in y])).to(torch.complex64)
    rhs = np.concatenate([b.conj().T @ y[t] for t, b in enumerate(blocks)])
    diff = np.kron(np.diff(np.eye(frames), axis=0), np.eye(pixels))  # D_t on the stacked frames
    return {"normal": normal, "rhs": rhs, "diff": diff, "op": op, "kspace": kspace, "shape": (frames, n, n)}


def _dense_solve(p: dict, weight: float, per_difference: np.ndarray) -> np.ndarray:
    """(A^H A + weight D^H diag(W) D + 1e-3 I)^-1 A^H y."""
    penalty = p["diff"].T @ np.diag(per_difference) @ p["diff"]
    system = p["normal"] + weight * penalty + 1e-3 * np.eye(len(p["rhs"]))
    return np.linalg.solve(system, p["rhs"])


def test_solves_the_smoothed_normal_equations_of_a_dense_model() -> None:
    """Enough CG steps reach the solution of (A^H A + w D_t^H D_t + 1e-3 I) x = A^H y, with A, D_t and
    the solve written out as dense numpy matrices."""
    p, weight = _dense_problem(), 0.7
    expected = _dense_solve(p, weight, np.ones(p["diff"].shape[0])).reshape(p["shape"])
    gridded = p["op"].gridding(p["kspace"]).to(torch.complex64)
    np.testing.assert_allclose(gridded.numpy().ravel(), p["rhs"], rtol=1e-4, atol=1e-4)
    got = smoothed_start(gridded, p["op"], weight, 300).numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-3 * np.abs(expected).max())


@pytest.mark.parametrize("fraction", [None, 0.02])
def test_each_reweighted_round_solves_the_reweighted_dense_system(fraction: float | None) -> None:
    """Round k + 1 solves the system with W = eps / sqrt(|D_t x_k|^2 + eps^2) from round k's solution,
    eps = ``eps`` (default REWEIGHT_EPS) times the 99th percentile of |A^H y|."""
    from recon_cli.nn.unrolled import REWEIGHT_EPS

    p, weight = _dense_problem(), 0.7
    given = {} if fraction is None else {"eps": fraction}
    eps = (fraction or REWEIGHT_EPS) * np.quantile(np.abs(p["rhs"]), 0.99)
    x = _dense_solve(p, weight, np.ones(p["diff"].shape[0]))
    for _ in range(2):
        step = np.abs(p["diff"] @ x)
        x = _dense_solve(p, weight, eps / np.sqrt(step**2 + eps**2))
    gridded = p["op"].gridding(p["kspace"]).to(torch.complex64)
    got = smoothed_start(gridded, p["op"], weight, 300, rounds=3, **given).numpy()
    expected = x.reshape(p["shape"])
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-3 * np.abs(expected).max())
    uniform = smoothed_start(gridded, p["op"], weight, 300).numpy()
    assert np.abs(uniform - expected).max() > 0.05 * np.abs(expected).max()  # the weights changed it


def test_zero_smoothing_is_the_gridding() -> None:
    gridded = torch.randn(3, 4, 4, dtype=torch.complex64)
    assert smoothed_start(gridded, None, 0.0, 10) is gridded  # type: ignore[arg-type]  # no solve, no op


@pytest.fixture(scope="module")
def cine() -> dict:
    config = DataConfig(matrix=48, frames=12, coils=4, spokes=6, snr=30.0)
    return SyntheticCine("radial", config, seed=11, length=1, fresh=False, needs_maps=True)[(0, 0)]


def test_ten_steps_beat_the_gridding_on_an_undersampled_radial_cine(cine: dict) -> None:
    op = operator_for(cine)
    gridded = op.gridding(cine["kspace"]).to(torch.complex64)
    plain = image_metrics(gridded, cine["target"])["nrmse"]
    smooth = image_metrics(smoothed_start(gridded, op, 1.0, 10), cine["target"])["nrmse"]
    assert smooth < 0.6 * plain, (smooth, plain)


@pytest.mark.parametrize("name", list(MODELS))
def test_the_models_start_there(name: str, cine: dict) -> None:
    """With a start given as x0 the option changes nothing; without, the model starts from the solve."""
    plugin = load_plugin(name)
    op = operator_for(cine)

    def run(x0: torch.Tensor | None, **settings: object) -> torch.Tensor:
        torch.manual_seed(0)
        model = plugin.build(resolve_config(plugin, {**MODELS[name], **settings})).eval()
        with torch.no_grad():
            return model(cine["kspace"], op, x0)

    gridded = op.gridding(cine["kspace"]).to(torch.complex64)
    start = smoothed_start(gridded, op, 0.5, 4)
    torch.testing.assert_close(run(None, start_smoothing=0.5, start_iterations=4), run(start))
    assert not torch.allclose(run(None, start_smoothing=0.5, start_iterations=4), run(None))
    reweighted = {"start_smoothing": 0.5, "start_iterations": 4, "start_rounds": 2, "start_eps": 0.02}
    torch.testing.assert_close(run(None, **reweighted), run(smoothed_start(gridded, op, 0.5, 4, 2, eps=0.02)))
    assert not torch.allclose(run(None, **reweighted), run(None, **{**reweighted, "start_eps": 0.05}))


@pytest.mark.parametrize("name", list(MODELS))
def test_declarations_follow_the_option(name: str) -> None:
    plugin = load_plugin(name)
    assert plugin.config_cls().start_smoothing == 0.0  # the shipped weights start from the gridding
    smooth = resolve_config(plugin, {**MODELS[name], "start_smoothing": 1.0})
    assert plugin.temporal_reach is not None
    assert plugin.temporal_reach(smooth) is None  # the solve couples all frames
    assert plugin.working_set(smooth).images >= 5  # x, r, p, A^H A p and the right-hand side
    for bad in ({"start_smoothing": -1.0}, {"start_iterations": 0}, {"start_rounds": 0}, {"start_eps": 0.0}):
        with pytest.raises(ModelError, match=name):
            resolve_config(plugin, bad)


def test_one_default_for_all_three() -> None:
    values = {
        name: {k: v for k, v in dataclasses.asdict(load_plugin(name).config_cls()).items() if "start_" in k}
        for name in MODELS
    }
    from recon_cli.nn.unrolled import REWEIGHT_EPS

    expected = {"start_smoothing": 0.0, "start_iterations": 10, "start_rounds": 1, "start_eps": REWEIGHT_EPS}
    assert values == dict.fromkeys(MODELS, expected)


def _dense_cg(system: np.ndarray, rhs: np.ndarray, x: np.ndarray, steps: int) -> np.ndarray:
    """Textbook CG in numpy from x, its residual computed from the system."""
    r = rhs - system @ x
    p = r.copy()
    for _ in range(steps):
        ap = system @ p
        alpha = np.vdot(r, r).real / np.vdot(p, ap).real
        x, r_new = x + alpha * p, r - alpha * ap
        p = r_new + np.vdot(r_new, r_new).real / np.vdot(r, r).real * p
        r = r_new
    return x


def test_short_rounds_match_dense_cg_and_cost_only_their_steps() -> None:
    """Rounds of 4 CG steps (far from converged, as shipped) give what dense CG gives when every round
    recomputes its residual from the reweighted system; yet the forward model is applied only for the CG
    steps (the residual is carried over from round to round), 3 x 4 times in all."""
    from recon_cli.nn.unrolled import REWEIGHT_EPS

    p, weight, steps, rounds = _dense_problem(), 0.7, 4, 3
    eps = REWEIGHT_EPS * np.quantile(np.abs(p["rhs"]), 0.99)
    x, per_difference = np.zeros_like(p["rhs"]), np.ones(p["diff"].shape[0])
    for _ in range(rounds):
        penalty = p["diff"].T @ np.diag(per_difference) @ p["diff"]
        x = _dense_cg(p["normal"] + weight * penalty + 1e-3 * np.eye(len(x)), p["rhs"], x, steps)
        per_difference = eps / np.sqrt(np.abs(p["diff"] @ x) ** 2 + eps**2)
    op, calls = p["op"], []
    normal = op.normal

    def counted(v: torch.Tensor, weighted: bool = False) -> torch.Tensor:
        calls.append(1)
        return normal(v, weighted=weighted)

    op.normal = counted
    gridded = op.gridding(p["kspace"]).to(torch.complex64)
    got = smoothed_start(gridded, op, weight, steps, rounds=rounds).numpy()
    expected = x.reshape(p["shape"])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * np.abs(expected).max())
    assert len(calls) == steps * rounds


def test_cg_continued_from_a_given_residual_is_cg_from_x0() -> None:
    """``r0`` = b - N x0 gives the iterates a recomputed residual gives; without x0 it is refused."""
    from recon_cli.solvers.iterative import conjugate_gradient

    gen = torch.Generator().manual_seed(5)
    a = torch.randn(12, 12, generator=gen, dtype=torch.float64)
    n = a.T @ a + 0.1 * torch.eye(12, dtype=torch.float64)
    b, x0 = torch.randn(2, 12, generator=gen, dtype=torch.float64)
    plain = conjugate_gradient(lambda v: n @ v, b, x0=x0, max_iter=5, tol=0.0)
    given = conjugate_gradient(lambda v: n @ v, b, x0=x0, r0=b - n @ x0, max_iter=5, tol=0.0)
    torch.testing.assert_close(given.x, plain.x, rtol=0, atol=1e-12)
    assert given.residual_vector is not None
    torch.testing.assert_close(given.residual_vector, b - n @ given.x, rtol=0, atol=1e-9)
    with pytest.raises(ValueError, match="r0"):
        conjugate_gradient(lambda v: n @ v, b, r0=b, max_iter=5)

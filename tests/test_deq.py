"""``deq``: Broyden's fixed point, implicit (IFT), SHINE and JFB gradients against closed forms, learning
with every backward mode, and reconstruction of Cartesian and radial scans."""

from __future__ import annotations

import pytest
import torch

from recon_cli.errors import ModelError
from recon_cli.reconstruct import build_operator, load_model, reconstruct_scan
from recon_cli.registry import load_plugin, resolve_config
from recon_cli.solvers.fixed_point import broyden
from recon_cli.solvers.implicit import BackwardInfo, BackwardOptions, differentiable_fixed_point
from tests.helpers import small_cine

TINY = {"chans": 8, "layers": 3, "iterations": 20, "eval_iterations": 20}
# backward-solve settings of the gradient checks below (each test overrides what it studies)
BACKWARD = {"solver": "broyden", "iterations": 30, "tol": 1e-4, "memory": 30, "refine": 0, "fallback": 0.0}


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: many tiny solver steps crawl when two threads spin on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _model(**overrides: object) -> torch.nn.Module:
    plugin = load_plugin("deq")
    torch.manual_seed(0)
    return plugin.build(resolve_config(plugin, {**TINY, **overrides}))


def _scan(kind: str, **sizes: object):
    """This file's test scan (``tests.helpers.small_cine`` with its defaults, overridable)."""
    return small_cine(kind, **{"frames": 2, **sizes})


def _affine_problem(n: int = 24, seed: int = 0):
    """f(x) = W x + b with trainable W (a 0.7-contraction) and b; a loss vector c; float64."""
    gen = torch.Generator().manual_seed(seed)
    matrix = 0.7 * torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))[0]
    weight = torch.nn.Parameter(matrix)
    bias = torch.nn.Parameter(torch.randn(n, generator=gen, dtype=torch.float64))
    c = torch.randn(n, generator=gen, dtype=torch.float64)
    return weight, bias, c


def _implicit_grads(mode: str, **options: object) -> tuple[torch.Tensor, torch.Tensor, BackwardInfo]:
    """Gradients of c^T x*(W, b) with respect to (W, b) from ``differentiable_fixed_point``."""
    weight, bias, c = _affine_problem()

    def f(x: torch.Tensor) -> torch.Tensor:
        return weight @ x + bias

    x, _, inverse = broyden(f, torch.zeros_like(bias), 200, 1e-13, memory=100)
    info = BackwardInfo()
    settings = {**BACKWARD, "mode": mode, **options}
    y = differentiable_fixed_point(f, x, BackwardOptions(**settings), inverse, info)
    (c @ y).backward()
    return weight.grad, bias.grad, info


def test_broyden_finds_the_fixed_point_of_an_affine_contraction() -> None:
    gen = torch.Generator().manual_seed(0)
    b = torch.randn(40, generator=gen, dtype=torch.complex128)
    matrix = 0.9 * torch.linalg.qr(torch.randn(40, 40, generator=gen, dtype=torch.complex128))[0]
    expected = torch.linalg.solve(torch.eye(40, dtype=torch.complex128) - matrix, b)
    x, info, inverse = broyden(lambda v: matrix @ v + b, torch.zeros_like(b), 500, 1e-12, memory=200)
    torch.testing.assert_close(x, expected, rtol=1e-9, atol=1e-9)
    assert info.relative_change < 1e-12 and info.iterations < 200, info
    assert inverse.u.shape == inverse.v.shape == (80, inverse.rank) and inverse.rank > 0


def test_ift_gradient_is_the_exact_implicit_gradient() -> None:
    weight, bias, c = _affine_problem()
    eye = torch.eye(len(c), dtype=torch.float64)
    x_star = torch.linalg.solve(eye - weight.detach(), bias.detach())
    w = torch.linalg.solve((eye - weight.detach()).T, c)  # (I - J)^-T c
    for solver in ("broyden", "picard"):
        grad_w, grad_b, info = _implicit_grads("ift", solver=solver, iterations=300, tol=1e-12)
        torch.testing.assert_close(grad_b, w, rtol=1e-8, atol=1e-9)
        torch.testing.assert_close(grad_w, torch.outer(w, x_star), rtol=1e-8, atol=1e-9)
        assert info.vjps > 1 and info.residual < 1e-11


def test_shine_gradient_is_close_to_ift_without_a_backward_solve() -> None:
    ift_w, ift_b, _ = _implicit_grads("ift", iterations=300, tol=1e-12)
    shine_w, shine_b, info = _implicit_grads("shine")
    jfb_w, jfb_b, _ = _implicit_grads("jfb")
    assert info.vjps == 0

    def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
        return float(torch.nn.functional.cosine_similarity(a.reshape(-1), b.reshape(-1), dim=0))

    assert cosine(shine_b, ift_b) > 0.95 and cosine(shine_w, ift_w) > 0.95
    assert cosine(shine_b, ift_b) > cosine(jfb_b, ift_b)  # the inverse estimate beats the identity
    refined_w, refined_b, refined = _implicit_grads("shine", refine=100, tol=1e-12)
    torch.testing.assert_close(refined_b, ift_b, rtol=1e-7, atol=1e-8)
    assert refined.vjps > 0


def test_shine_fallback_uses_the_jfb_gradient() -> None:
    jfb_w, jfb_b, _ = _implicit_grads("jfb")
    grad_w, grad_b, info = _implicit_grads("shine", fallback=1e-3)
    assert info.fell_back
    torch.testing.assert_close(grad_b, jfb_b)


def _cartesian_slice():
    image, maps, scan = _scan("cartesian", frames=1)
    return image.to(torch.complex64), scan.kspace[0], build_operator(scan, 0, maps)


def test_ift_gradient_of_the_model_matches_finite_differences() -> None:
    target, kspace, op = _cartesian_slice()
    tight = {"iterations": 200, "tol": 1e-7, "eval_iterations": 200, "eval_tol": 1e-7, "memory": 60}
    model = _model(backward="ift", backward_iterations=200, backward_tol=1e-7, **tight).train()
    params = list(model.parameters())
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():  # away from the initialisation, where the denoiser barely acts
        for p in params:
            p.add_(0.05 * p.abs().mean() * torch.randn(p.shape, generator=gen))
    direction = [torch.randn(p.shape, generator=gen) for p in params]

    def loss() -> torch.Tensor:
        return (model(kspace, op) - target).abs().pow(2).mean()

    loss().backward()
    derivative = float(sum((p.grad * d).sum() for p, d in zip(params, direction, strict=True)))
    model.eval()
    eps, values = 1e-3, []
    with torch.no_grad():
        for sign in (1.0, -2.0, 1.0):
            for p, d in zip(params, direction, strict=True):
                p.add_(sign * eps * d)
            values.append(float(loss()))
    finite_difference = (values[0] - values[1]) / (2 * eps)
    assert abs(derivative - finite_difference) < 0.02 * abs(finite_difference), (
        derivative,
        finite_difference,
    )


@pytest.mark.parametrize("backward", ["ift", "shine", "jfb"])
def test_a_few_steps_reduce_the_loss(backward: str) -> None:
    target, kspace, op = _cartesian_slice()
    model = _model(backward=backward, iterations=10, tol=1e-3, backward_iterations=10, backward_tol=1e-3)
    optimiser = torch.optim.Adam(model.train().parameters(), lr=1e-2)
    losses = []
    for _ in range(10):
        loss = (model(kspace, op) - target).abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    assert losses[-1] < 0.9 * losses[0], losses


def test_training_output_is_a_fixed_point_and_eval_returns_it_detached() -> None:
    _, kspace, op = _cartesian_slice()
    model = _model(backward="ift", iterations=50, tol=1e-5).train()
    out = model(kspace, op)
    assert out.requires_grad and model.last_info.relative_change < 1e-5
    model.eval()
    fixed = model(kspace, op)
    assert not fixed.requires_grad
    torch.testing.assert_close(fixed, out.detach(), rtol=1e-3, atol=1e-3 * float(out.detach().abs().max()))


@pytest.mark.parametrize("kind", ["cartesian", "radial"])
def test_reconstruct_pipeline_runs_with_given_maps(kind: str) -> None:
    _, maps, scan = _scan(kind)
    model = load_model("deq", config=TINY, device="cpu", allow_untrained=True)
    assert model.module.coil_maps == "required"
    images = reconstruct_scan(scan, model, maps=maps.unsqueeze(0))
    assert images.shape == (1, scan.n_frames, *scan.header.recon_matrix)
    assert images.dtype == torch.complex64 and torch.isfinite(images.real).all()


@pytest.mark.parametrize("bad", [{"backward": "exact"}, {"backward_solver": "newton"}, {"lipschitz": 0.0}])
def test_config_rejects_bad_values(bad: dict[str, object]) -> None:
    with pytest.raises(ModelError, match="deq"):
        resolve_config(load_plugin("deq"), bad)


def test_plugin_is_registered_and_trainable() -> None:
    plugin = load_plugin("deq")
    assert plugin.trainable and plugin.cartesian and plugin.non_cartesian

"""``cunet``, ``alt-un`` and ``imunne``: CU-Net shapes, the JFB gradient, training memory, learning and
reconstruction of Cartesian and radial scans."""

from __future__ import annotations

import pytest
import torch

from recon_cli.nn.cunet import CUNet
from recon_cli.ops.base import LinearOperator
from recon_cli.reconstruct import build_operator, load_model, reconstruct_scan
from recon_cli.registry import load_plugin, resolve_config
from recon_cli.solvers.fixed_point import anderson, picard
from tests.helpers import small_cine

TINY = {"chans": 4, "depth": 2}
MODELS = {"cunet": TINY, "alt-un": {**TINY, "blocks": 3}, "imunne": {**TINY, "iterations": 5, "tol": 0.0}}


def _model(name: str, **overrides: object) -> torch.nn.Module:
    plugin = load_plugin(name)
    torch.manual_seed(0)
    return plugin.build(resolve_config(plugin, {**MODELS[name], **overrides}))


def _scan(kind: str, **sizes: object):
    """This file's test scan (``tests.helpers.small_cine`` with its defaults, overridable)."""
    return small_cine(kind, **sizes)


def _slice(kind: str) -> tuple[torch.Tensor, torch.Tensor, LinearOperator]:
    """(target image, k-space of slice 0, operator with the true maps)."""
    image, maps, scan = _scan(kind)
    return image, scan.kspace[0], build_operator(scan, 0, maps)


@pytest.mark.parametrize("shape", [(3, 37, 45), (1, 8, 8), (5, 17, 9)])
def test_cunet_keeps_any_size_and_frames(shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    net = CUNet(chans=4, depth=3)
    x = torch.randn(shape, dtype=torch.complex64)
    out = net(x)
    assert out.shape == shape and out.dtype == torch.complex64
    torch.testing.assert_close(net(3.0 * x), 3.0 * out, rtol=1e-4, atol=1e-6)  # positively homogeneous


def test_fixed_point_solvers_find_the_fixed_point_of_a_contraction() -> None:
    gen = torch.Generator().manual_seed(0)
    b = torch.randn(50, generator=gen, dtype=torch.complex128)
    matrix = 0.9 * torch.linalg.qr(torch.randn(50, 50, generator=gen, dtype=torch.complex128))[0]
    expected = torch.linalg.solve(torch.eye(50, dtype=torch.complex128) - matrix, b)
    iterations = []
    for solve in (picard, anderson):
        x, info = solve(lambda v: matrix @ v + b, torch.zeros_like(b), 500, 1e-12)
        torch.testing.assert_close(x, expected, rtol=1e-8, atol=1e-8)
        iterations.append(info.iterations)
    assert iterations[1] < iterations[0], iterations


def test_jfb_gradient_is_the_gradient_of_the_last_block() -> None:
    target, kspace, op = _slice("radial")
    model = _model("imunne", iterations=4, canonical_phase=False).train()  # the blocks by hand
    loss = (model(kspace, op) - target).abs().pow(2).mean()
    jfb = torch.autograd.grad(loss, list(model.parameters()))

    block = model.block
    gridded = op.gridding(kspace).to(torch.complex64)
    with torch.no_grad():
        x = gridded
        for _ in range(3):  # iterations counts every application, the differentiated last one included
            x = block(x, op, gridded)
    expected_loss = (block(x.detach(), op, gridded) - target).abs().pow(2).mean()
    expected = torch.autograd.grad(expected_loss, list(model.parameters()))
    torch.testing.assert_close(loss, expected_loss)
    assert any(g.abs().sum() > 0 for g in expected)
    for got, want in zip(jfb, expected, strict=True):
        torch.testing.assert_close(got, want)


def test_residual_penalty_is_the_weighted_relative_change_of_the_last_block() -> None:
    target, kspace, op = _slice("radial")
    model = _model("imunne", iterations=4, residual_weight=0.5, canonical_phase=False).train()
    output = model(kspace, op)
    penalty = model.auxiliary_loss()
    assert model.auxiliary_loss() is None  # handed over once

    block, gridded = model.block, op.gridding(kspace).to(torch.complex64)
    with torch.no_grad():
        x = gridded
        for _ in range(3):
            x = block(x, op, gridded)
    last = block(x, op, gridded)
    torch.testing.assert_close(output, last)
    expected = 0.5 * torch.linalg.vector_norm(last - x) / torch.linalg.vector_norm(x)
    torch.testing.assert_close(penalty, expected)
    grads = torch.autograd.grad(penalty, list(model.parameters()), allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in grads)  # it trains the block
    with torch.no_grad():
        model(kspace, op)
    assert model.auxiliary_loss() is None  # only training forwards keep it
    plain = _model("imunne", iterations=4).train()
    plain(kspace, op)
    assert plain.auxiliary_loss() is None


def _saved_bytes(model: torch.nn.Module, kspace: torch.Tensor, op: LinearOperator) -> int:
    """Bytes of the tensors autograd saves for the backward pass of one training forward."""
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(kspace, op).abs().mean().backward()
    return total


def test_training_memory_is_flat_in_iterations_for_imunne_only() -> None:
    _, kspace, op = _slice("cartesian")
    imunne = [_saved_bytes(_model("imunne", iterations=k).train(), kspace, op) for k in (1, 5, 10)]
    alt_un = [_saved_bytes(_model("alt-un", blocks=k).train(), kspace, op) for k in (1, 5, 10)]
    assert max(imunne) <= 1.1 * min(imunne), imunne
    assert alt_un[1] > 3 * alt_un[0] and alt_un[2] > 1.7 * alt_un[1], alt_un


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_few_steps_reduce_the_loss_on_radial_data(name: str) -> None:
    target, kspace, op = _slice("radial")
    model = _model(name, chans=8).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(20):
        loss = (model(kspace, op) - target).abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.9 * losses[0], losses  # 20 steps: 0.75-0.85 of the first loss


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("kind", ["cartesian", "radial"])
def test_reconstruct_pipeline_runs_with_given_maps(name: str, kind: str) -> None:
    """With the shipped default weights, which the model loads when no --weights is given."""
    _, maps, scan = _scan(kind)
    model = load_model(name, device="cpu")
    assert model.module.coil_maps == "required"
    plugin = load_plugin(name)
    assert plugin.default_weights is not None
    from importlib import resources

    shipped = torch.load(
        resources.files(plugin.default_weights[0]) / plugin.default_weights[1], weights_only=True
    )
    for key, value in shipped["model"].items():
        torch.testing.assert_close(model.module.state_dict()[key], value, rtol=0, atol=0)
    solver_log: list[dict[str, object]] = []
    images = reconstruct_scan(scan, model, maps=maps.unsqueeze(0), solver_log=solver_log)
    assert images.shape == (1, scan.n_frames, *scan.header.recon_matrix)
    if name == "imunne":  # the fixed-point solve is reported per slice (it goes into the run record)
        assert len(solver_log) == 1 and {"iterations", "relative_change", "converged"} <= set(solver_log[0])
    else:
        assert solver_log == []
    assert images.dtype == torch.complex64 and torch.isfinite(images.real).all()


def test_imunne_anderson_option_and_eval_mode_returns_the_fixed_point() -> None:
    _, kspace, op = _slice("cartesian")
    model = _model("imunne", anderson=True, iterations=20, tol=1e-4).eval()
    out = model(kspace, op)
    assert not out.requires_grad and model.last_info is not None and model.last_info.iterations <= 20


def test_training_depth_is_drawn_from_the_range_and_inference_runs_the_full_count() -> None:
    """train_iterations_min: each training forward runs a seeded count in [min, train_iterations] (the
    last one differentiated); evaluation runs ``iterations``."""
    _, kspace, op = _slice("cartesian")
    model = _model("imunne", iterations=9, train_iterations=6, train_iterations_min=2).train()
    torch.manual_seed(0)
    counts = []
    for _ in range(12):
        model(kspace, op)
        assert model.last_info is not None
        counts.append(model.last_info.iterations)
    assert set(counts) <= set(range(2, 7)) and len(set(counts)) >= 3, counts
    torch.manual_seed(0)
    again = []
    for _ in range(12):
        model(kspace, op)
        again.append(model.last_info.iterations)
    assert again == counts
    with torch.no_grad():
        model.eval()(kspace, op)
    assert model.last_info.iterations == 9


@pytest.mark.parametrize("kind", ["radial", "cartesian"])
def test_contractive_imunne_has_one_fixed_point_whatever_the_start(kind: str) -> None:
    """With the contractive regulariser (``contractive=True``) plain iteration converges, and to one image
    from the gridded start and from zero: a unique fixed point, as an implicit network needs. The plain
    CU-Net regulariser leaves the null space of A undamped, so its iterates keep moving."""
    _, kspace, op = _slice(kind)
    model = _model("imunne", iterations=200, tol=1e-6, contractive=True).eval()
    with torch.no_grad():
        from_gridding = model(kspace, op)
        info = model.last_info
        from_zero = model(kspace, op, x0=torch.zeros_like(from_gridding))
    assert info is not None and info.iterations < 200 and info.relative_change < 1e-6
    assert float((from_gridding - from_zero).norm() / from_gridding.norm()) < 1e-4
    plain = _model("imunne", iterations=200, tol=1e-6, contractive=False).eval()
    with torch.no_grad():
        plain(kspace, op)
    assert plain.last_info is not None and plain.last_info.iterations > info.iterations


def test_relaxation_averages_each_step_and_keeps_the_fixed_point() -> None:
    """relaxation=a iterates x + a (f(x) - x): checked step by step against the block, and on the
    contractive variant it converges to the same image as plain iteration."""
    _, kspace, op = _slice("radial")
    model = _model("imunne", iterations=3, tol=0.0, relaxation=0.4, canonical_phase=False).eval()
    block, gridded = model.block, op.gridding(kspace).to(torch.complex64)
    with torch.no_grad():
        out = model(kspace, op)
        x = gridded
        for _ in range(3):
            x = x + 0.4 * (block(x, op, gridded) - x)
    torch.testing.assert_close(out, x)
    images = []
    for relaxation in (1.0, 0.5):
        contractive = _model("imunne", iterations=400, tol=1e-7, contractive=True, relaxation=relaxation)
        with torch.no_grad():
            images.append(contractive.eval()(kspace, op))
        assert contractive.last_info is not None and contractive.last_info.iterations < 400
    assert float((images[0] - images[1]).norm() / images[0].norm()) < 1e-4


def test_spectral_norm_bounds_each_convolution_and_the_network() -> None:
    """Each normalised convolution has operator norm <= 1 (checked by an independent power iteration on
    a larger volume with autograd's adjoint), and so the whole CU-Net cannot amplify a perturbation,
    on 4 frames or 20, even with weights scaled far beyond norm one."""
    torch.manual_seed(0)
    net = CUNet(chans=4, depth=2, spectral_norm=True).train()
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(50.0)
    for _ in range(40):  # the persistent power iterations converge over training calls
        net(torch.randn(2, 16, 16, dtype=torch.complex64))
    net.eval()
    for conv in (m for m in net.modules() if hasattr(m, "block_weight")):
        weight = conv.block_weight().detach()
        x = torch.randn(1, weight.shape[1], 12, 24, 24, dtype=torch.float64)
        for _ in range(50):
            x = x.detach().requires_grad_(True)
            y = torch.nn.functional.conv3d(x, weight.double(), padding=conv.padding)
            (x,) = torch.autograd.grad(y, x, y)  # W^T W x
            x = x / x.norm()
        norm = float(torch.nn.functional.conv3d(x.detach(), weight.double(), padding=conv.padding).norm())
        assert norm <= 1.0, norm
    for frames in (4, 20):
        x = torch.randn(frames, 24, 24, dtype=torch.complex64)
        d = torch.randn_like(x)
        with torch.no_grad():
            gain = float((net(x + 1e-3 * d) - net(x)).norm() / (1e-3 * d.norm()))
        assert gain <= 1.0, (frames, gain)


def test_shipped_imunne_beats_its_baselines_and_cs_on_the_sample(repo_root) -> None:
    """The README's first command, in-process: the shipped weights on the bundled radial cine are closer
    to the ground truth than gridding, the shipped CU-Net and Alt-UN, and `cs` with its defaults, in SSIM
    and NRMSE, as the README says. (They are a fixed-depth network: exactly the iterations they were
    trained at; see their model card.)"""
    from recon_cli.coils import estimate_maps
    from recon_cli.evaluate import intensity_scale
    from recon_cli.io import read_scan
    from recon_cli.metrics import nrmse, ssim

    scan = read_scan(repo_root / "sample_data" / "radial_cine.h5")
    maps = estimate_maps(scan, method="espirit")
    reference = scan.reference.numpy().astype("float64")
    scores = {}
    for name in ("zero-filled", "cunet", "alt-un", "cs", "imunne"):
        model = load_model(name, device="cpu")
        # as `recon reconstruct` runs them: zero-filled combines coils by root-sum-of-squares
        used = None if name == "zero-filled" else maps
        image = reconstruct_scan(scan, model, maps=used).abs().numpy().astype("float64")
        image = image * intensity_scale(image, reference, "lstsq")
        scores[name] = (ssim(reference, image), nrmse(reference, image))
        if name == "imunne":
            info = model.module.last_info
            depth = model.config.train_iterations  # what the weights were trained at
            assert info is not None and info.iterations == model.config.iterations == depth, info
            assert model.config.tol == 0 and model.config.start_smoothing > 0 and model.config.view_share
    assert scores["imunne"][0] > scores["zero-filled"][0] + 0.1, scores
    assert scores["imunne"][1] < scores["zero-filled"][1], scores
    for rival in ("cunet", "alt-un", "cs"):
        assert scores["imunne"][0] > scores[rival][0] and scores["imunne"][1] < scores[rival][1], (
            rival,
            scores,
        )


@pytest.mark.parametrize("value", [1e-3, 0.05, 0.5, 1.0, 10.0, 800.0])
def test_softplus_inverse_inverts_torch_softplus_even_for_large_values(value: float) -> None:
    from recon_cli.nn.positive import softplus_inverse

    raw = torch.tensor(softplus_inverse(value), dtype=torch.float64)
    assert float(torch.nn.functional.softplus(raw)) == pytest.approx(value, rel=1e-12)
    with pytest.raises(ValueError, match="positive"):
        softplus_inverse(0.0)


def test_data_gradient_is_the_gradient_of_the_data_term() -> None:
    """A^H (A x - y) against autograd of 1/2 ||A x - y||^2 on a Cartesian multi-coil operator."""
    from recon_cli.nn.unrolled import data_gradient

    truth, maps, scan = small_cine("cartesian", n=16, frames=2, coils=3, seed=4)
    op = build_operator(scan, 0, maps)
    y = scan.kspace[0]
    gen = torch.Generator().manual_seed(5)
    x = torch.randn((2, 16, 16, 2), generator=gen).to(torch.float32)
    x = torch.view_as_complex(x).requires_grad_(True)
    loss = 0.5 * (op(x) - y).abs().pow(2).sum()
    (grad,) = torch.autograd.grad(loss, x)  # torch gives the conjugate Wirtinger gradient times 2
    expected = data_gradient(x.detach(), op, op.gridding(y))
    assert torch.allclose(expected, grad, atol=1e-4 * float(grad.abs().max()))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_networks_do_not_depend_on_the_global_phase_of_the_coil_maps(name: str) -> None:
    """Maps turned by a global phase e^{i t} (another estimator's convention) describe the same data with
    the image turned by e^{-i t}: with canonical_phase the network's output turns with it and its
    magnitude stays; without it the magnitude changes (the network is not phase-invariant)."""
    _, maps, scan = _scan("radial")
    kspace, turn = scan.kspace[0], torch.polar(torch.tensor(1.0), torch.tensor(2.0)).to(torch.complex64)
    op, turned = build_operator(scan, 0, maps), build_operator(scan, 0, maps * turn)
    outputs = {}
    for canonical in (True, False):
        model = _model(name, canonical_phase=canonical).eval()
        with torch.no_grad():
            outputs[canonical] = (model(kspace, op), model(kspace, turned))
    plain, rotated = outputs[True]
    torch.testing.assert_close(rotated, plain * turn.conj(), rtol=1e-4, atol=1e-5 * float(plain.abs().max()))
    plain, rotated = outputs[False]
    change = (rotated.abs() - plain.abs()).norm() / plain.abs().norm()
    assert change > 1e-4, change  # float rounding alone: about 1e-7

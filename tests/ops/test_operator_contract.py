"""One contract for every linear operator: adding an operator means adding a builder to ``CASES``.

Each operator must be linear, have a true adjoint (dot-product test), a normal operator equal to the
adjoint after the forward (and ``normal(x, weighted=True)`` equal to ``gridding(forward(x))``), autograd
gradients equal to the adjoint, accept complex64 and complex128 on every device this machine has, and
reject bad input with an error naming the operator. References here are the operator's own pieces; the
pieces themselves are checked against independent references (numpy FFT, sigpy, BART) elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch

from recon_cli.errors import ModelError
from recon_cli.ops.base import LinearOperator
from recon_cli.ops.cartesian import CartesianSense
from recon_cli.ops.nufft import NonCartesianSense, available_backends
from recon_cli.sampling import golden_angle_radial

FRAMES, COILS, NY, NX = 3, 4, 16, 12


def _complex(
    shape: tuple[int, ...], gen: torch.Generator, dtype: torch.dtype = torch.complex64
) -> torch.Tensor:
    return torch.randn(shape, generator=gen, dtype=dtype)


def _maps(gen: torch.Generator) -> torch.Tensor:
    maps = _complex((COILS, NY, NX), gen)
    return maps / maps.abs().pow(2).sum(0).sqrt()


def _line_mask(gen: torch.Generator, frames: int) -> torch.Tensor:
    return torch.rand((frames, 1, 1, NX), generator=gen) < 0.5


def _radial(frames: int) -> torch.Tensor:
    return torch.from_numpy(golden_angle_radial(5, frames, 2 * NY))


def _dcf(gen: torch.Generator, frames: int) -> torch.Tensor:
    return torch.rand((frames, 1, 5 * 2 * NY), generator=gen) + 0.5


@dataclass(frozen=True)
class Case:
    """An operator builder and what its normal operator may deviate from adjoint after forward.

    ``normal_rtol`` is the relative tolerance of ``normal`` against ``adjoint(forward(x))``: rounding for
    exact forms, the NUFFT's approximation error for Toeplitz embeddings.
    """

    name: str
    build: Callable[[torch.Generator], LinearOperator]
    normal_rtol: float = 1e-5
    backend: str | None = None


def _nufft(
    backend: str, maps: bool, traj_frames: int, toeplitz: bool = True, coil_chunk: int | None = None
) -> Callable[..., LinearOperator]:
    def build(gen: torch.Generator) -> LinearOperator:
        return NonCartesianSense(
            COILS,
            (NY, NX),
            _radial(traj_frames),
            maps=_maps(gen) if maps else None,
            dcf=_dcf(gen, traj_frames),
            backend=backend,
            toeplitz=toeplitz,
            coil_chunk=coil_chunk,
        )

    return build


CASES = [
    Case("cartesian-coils-full", lambda g: CartesianSense((COILS, NY, NX))),
    Case("cartesian-coils-static", lambda g: CartesianSense((COILS, NY, NX), mask=_line_mask(g, 1))),
    Case("cartesian-sense-static", lambda g: CartesianSense((COILS, NY, NX), _line_mask(g, 1), _maps(g))),
    Case("cartesian-sense-cine", lambda g: CartesianSense((COILS, NY, NX), _line_mask(g, FRAMES), _maps(g))),
    Case(
        "cartesian-sense-cine-2d-mask",
        lambda g: CartesianSense(
            (COILS, NY, NX), torch.rand((FRAMES, 1, NY, NX), generator=g) < 0.3, _maps(g)
        ),
    ),
    Case(
        "cartesian-sense-cine-coil-chunks",
        lambda g: CartesianSense((COILS, NY, NX), _line_mask(g, FRAMES), _maps(g), coil_chunk=3),
    ),
    Case("finufft-sense-coil-chunks", _nufft("finufft", True, FRAMES, coil_chunk=3), 2e-4, "finufft"),
    Case("finufft-coils-per-frame", _nufft("finufft", False, FRAMES), 2e-4, "finufft"),
    Case("finufft-sense-per-frame", _nufft("finufft", True, FRAMES), 2e-4, "finufft"),
    Case("finufft-sense-shared-traj", _nufft("finufft", True, 1), 2e-4, "finufft"),
    Case("finufft-sense-direct-normal", _nufft("finufft", True, FRAMES, toeplitz=False), 1e-5, "finufft"),
    Case("torchkbnufft-coils-per-frame", _nufft("torchkbnufft", False, FRAMES), 3e-3, "torchkbnufft"),
    Case("torchkbnufft-sense-per-frame", _nufft("torchkbnufft", True, FRAMES), 3e-3, "torchkbnufft"),
    Case("torchkbnufft-sense-shared-traj", _nufft("torchkbnufft", True, 1), 3e-3, "torchkbnufft"),
    Case(
        "torchkbnufft-sense-coil-chunks", _nufft("torchkbnufft", True, 1, coil_chunk=1), 3e-3, "torchkbnufft"
    ),
]
DTYPES = [torch.complex64, torch.complex128]
# adjointness and linearity hold to rounding (FINUFFT's forward and adjoint are separate approximations
# with errors ~eps: 2e-5 single, 1e-9 double)
DOT_RTOL = {torch.complex64: 1e-4, torch.complex128: 1e-7}


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def _vdot(a: torch.Tensor, b: torch.Tensor) -> complex:
    return complex(torch.vdot(a.flatten(), b.flatten()))


@dataclass
class Probe:
    """An operator on its device, with the generator that built it for the random inputs of a test."""

    op: LinearOperator
    device: torch.device
    rng: torch.Generator

    def domain(self, dtype: torch.dtype = torch.complex64) -> torch.Tensor:
        """A random batch of FRAMES images: (FRAMES, *op.domain_shape) on the operator's device."""
        return _complex((FRAMES, *self.op.domain_shape), self.rng, dtype).to(self.device)

    def range(self, dtype: torch.dtype = torch.complex64) -> torch.Tensor:
        """A random batch of FRAMES k-space arrays: (FRAMES, *op.range_shape) on the operator's device."""
        return _complex((FRAMES, *self.op.range_shape), self.rng, dtype).to(self.device)


@pytest.fixture(params=CASES, ids=[c.name for c in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param


@pytest.fixture
def probe(case: Case, device: torch.device, rng: torch.Generator) -> Probe | None:
    """The case's operator on ``device``, or None after checking it refuses clearly a backend not
    installed there."""
    op = case.build(rng).to(device)
    if case.backend is not None and case.backend not in available_backends(device):
        x = torch.zeros((FRAMES, *op.domain_shape), dtype=torch.complex64, device=device)
        with pytest.raises(ModelError, match=f"NonCartesianSense: backend '{case.backend}' is not installed"):
            op(x)
        return None
    return Probe(op, device, rng)


@pytest.mark.parametrize("dtype", DTYPES, ids=["c64", "c128"])
def test_adjoint_passes_the_dot_product_test(probe: Probe | None, dtype: torch.dtype) -> None:
    if probe is None:
        return
    op, x, y = probe.op, probe.domain(dtype), probe.range(dtype)
    ax, aty = op(x), op.adjoint(y)
    assert ax.dtype == aty.dtype == dtype and ax.device.type == aty.device.type == probe.device.type
    lhs, rhs = _vdot(ax, y), _vdot(x, aty)
    assert abs(lhs - rhs) <= DOT_RTOL[dtype] * abs(lhs)


def test_forward_and_adjoint_are_linear(probe: Probe | None) -> None:
    if probe is None:
        return
    op = probe.op
    x1, x2 = probe.domain(), probe.domain()
    y1, y2 = probe.range(), probe.range()
    a, b = 0.7 - 1.3j, -2.1 + 0.4j
    assert _relative(op(a * x1 + b * x2), a * op(x1) + b * op(x2)) < 1e-5
    assert _relative(op.adjoint(a * y1 + b * y2), a * op.adjoint(y1) + b * op.adjoint(y2)) < 1e-5


@pytest.mark.parametrize("dtype", DTYPES, ids=["c64", "c128"])
def test_normal_equals_adjoint_after_forward(case: Case, probe: Probe | None, dtype: torch.dtype) -> None:
    if probe is None:
        return
    op, x = probe.op, probe.domain(dtype)
    normal = op.normal(x)
    assert normal.dtype == dtype and normal.shape == x.shape
    assert _relative(normal, op.adjoint(op(x))) < case.normal_rtol
    assert _relative(op.normal(x, weighted=True), op.gridding(op(x))) < case.normal_rtol
    assert _vdot(x, normal).real > 0 and abs(_vdot(x, normal).imag) < 1e-4 * abs(_vdot(x, normal))


def test_gradients_are_the_adjoint(probe: Probe | None) -> None:
    """d/dx 0.5 ||A x - y||^2 = A^H (A x - y); d/dy Re<A^H y, z> = A z; d/dx Re<A^H A x, z> = A^H A z."""
    if probe is None:
        return
    op = probe.op
    x, y, z = probe.domain().requires_grad_(True), probe.range().requires_grad_(True), probe.domain()
    (grad_x,) = torch.autograd.grad(0.5 * (op(x) - y.detach()).abs().pow(2).sum(), x)
    with torch.no_grad():
        assert _relative(grad_x, op.adjoint(op(x) - y)) < 1e-5
    (grad_y,) = torch.autograd.grad(torch.vdot(op.adjoint(y).flatten(), z.flatten()).real, y)
    (grad_n,) = torch.autograd.grad(torch.vdot(op.normal(x).flatten(), z.flatten()).real, x)
    with torch.no_grad():
        assert _relative(grad_y, op(z)) < 1e-5
        assert _relative(grad_n, op.normal(z)) < 1e-5


def test_gradients_reach_the_coil_maps(probe: Probe | None) -> None:
    """Maps learned end to end (E2E-VarNet style) need gradients through forward, adjoint and normal."""
    if probe is None or probe.op.maps is None:
        return
    op = probe.op
    op.maps.requires_grad_(True)
    x = probe.domain()
    for apply in (op.forward, op.normal, lambda v: op.adjoint(op(v))):
        (grad,) = torch.autograd.grad(apply(x).abs().pow(2).sum(), op.maps)
        assert grad.shape == op.maps.shape and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_bad_input_is_refused_naming_the_operator(probe: Probe | None) -> None:
    if probe is None:
        return
    op, rng, device = probe.op, probe.rng, probe.device
    name = type(op).__name__
    x = probe.domain()
    with pytest.raises(ModelError, match=f"{name}: image must be complex64 or complex128"):
        op(x.real)
    with pytest.raises(ModelError, match=f"{name}: image must have shape"):
        op(x[..., :-1])
    y = _complex((FRAMES, *op.range_shape[:-1], op.range_shape[-1] + 1), rng).to(device)
    with pytest.raises(ModelError, match=f"{name}: k-space must have shape"):
        op.adjoint(y)
    with pytest.raises(ModelError, match=f"{name}: image must have shape"):
        op.normal(x[0])
    frames_fixed = any(
        getattr(op, b, None) is not None and getattr(op, b).shape[0] > 1 for b in ("mask", "traj", "_dcf")
    )
    if frames_fixed:
        with pytest.raises(ModelError, match=f"{name}: image has {FRAMES - 1} frames"):
            op(x[1:])


@pytest.mark.parametrize("chunk", [1, 3])
@pytest.mark.parametrize("kind", ["cartesian", "finufft"])
def test_coil_chunks_give_the_unchunked_operator(kind: str, chunk: int, rng: torch.Generator) -> None:
    """Forward, adjoint, gridding and normal of an operator that transforms ``chunk`` coils at a time equal
    those of the same operator on all coils at once (float rounding of the reordered coil sums only)."""
    maps = _maps(rng)
    if kind == "cartesian":
        mask = _line_mask(rng, FRAMES)
        whole: LinearOperator = CartesianSense((COILS, NY, NX), mask, maps)
        parts: LinearOperator = CartesianSense((COILS, NY, NX), mask, maps, coil_chunk=chunk)
    else:
        traj, dcf = _radial(FRAMES), _dcf(rng, FRAMES)
        whole = NonCartesianSense(COILS, (NY, NX), traj, maps=maps, dcf=dcf, backend="finufft")
        parts = NonCartesianSense(
            COILS, (NY, NX), traj, maps=maps, dcf=dcf, backend="finufft", coil_chunk=chunk
        )
    x = _complex((FRAMES, *whole.domain_shape), rng)
    y = _complex((FRAMES, *whole.range_shape), rng)
    for method, arg in (("forward", x), ("adjoint", y), ("gridding", y), ("normal", x)):
        assert _relative(getattr(parts, method)(arg), getattr(whole, method)(arg)) < 1e-6, method
    assert _relative(parts.normal(x, weighted=True), whole.normal(x, weighted=True)) < 1e-6

"""FINUFFT backend of the non-Cartesian operator: FINUFFT on CPU, cuFINUFFT on CUDA when installed.

Both transforms are wrapped in ``torch.autograd.Function`` s whose backward is the other transform (the
NUFFT is linear, so the gradient of the forward is the adjoint). Gradients flow to the image or k-space,
not to the trajectory.

Accuracy: single precision uses upsampling factor 1.25 with ``eps=2e-5``, the widest kernel (8) FINUFFT
allows there (smaller ``eps`` only prints a warning and gets the same kernel); it measures 2.4e-5
relative error on radial data, and runs as fast as ``eps=1e-4`` (8e-5), the FFT dominating. FINUFFT's own
choice at ``eps<=1e-5`` is upsampling 2: 8e-6, but 5-8x slower. Double precision asks for ``eps=1e-9``
and lets FINUFFT choose the upsampling.

On CPU, one FINUFFT plan per frame (all coils as one batch of ``n_trans`` vectors, all frames in one
plan when they share the trajectory) is made on first use and reused, so the points are sorted once.
Plans use ``torch.get_num_threads()`` threads, one for batches smaller than 8 coils of 90x90. FINUFFT
brings its own OpenMP runtime: on a loaded machine set ``OMP_WAIT_POLICY=passive`` so that its threads
and torch's do not spin against each other.

On CUDA it uses cuFINUFFT's simple interface frame by frame (no plan reuse), when cufinufft is
installed; that path has not run on a GPU yet. Without cufinufft the CUDA default is torchkbnufft.
"""

from __future__ import annotations

import functools
import math
import threading
from typing import Any

import numpy as np
import torch
from torch import nn

from recon_cli.ops.functional import sense_expand, sense_reduce

# (eps, upsampling factor; 0 lets FINUFFT choose) per precision
_ACCURACY = {torch.complex64: (2e-5, 1.25), torch.complex128: (1e-9, 0.0)}
# below this many image values per transform batch (8 coils of 90x90) threads cost more than they save
_MIN_VALUES_PER_THREAD = 2**16


@functools.cache
def finufft_installed() -> bool:
    """Whether the CPU library imports."""
    try:
        import finufft  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


@functools.cache
def cufinufft_installed() -> bool:
    """Whether the CUDA library imports (it needs a CUDA-capable torch to be useful)."""
    if not torch.cuda.is_available():
        return False
    try:
        import cufinufft  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


class _PlanCache:
    """FINUFFT plans per (frames layout, batch, precision, threads) for one trajectory.

    The cache empties itself when the trajectory tensor changes, and copies of an operator (deepcopy,
    pickling) start with an empty cache: plans hold C pointers.
    """

    def __init__(self) -> None:
        self._plans: dict[tuple[Any, ...], list[Any]] = {}
        self._traj_key: tuple[Any, ...] | None = None
        self.lock = threading.Lock()

    def __deepcopy__(self, memo: dict[int, Any]) -> _PlanCache:
        return _PlanCache()

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    def plans(
        self, traj: torch.Tensor, im_size: tuple[int, int], n_trans: int, dtype: torch.dtype
    ) -> list[Any]:
        """One type-2 plan per trajectory frame, points set. traj: (frames or 1, 2, samples) CPU."""
        import finufft

        traj_key = (traj.data_ptr(), _version(traj), tuple(traj.shape), traj.dtype)
        if traj_key != self._traj_key:
            self._plans.clear()
            self._traj_key = traj_key
        values = n_trans * im_size[0] * im_size[1]
        threads = torch.get_num_threads() if values >= _MIN_VALUES_PER_THREAD else 1
        key = (n_trans, dtype, threads)
        if key not in self._plans:
            eps, upsampling = _ACCURACY[dtype]
            real = np.float32 if dtype == torch.complex64 else np.float64
            points = traj.detach().numpy().astype(real, copy=False)
            plans = []
            for frame in points:
                plan = finufft.Plan(
                    2,
                    im_size,
                    n_trans,
                    eps=eps,
                    isign=-1,
                    dtype="complex64" if dtype == torch.complex64 else "complex128",
                    nthreads=threads,
                    upsampfac=upsampling,
                    modeord=0,
                )
                plan.setpts(np.ascontiguousarray(frame[0]), np.ascontiguousarray(frame[1]))
                plans.append(plan)
            self._plans[key] = plans
        return self._plans[key]


class FinufftNufft(nn.Module):
    """Multi-coil NUFFT with FINUFFT, scaled like ``fft2c`` (see ``recon_cli.ops.nufft``).

    With coil maps on CPU the maps are applied frame by frame next to the transform (in cache, in
    numpy), unless the maps need gradients: then they are applied with torch outside it.

    Args:
        im_size: (ny, nx) of the images.
    """

    name = "finufft"

    def __init__(self, im_size: tuple[int, int]) -> None:
        super().__init__()
        self.im_size = (int(im_size[0]), int(im_size[1]))
        self._scale = 1.0 / math.sqrt(self.im_size[0] * self.im_size[1])
        self._cache = _PlanCache()

    def forward_nufft(
        self, images: torch.Tensor, traj: torch.Tensor, maps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """images: (frames, coils, ny, nx), or (frames, ny, nx) with maps (coils, ny, nx), complex64/128.

        traj: (frames or 1, 2, samples) radians/voxel, (ky, kx). Returns (frames, coils, samples).
        """
        if maps is not None and (maps.requires_grad or images.is_cuda):
            return _FinufftApply.apply(sense_expand(images, maps), traj, None, self, False)
        return _FinufftApply.apply(images, traj, maps, self, False)

    def adjoint_nufft(
        self, kspace: torch.Tensor, traj: torch.Tensor, maps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """kspace: (frames, coils, samples) complex64/128 -> (frames, coils, ny, nx), or (frames, ny, nx)
        combined with ``maps`` (coils, ny, nx)."""
        if maps is not None and (maps.requires_grad or kspace.is_cuda):
            return sense_reduce(_FinufftApply.apply(kspace, traj, None, self, True), maps)
        return _FinufftApply.apply(kspace, traj, maps, self, True)

    def execute(
        self, data: torch.Tensor, traj: torch.Tensor, maps: torch.Tensor | None, adjoint: bool
    ) -> torch.Tensor:
        """The transform without autograd: type 2 (image to samples) or its adjoint."""
        data = data.detach().resolve_conj().resolve_neg()
        if data.dtype not in _ACCURACY:
            raise TypeError(f"FINUFFT takes complex64 or complex128, got {data.dtype}")
        if adjoint:  # scale the k-space side, the smaller one
            data = data * self._scale
        if data.is_cuda:
            out = self._execute_cuda(data, traj, adjoint)
        else:
            out = self._execute_cpu(data, traj, maps, adjoint)
        return out if adjoint else out.mul_(self._scale)

    def _execute_cpu(
        self, data: torch.Tensor, traj: torch.Tensor, maps: torch.Tensor | None, adjoint: bool
    ) -> torch.Tensor:
        frames = int(data.shape[0])
        coils = int(data.shape[1]) if maps is None else int(maps.shape[0])
        samples = int(traj.shape[-1])
        shared = traj.shape[0] == 1
        plans = self._cache.plans(traj, self.im_size, frames * coils if shared else coils, data.dtype)
        array = data.contiguous().numpy()
        if maps is None:
            sens = None
        else:
            sens = maps.detach().to(data.dtype).resolve_conj().contiguous().numpy()
            sens = np.stack([sens, sens.conj()])  # (2, coils, ny, nx): maps and their conjugates
        if adjoint:
            out_shape = (frames, *self.im_size) if sens is not None else (frames, coils, *self.im_size)
        else:
            out_shape = (frames, coils, samples)
        out = np.empty(out_shape, dtype=array.dtype)
        blocks = (
            [(plans[0], array, out)]
            if shared
            else [(p, array[f : f + 1], out[f : f + 1]) for f, p in enumerate(plans)]
        )
        with self._cache.lock:
            for plan, src, dst in blocks:
                _transform(plan, src, dst, sens, adjoint)
        return torch.from_numpy(out)

    def _execute_cuda(self, data: torch.Tensor, traj: torch.Tensor, adjoint: bool) -> torch.Tensor:
        if not cufinufft_installed():
            raise RuntimeError("the FINUFFT backend needs cufinufft on CUDA; use backend='torchkbnufft'")
        import cufinufft

        eps, _ = _ACCURACY[data.dtype]
        real = torch.float32 if data.dtype == torch.complex64 else torch.float64
        points = traj.detach().to(real)
        data = data.contiguous()
        options = {"eps": eps, "gpu_device_id": data.device.index or 0}
        outs = []
        for frame in range(int(data.shape[0])):
            ky, kx = points[frame if points.shape[0] > 1 else 0].contiguous()
            if adjoint:
                outs.append(cufinufft.nufft2d1(ky, kx, data[frame], self.im_size, isign=1, **options))
            else:
                outs.append(cufinufft.nufft2d2(ky, kx, data[frame], isign=-1, **options))
        return torch.stack([torch.as_tensor(o, device=data.device) for o in outs])


def _transform(plan: Any, src: np.ndarray, dst: np.ndarray, sens: np.ndarray | None, adjoint: bool) -> None:
    """One plan on a block of frames. src/dst: (frames, coils, ...) or, with sens (the maps and their
    conjugates), (frames, ny, nx)."""
    frames = src.shape[0]
    if not adjoint:
        coil_images = src if sens is None else src[:, None] * sens[0]
        plan.execute(coil_images.reshape(-1, *coil_images.shape[2:]), out=dst.reshape(-1, dst.shape[-1]))
    elif sens is None:
        plan.execute_adjoint(src.reshape(-1, src.shape[-1]), out=dst.reshape(-1, *dst.shape[2:]))
    else:
        coil_images = plan.execute_adjoint(src.reshape(-1, src.shape[-1]))
        coil_images = coil_images.reshape(frames, -1, *coil_images.shape[1:])
        np.sum(coil_images * sens[1], axis=1, out=dst)


class _FinufftApply(torch.autograd.Function):
    """Type 2 (image to k-space) or, with ``adjoint``, type 1 (k-space to image); the backward of each is
    the other. Maps (optional) get no gradient."""

    @staticmethod
    def forward(
        ctx: Any,
        data: torch.Tensor,
        traj: torch.Tensor,
        maps: torch.Tensor | None,
        nufft: FinufftNufft,
        adjoint: bool,
    ) -> torch.Tensor:
        ctx.nufft, ctx.adjoint = nufft, adjoint
        ctx.save_for_backward(traj, maps)
        return nufft.execute(data, traj, maps, adjoint=adjoint)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None, None, None]:
        traj, maps = ctx.saved_tensors
        return _FinufftApply.apply(grad, traj, maps, ctx.nufft, not ctx.adjoint), None, None, None, None


def pipe_menon_weights_cpu(traj: torch.Tensor, im_size: tuple[int, int], iterations: int) -> torch.Tensor:
    """Pipe-Menon density weights with FINUFFT's spread/interpolate-only mode (no FFT, no deconvolution).

    Each iteration divides the weights by their own gridding, w <- w / C(C^T w): C^T spreads the
    samples onto the 2x oversampled grid with FINUFFT's kernel, C interpolates the grid back at the
    samples (Pipe and Menon 1999). At eps 1e-5 the kernel is as wide as torchkbnufft's (6 grid points),
    and the weights match torchkbnufft's Pipe-Menon weights (correlation 0.99998 on the sample), which the
    shipped networks were trained with; eps 1e-3 (4 points) differs by 17%.

    traj: (batch, 2, samples) float, radians/voxel, CPU. Returns (batch, 1, samples) float32,
    unnormalised.
    """
    import finufft

    grid = (2 * int(im_size[0]), 2 * int(im_size[1]))
    points = traj.detach().to(torch.float32).numpy()
    out = np.empty((points.shape[0], 1, points.shape[-1]), dtype=np.float32)
    for b, frame in enumerate(points):
        ky, kx = np.ascontiguousarray(frame[0]), np.ascontiguousarray(frame[1])
        plans = []
        for kind in (1, 2):
            plan = finufft.Plan(
                kind, grid, eps=1e-5, dtype="complex64", nthreads=1, spreadinterponly=1, upsampfac=2.0
            )
            plan.setpts(ky, kx)
            plans.append(plan)
        weights = np.ones(ky.shape, dtype=np.complex64)
        for _ in range(iterations):
            density = plans[1].execute(plans[0].execute(weights)).real
            weights = (weights.real / np.maximum(density, np.finfo(np.float32).tiny)).astype(np.complex64)
        out[b, 0] = weights.real
    return torch.from_numpy(out)


def _version(traj: torch.Tensor) -> int | str:
    """What changes when ``traj`` is written in place: its version counter, or for an inference tensor
    (which keeps none) a digest of its values."""
    if traj.is_inference():
        import hashlib

        return hashlib.sha1(traj.detach().contiguous().numpy().tobytes()).hexdigest()
    return traj._version

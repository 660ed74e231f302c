"""Non-Cartesian multi-coil operator and density compensation.

Trajectories are in radians/voxel in [-pi, pi), shape ``(frames or 1, 2, samples)`` ordered (ky, kx) for
an image of shape ``(ny, nx)``: torchkbnufft's ``omega`` convention. The NUFFT is scaled so that on
Cartesian points it equals the centred orthonormal FFT (``fft2c``). The NUFFT itself comes from a
backend (``recon_cli.ops.nufft_backends``): FINUFFT by default, torchkbnufft otherwise; the normal
operator uses a Toeplitz embedding (``recon_cli.ops.toeplitz``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import torch
from torch import nn

from recon_cli.errors import ModelError
from recon_cli.ops.base import LinearOperator, accumulate, coil_ranges
from recon_cli.ops.nufft_backends import (
    BACKENDS,
    NufftBackend,
    available_backends,
    default_backend,
    make_backend,
)
from recon_cli.ops.nufft_finufft import finufft_installed, pipe_menon_weights_cpu
from recon_cli.ops.toeplitz import toeplitz_kernel, toeplitz_normal

__all__ = [
    "NonCartesianSense",
    "available_backends",
    "default_backend",
    "nufft_adjoint",
    "nufft_forward",
    "pipe_menon_dcf",
    "ramp_dcf",
]


def pipe_menon_dcf(traj: torch.Tensor, im_size: Sequence[int], iterations: int = 10) -> torch.Tensor:
    """Pipe-Menon density compensation. traj: (batch, 2, samples) float -> (batch, 1, samples) float.

    Scaled by ``_normalise_dcf`` so that gridding keeps the image's mean (DC) intensity.
    """
    size = (int(im_size[0]), int(im_size[1]))
    if traj.device.type == "cpu" and finufft_installed():
        # FINUFFT spreads and interpolates about 50x faster than torchkbnufft's tables on CPU
        dcf = pipe_menon_weights_cpu(traj, size, iterations)
    else:
        import torchkbnufft as tkbn

        dcf = tkbn.calc_density_compensation_function(traj, im_size=size, num_iterations=iterations)
        dcf = dcf.real if dcf.is_complex() else dcf
    return _normalise_dcf(dcf.reshape(traj.shape[0], 1, traj.shape[-1]).to(traj.device), traj, im_size)


def ramp_dcf(traj: torch.Tensor, im_size: Sequence[int]) -> torch.Tensor:
    """Analytic radial ramp |k|, with the centre sample weighted as a disc of radius a quarter step.

    traj: (batch, 2, samples) -> (batch, 1, samples), scaled like ``pipe_menon_dcf``.
    """
    radius = torch.linalg.vector_norm(traj, dim=1, keepdim=True)
    floor = math.pi / max(im_size) / 4
    return _normalise_dcf(torch.clamp(radius, min=floor), traj, im_size)


def _normalise_dcf(dcf: torch.Tensor, traj: torch.Tensor, im_size: Sequence[int]) -> torch.Tensor:
    """Scale each batch entry of ``dcf`` so that gridding preserves the DC level.

    Data of all ones is the k-space of a centred point of amplitude ``sqrt(prod(im_size))`` (orthonormal
    FFT); its gridding must integrate to that amplitude. This fixes the weights' absolute scale whatever
    the trajectory and its undersampling, which a fixed sum of weights does not.
    """
    size = (int(im_size[0]), int(im_size[1]))
    n = math.sqrt(float(size[0] * size[1]))
    nufft = make_backend(default_backend(traj.device), size).to(traj.device)
    with torch.no_grad():
        psf = nufft.adjoint_nufft(dcf.to(torch.complex64), traj.to(torch.float32))
    total = psf.real.sum(dim=(-2, -1)).reshape(-1, 1, 1)
    return dcf * (n / total.clamp_min(torch.finfo(total.dtype).tiny))


class NonCartesianSense(LinearOperator):
    """y = F_traj S x per frame.

    Args:
        coils: number of coils.
        im_size: (ny, nx) of the image.
        traj: (frames or 1, 2, samples) radians/voxel, (ky, kx).
        maps: (coils, ny, nx) complex, or None: then the image domain holds coil images.
        dcf: (frames or 1, 1, samples) density compensation, the data weights of ``gridding`` and of
            ``normal(x, weighted=True)``; None computes Pipe-Menon weights when first needed.
        backend: "auto" (``default_backend`` of the input's device), "finufft" or "torchkbnufft".
        toeplitz: apply ``normal`` as a Toeplitz-embedded convolution (kernels computed on first use
            and cached) instead of adjoint after forward.
        coil_chunk: with maps, transform this many coils at a time (forward: concatenated; adjoint and
            normal: accumulated over the chunks), so the coil images of only one chunk are alive at once;
            None: all coils together. The result equals the unchunked one up to the order of the sums.

    Inputs may be complex64 or complex128 on any backend; torchkbnufft's accuracy stays ~1e-3 in
    double precision. Gradients flow to images, k-space and coil maps, not to the trajectory.
    """

    traj: torch.Tensor
    maps: torch.Tensor | None
    _dcf: torch.Tensor | None
    toeplitz_kernel: torch.Tensor | None
    toeplitz_kernel_weighted: torch.Tensor | None

    def __init__(
        self,
        coils: int,
        im_size: tuple[int, int],
        traj: torch.Tensor,
        maps: torch.Tensor | None = None,
        dcf: torch.Tensor | None = None,
        *,
        backend: str = "auto",
        toeplitz: bool = True,
        coil_chunk: int | None = None,
    ) -> None:
        super().__init__()
        if backend != "auto" and backend not in BACKENDS:
            raise ModelError(f"NonCartesianSense: unknown backend {backend!r}; choose 'auto' or {BACKENDS}")
        if traj.dim() != 3 or traj.shape[1] != 2:
            raise ModelError(f"NonCartesianSense: traj must be (frames, 2, samples), got {tuple(traj.shape)}")
        ny, nx = (int(n) for n in im_size)
        self.im_size = (ny, nx)
        self.range_shape = (int(coils), int(traj.shape[-1]))
        self.domain_shape = (ny, nx) if maps is not None else (int(coils), ny, nx)
        self.backend = backend
        self.toeplitz = toeplitz
        self.coil_chunks = coil_ranges(int(coils), coil_chunk if maps is not None else None)
        self.register_buffer("traj", traj.detach().to(torch.float32))
        self.register_buffer("maps", maps)
        self.register_buffer("_dcf", dcf)
        self.register_buffer("toeplitz_kernel", None, persistent=False)
        self.register_buffer("toeplitz_kernel_weighted", None, persistent=False)
        self._nufft = nn.ModuleDict()

    def backend_for(self, device: torch.device) -> str:
        """The backend name used for inputs on ``device``."""
        name = default_backend(device) if self.backend == "auto" else self.backend
        if name not in available_backends(device):
            raise ModelError(f"NonCartesianSense: backend {name!r} is not installed for {device.type}")
        return name

    def _nufft_for(self, t: torch.Tensor) -> NufftBackend:
        name = self.backend_for(t.device)
        if name not in self._nufft:
            self._nufft[name] = make_backend(name, self.im_size).to(t.device)
        return cast(NufftBackend, self._nufft[name])

    def _check_frames(self, t: torch.Tensor, what: str) -> None:
        for name, buf in (("trajectory", self.traj), ("density compensation", self._dcf)):
            if buf is not None and buf.shape[0] > 1 and buf.shape[0] != t.shape[0]:
                raise ModelError(
                    f"NonCartesianSense: {what} has {t.shape[0]} frames but the {name} has {buf.shape[0]}"
                )

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_frames(x, "image")
        nufft = self._nufft_for(x)
        if self.maps is None or len(self.coil_chunks) == 1:
            return nufft.forward_nufft(x, self.traj, self.maps)
        return torch.cat([nufft.forward_nufft(x, self.traj, self.maps[c]) for c in self.coil_chunks], dim=1)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        self._check_frames(y, "k-space")
        nufft = self._nufft_for(y)
        if self.maps is None or len(self.coil_chunks) == 1:
            return nufft.adjoint_nufft(y, self.traj, self.maps)
        maps = self.maps
        return accumulate(
            lambda c: nufft.adjoint_nufft(y[:, c].contiguous(), self.traj, maps[c]), self.coil_chunks
        )

    @property
    def dcf(self) -> torch.Tensor:
        """The data weights (frames or 1, 1, samples) real; Pipe-Menon weights computed on first use."""
        if self._dcf is None:
            with torch.inference_mode(False), torch.no_grad():
                self._dcf = pipe_menon_dcf(self.traj, self.im_size)
        return self._dcf

    def _weight(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.dcf.to(y.real.dtype)

    def _normal(self, x: torch.Tensor, weighted: bool = False) -> torch.Tensor:
        self._check_frames(x, "image")
        if not self.toeplitz:
            return super()._normal(x, weighted)
        kernel, maps = self._kernel(weighted), self.maps
        if maps is None or len(self.coil_chunks) == 1:
            return toeplitz_normal(x, kernel, maps)
        return accumulate(lambda c: toeplitz_normal(x, kernel, maps[c]), self.coil_chunks)

    def _kernel(self, weighted: bool) -> torch.Tensor:
        """Toeplitz kernel (frames or 1, 2 ny, 2 nx) real, computed once per weighting and cached."""
        name = "toeplitz_kernel_weighted" if weighted else "toeplitz_kernel"
        kernel = getattr(self, name)
        if kernel is None:
            with torch.inference_mode(False), torch.no_grad():
                weights = self.dcf[:, 0] if weighted else torch.ones_like(self.traj[:, 0])
                frames = max(int(weights.shape[0]), int(self.traj.shape[0]))
                traj = self.traj.expand(frames, -1, -1)
                weights = weights.expand(frames, -1)
                size_2x = (2 * self.im_size[0], 2 * self.im_size[1])
                # the most accurate installed backend for this device: FINUFFT on CPU
                device = self.traj.device
                nufft_2x = make_backend(default_backend(device), size_2x).to(device)
                kernel = toeplitz_kernel(lambda w: nufft_2x.adjoint_nufft(w, traj), weights, self.im_size)
            setattr(self, name, kernel)
        return kernel


def nufft_adjoint(
    kspace: torch.Tensor,
    traj: torch.Tensor,
    im_size: Sequence[int],
    dcf: torch.Tensor | None = None,
    backend: str = "auto",
) -> torch.Tensor:
    """Gridding of coil data. kspace: (batch, coils, samples); traj: (batch or 1, 2, samples).

    Returns coil images (batch, coils, ny, nx); with ``dcf`` from ``pipe_menon_dcf`` this matches the
    inverse FFT of fully sampled Cartesian data.
    """
    size = (int(im_size[0]), int(im_size[1]))
    op = NonCartesianSense(kspace.shape[1], size, traj, backend=backend).to(kspace.device)
    weighted = kspace if dcf is None else kspace * dcf.to(kspace.dtype)
    return op.adjoint(weighted)


def nufft_forward(image: torch.Tensor, traj: torch.Tensor, backend: str = "auto") -> torch.Tensor:
    """Forward NUFFT. image: (batch, coils, ny, nx); traj: (batch or 1, 2, samples).

    Returns (batch, coils, samples).
    """
    im_size = (int(image.shape[-2]), int(image.shape[-1]))
    op = NonCartesianSense(image.shape[1], im_size, traj, backend=backend).to(image.device)
    return op(image)

"""The view-shared (temporal-average) image of a cine slice: every frame's samples gridded together.

Real-time cine undersamples each frame hard (13 spokes of a 128 matrix), but the frames together sample
k-space almost fully: gridding all of them at once gives an image with few aliasing artefacts that
carries the static anatomy, blurred only where things move. Networks take it as one extra complex input
channel (``view_share`` in the configs of ``cunet``, ``alt-un`` and ``imunne``), as KWIC-style view
sharing does for the IMUNNE authors' Cartesian variant.

* Non-Cartesian: the adjoint NUFFT of all frames' samples on their concatenated trajectory, with
  Pipe-Menon density compensation of that trajectory (normalised like every frame's, so the DC level,
  and hence the scale, is the per-frame gridding's), coil-combined with the operator's maps.
* Cartesian: each k-space location averaged over the frames that sampled it (zero where none did), then
  the coil-combined inverse FFT: the same scale as the zero-filled frames.

Computed once per slice, outside autocast (complex64), without parameters.
"""

from __future__ import annotations

import hashlib

import torch

from recon_cli.errors import ModelError
from recon_cli.ops.base import LinearOperator
from recon_cli.ops.cartesian import CartesianSense
from recon_cli.ops.nufft import NonCartesianSense, pipe_menon_dcf

_DCF_CACHE: dict[tuple[str, tuple[int, int]], torch.Tensor] = {}
_DCF_CACHE_SIZE = 16


def concatenated_trajectory(traj: torch.Tensor, frames: int) -> torch.Tensor:
    """All frames' samples as one trajectory.

    Args:
        traj: (frames or 1, 2, samples) float radians/voxel.
        frames: Number of frames of the data.

    Returns:
        (1, 2, frames * samples) float32, frame 0's samples first.
    """
    traj = traj.to(torch.float32).expand(frames, -1, -1)
    return traj.permute(1, 0, 2).reshape(1, 2, -1).contiguous()


def shared_density(traj: torch.Tensor, im_size: tuple[int, int]) -> torch.Tensor:
    """Pipe-Menon weights of a concatenated trajectory, cached by its content (trajectories repeat).

    Args:
        traj: (1, 2, n) float32.
        im_size: (ny, nx).

    Returns:
        (1, 1, n) float32 on ``traj``'s device.
    """
    digest = hashlib.sha1(traj.detach().cpu().numpy().tobytes()).hexdigest()
    key = (digest, (int(im_size[0]), int(im_size[1])))
    if key not in _DCF_CACHE:
        if len(_DCF_CACHE) >= _DCF_CACHE_SIZE:
            _DCF_CACHE.pop(next(iter(_DCF_CACHE)))
        with torch.inference_mode(False), torch.no_grad():
            _DCF_CACHE[key] = pipe_menon_dcf(traj.detach().cpu(), key[1])
    return _DCF_CACHE[key].to(traj.device)


def temporal_average(kspace: torch.Tensor, op: LinearOperator, model: str) -> torch.Tensor:
    """The view-shared image of one slice.

    Args:
        kspace: (frames, coils, samples) non-Cartesian or (frames, coils, ny, nx) Cartesian, complex64.
        op: The slice's operator with coil maps (``NonCartesianSense`` or ``CartesianSense``).
        model: Model name for error messages.

    Returns:
        (1, ny, nx) complex64.

    Raises:
        ModelError: no coil maps, or an operator of another kind.
    """
    if getattr(op, "maps", None) is None:
        raise ModelError(f"{model}: view_share needs coil maps (give --coils or let recon estimate them)")
    with torch.autocast(device_type=kspace.device.type, enabled=False):
        if isinstance(op, NonCartesianSense):
            return _radial_average(kspace, op)
        if isinstance(op, CartesianSense):
            return _cartesian_average(kspace, op)
    raise ModelError(f"{model}: view_share supports Cartesian and NUFFT operators, got {type(op).__name__}")


def _radial_average(kspace: torch.Tensor, op: NonCartesianSense) -> torch.Tensor:
    frames, coils = int(kspace.shape[0]), int(kspace.shape[1])
    traj = concatenated_trajectory(op.traj, frames)
    data = kspace.to(torch.complex64).permute(1, 0, 2).reshape(1, coils, -1)
    dcf = shared_density(traj, op.im_size)
    shared = NonCartesianSense(coils, op.im_size, traj, maps=op.maps, dcf=dcf, backend=op.backend)
    return shared.to(kspace.device).gridding(data).to(torch.complex64)


def _cartesian_average(kspace: torch.Tensor, op: CartesianSense) -> torch.Tensor:
    frames, coils, ny, nx = (int(n) for n in kspace.shape)
    if op.mask is None:
        average = kspace.mean(dim=0, keepdim=True)
    else:
        counts = torch.broadcast_to(op.mask, (frames, coils, ny, nx)).to(torch.float32).sum(0, keepdim=True)
        masked = kspace * op.mask.to(kspace.real.dtype)
        average = masked.sum(0, keepdim=True) / counts.clamp_min(1.0)
    shared = CartesianSense((coils, ny, nx), mask=None, maps=op.maps).to(kspace.device)
    return shared.adjoint(average.to(torch.complex64)).to(torch.complex64)

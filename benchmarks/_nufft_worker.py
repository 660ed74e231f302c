"""One tool of ``bench_nufft.py``, run in its own process: ``python -m benchmarks._nufft_worker TOOL DIR``.

Reads the shared data from DIR (``traj.npy`` (frames, 2, samples) radians/voxel (ky, kx),
``image.npy`` (frames, coils, ny, nx) and ``kspace.npy`` (frames, coils, samples) complex64), times
forward, adjoint and normal (median of repeats after warm-up), and writes ``TOOL.json`` (times in ms)
and ``TOOL_{forward,adjoint,normal}.npy`` (results in our layout) to DIR.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.harness import pinned_env, read_cfl, repeat_timed, run_checked, write_cfl

THREADS = 2
WARMUP, REPEATS, SLOW_REPEATS = 2, 9, 3

Timed = dict[str, Callable[[], np.ndarray]]


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    for _ in range(WARMUP):
        fn()
    times, _ = repeat_timed(fn, repeats)
    return 1e3 * float(np.median(times))


def _torch_setup() -> object:
    import torch

    torch.set_num_threads(THREADS)
    warnings.filterwarnings("ignore", message=".*torch.jit.script.*")
    return torch


def ours(data: Path, backend: str, toeplitz: bool = True, sense: bool = False) -> tuple[Timed, float]:
    """NonCartesianSense on coil images, or with ``sense`` on one image per frame and coil maps.

    setup = the first normal call (it computes the Toeplitz kernels).
    """
    torch = _torch_setup()
    from recon_cli.ops.nufft import NonCartesianSense

    traj, image, kspace = (torch.from_numpy(np.load(data / f"{n}.npy")) for n in ("traj", "image", "kspace"))
    maps = torch.from_numpy(np.load(data / "maps.npy")) if sense else None
    coils, size = image.shape[1], tuple(image.shape[-2:])
    image = image[:, 0] if sense else image
    op = NonCartesianSense(coils, size, traj, maps=maps, backend=backend, toeplitz=toeplitz)
    start = time.perf_counter()
    with torch.inference_mode():
        op.normal(image)
    setup = 1e3 * (time.perf_counter() - start)

    def run(fn: Callable[[object], object], arg: object) -> Callable[[], np.ndarray]:
        def call() -> np.ndarray:
            with torch.inference_mode():
                return fn(arg).numpy()

        return call

    return {
        "forward": run(op.forward, image),
        "adjoint": run(op.adjoint, kspace),
        "normal": run(op.normal, image),
    }, setup


def torchkbnufft_raw(data: Path) -> tuple[Timed, float]:
    """torchkbnufft defaults (table mode, 2x grid); normal with its Toeplitz kernel, frame by frame."""
    torch = _torch_setup()
    import torchkbnufft as tkbn

    traj, image, kspace = (torch.from_numpy(np.load(data / f"{n}.npy")) for n in ("traj", "image", "kspace"))
    size = tuple(image.shape[-2:])
    nufft, adjoint, toep = tkbn.KbNufft(im_size=size), tkbn.KbNufftAdjoint(im_size=size), tkbn.ToepNufft()
    start = time.perf_counter()
    kernel = tkbn.calc_toeplitz_kernel(traj, size)
    setup = 1e3 * (time.perf_counter() - start)

    def normal() -> np.ndarray:
        return torch.cat([toep(image[f : f + 1], kernel[f]) for f in range(image.shape[0])]).numpy()

    timed = {
        "forward": lambda: nufft(image, traj).numpy(),
        "adjoint": lambda: adjoint(kspace, traj).numpy(),
        "normal": normal,
    }
    return timed, setup


def finufft_raw(data: Path, plans: bool, eps: float = 1e-4, upsampfac: float = 0.0) -> tuple[Timed, float]:
    """FINUFFT frame by frame, coils as a batch of n_trans vectors; upsampling 0 lets FINUFFT choose."""
    import finufft

    traj, image, kspace = (np.load(data / f"{n}.npy") for n in ("traj", "image", "kspace"))
    frames, coils, ny, nx = image.shape
    options = {"eps": eps, "nthreads": THREADS, "upsampfac": upsampfac}
    start = time.perf_counter()
    if plans:
        made = [finufft.Plan(2, (ny, nx), coils, dtype="complex64", **options) for _ in range(frames)]
        for plan, points in zip(made, traj, strict=True):
            plan.setpts(points[0], points[1])

        def forward() -> np.ndarray:
            return np.stack([p.execute(image[f]) for f, p in enumerate(made)])

        def adjoint(k: np.ndarray = kspace) -> np.ndarray:
            return np.stack([p.execute_adjoint(k[f]) for f, p in enumerate(made)])
    else:

        def forward() -> np.ndarray:
            return np.stack([finufft.nufft2d2(*traj[f], image[f], **options) for f in range(frames)])

        def adjoint(k: np.ndarray = kspace) -> np.ndarray:
            return np.stack([finufft.nufft2d1(*traj[f], k[f], (ny, nx), **options) for f in range(frames)])

    setup = 1e3 * (time.perf_counter() - start)
    return {"forward": forward, "adjoint": adjoint, "normal": lambda: adjoint(forward())}, setup


def bart_cli(data: Path) -> tuple[Timed, float]:
    """``bart nufft`` (forward) and ``bart nufft -a`` on .cfl files; wall time of each command.

    setup = the same-sized ``bart ones`` command: process start and file output, subtracted later.
    """
    traj, image, kspace = (np.load(data / f"{n}.npy") for n in ("traj", "image", "kspace"))
    frames, coils, ny, nx = image.shape
    spokes = int(np.load(data / "spokes.npy"))
    samples = traj.shape[-1] // spokes
    # BART: trajectory (3, samples, spokes, 1.., frames@10) in samples, x first;
    # images (x, y, 1, coils, .., frames@10)
    cycles = (
        traj.reshape(frames, 2, spokes, samples) * (np.array([ny, nx]) / (2 * np.pi))[None, :, None, None]
    )
    bart_traj = np.zeros((3, samples, spokes, frames), np.complex64)
    bart_traj[0], bart_traj[1] = cycles[:, 1].transpose(2, 1, 0), cycles[:, 0].transpose(2, 1, 0)
    write_cfl(data / "b_traj", bart_traj.reshape(3, samples, spokes, *(1,) * 7, frames))
    write_cfl(data / "b_img", image.transpose(3, 2, 1, 0).reshape(nx, ny, 1, coils, *(1,) * 6, frames))
    k = kspace.reshape(frames, coils, spokes, samples).transpose(3, 2, 1, 0)
    write_cfl(data / "b_ksp", k.reshape(1, samples, spokes, coils, *(1,) * 6, frames))
    dims = f"{nx}:{ny}:1"
    env = pinned_env(THREADS)

    def bart(*args: str) -> None:
        run_checked(["bart", *args], env)

    def forward() -> np.ndarray:
        bart("nufft", "-d", dims, str(data / "b_traj"), str(data / "b_img"), str(data / "b_fwd"))
        out = np.asarray(read_cfl(data / "b_fwd")).reshape(samples, spokes, coils, frames, order="F")
        return out.transpose(3, 2, 1, 0).reshape(frames, coils, spokes * samples)

    def adjoint(src: str = "b_ksp") -> np.ndarray:
        bart("nufft", "-a", "-d", dims, str(data / "b_traj"), str(data / src), str(data / "b_adj"))
        out = np.asarray(read_cfl(data / "b_adj")).reshape(nx, ny, coils, frames, order="F")
        return out.transpose(3, 2, 1, 0)

    def normal() -> np.ndarray:
        bart("nufft", "-d", dims, str(data / "b_traj"), str(data / "b_img"), str(data / "b_fwd"))
        return adjoint("b_fwd")

    ones = ["ones", "11", str(nx), str(ny), "1", str(coils)] + ["1"] * 6 + [str(frames), str(data / "b_one")]
    setup = _median_ms(lambda: bart(*ones), SLOW_REPEATS)
    return {"forward": forward, "adjoint": adjoint, "normal": normal}, setup


TOOLS: dict[str, Callable[[Path], tuple[Timed, float]]] = {
    "ours-finufft": lambda d: ours(d, "finufft"),
    "ours-finufft-direct": lambda d: ours(d, "finufft", toeplitz=False),
    "ours-finufft-sense": lambda d: ours(d, "finufft", sense=True),
    "ours-torchkbnufft": lambda d: ours(d, "torchkbnufft"),
    "torchkbnufft": torchkbnufft_raw,
    "finufft": lambda d: finufft_raw(d, plans=False),
    "finufft-plans": lambda d: finufft_raw(d, plans=True),
    "finufft-plans-ours": lambda d: finufft_raw(d, plans=True, eps=2e-5, upsampfac=1.25),
    "bart": bart_cli,
}
SLOW = {"ours-torchkbnufft", "torchkbnufft", "bart"}


def main(tool: str, data: Path) -> None:
    timed, setup = TOOLS[tool](data)
    repeats = SLOW_REPEATS if tool in SLOW else REPEATS
    result: dict[str, float] = {"setup": setup}
    for name, fn in timed.items():
        np.save(data / f"{tool}_{name}.npy", np.asarray(fn()))
        result[name] = _median_ms(fn, repeats)
    (data / f"{tool}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))

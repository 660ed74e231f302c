"""Frames in overlapping windows, for models whose output frame depends on a finite number of neighbours.

A model declares its temporal reach R (``ModelPlugin.temporal_reach``): output frame t depends on the
data of frames t - R .. t + R only. A slice can then be reconstructed W frames at a time: each window
reconstructs its frames [start - R, start + W + R), clipped to the series, and keeps only its own W;
what the cut does to the frames within R of a cut end never reaches the kept ones, and at the ends of
the series the window sees exactly what the whole run sees. The per-slice working set (gridding,
Toeplitz kernels, network activations) is then that of W + 2R frames instead of all of them; the scan's
k-space, the coil maps and the finished images are held as before. ``recon_cli.memory.plan`` chooses W
when coil chunks alone do not fit the budget; ``recon_cli.reconstruct.reconstruct_scan`` runs the windows.

Torch-free at import, like the rest of ``recon_cli.memory``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from recon_cli.errors import ModelError

if TYPE_CHECKING:
    import torch

    from recon_cli.contract import SolverInfo
    from recon_cli.registry import ModelPlugin


@dataclass(frozen=True)
class FrameWindow:
    """One window: it reconstructs frames [lo, hi) and keeps its own [start, stop)."""

    start: int
    stop: int
    lo: int
    hi: int

    @property
    def frames(self) -> slice:
        """The frames reconstructed, as a slice of the series."""
        return slice(self.lo, self.hi)

    @property
    def kept(self) -> slice:
        """The frames kept, as a slice of the window's own output."""
        return slice(self.start - self.lo, self.stop - self.lo)


@dataclass
class WindowsInfo:
    """How the solves of a slice's windows went: the most iterations and the largest last relative change
    of any window (the ``SolverInfo`` of the slice)."""

    iterations: int
    relative_change: float


def frame_by_frame(config: Any) -> int:
    """The ``temporal_reach`` of a model whose output frame depends on that frame's data alone: 0."""
    return 0


def declared_reach(plugin: ModelPlugin, config: Any) -> int | None:
    """The temporal reach ``plugin`` declares for ``config`` (None: the whole series).

    Raises:
        ModelError: a declaration that is not a whole number >= 0 or None.
    """
    if plugin.temporal_reach is None:
        return None
    reach = plugin.temporal_reach(config)
    if reach is not None and (not isinstance(reach, int) or isinstance(reach, bool) or reach < 0):
        raise ModelError(
            f"model '{plugin.name}' declares a temporal reach of {reach!r}; expected an int >= 0"
        )
    return reach


def window_frames(frames: int, at_once: int | None, reach: int | None) -> int:
    """Frames one window reconstructs at most: its own ``at_once`` and ``reach`` on each side."""
    if at_once is None or reach is None:
        return frames
    return min(frames, at_once + 2 * reach)


def frame_windows(frames: int, at_once: int | None, reach: int | None) -> list[FrameWindow]:
    """The windows of a series of ``frames``, ``at_once`` output frames each (None: one window of all).

    Raises:
        ValueError: windows asked of a model without a finite reach.
    """
    if at_once is None or at_once >= frames:
        return [FrameWindow(0, frames, 0, frames)]
    if reach is None:
        raise ValueError("frames can be windowed only for a model with a finite temporal reach")
    if at_once < 1:
        raise ValueError(f"a frame window needs at least one frame, got {at_once}")
    starts = range(0, frames, at_once)
    return [
        FrameWindow(a, min(a + at_once, frames), max(0, a - reach), min(frames, a + at_once + reach))
        for a in starts
    ]


def largest_window(frames: int, reach: int, fits: Callable[[int], bool]) -> int | None:
    """The most output frames per window that ``fits`` (monotone: fewer frames never need more memory),
    among the sizes that reconstruct fewer frames than the whole series; None when no window size helps
    (``reach`` leaves no room), 1 when even one frame does not fit (the smallest plan)."""
    top = frames - 2 * reach - 1  # the largest window that reconstructs fewer frames than all of them
    if top < 1:
        return None
    if fits(top):
        return top
    low, high = 1, top  # fits(high) is False; find the largest fitting size below it
    if not fits(low):
        return 1
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def reconstruct_windows(
    frames: int,
    windows: Sequence[FrameWindow],
    run: Callable[[slice], tuple[torch.Tensor, SolverInfo | None]],
) -> tuple[torch.Tensor, SolverInfo | None]:
    """The images of one slice, window by window.

    Args:
        frames: Frames of the series.
        windows: From ``frame_windows``.
        run: frames (a slice of the series) -> (their images (n, ny, nx), the model's SolverInfo or None).

    Returns:
        (frames, ny, nx) images, and the solve's SolverInfo (of all windows: ``WindowsInfo``) or None.
    """
    if len(windows) == 1:
        return run(windows[0].frames)
    out: torch.Tensor | None = None
    infos: list[SolverInfo] = []
    for window in windows:
        image, info = run(window.frames)
        if out is None:
            out = image.new_empty((frames, *image.shape[1:]))
        out[window.start : window.stop] = image[window.kept]
        del image
        if info is not None:
            infos.append(info)
    assert out is not None
    if not infos:
        return out, None
    worst = WindowsInfo(max(i.iterations for i in infos), max(i.relative_change for i in infos))
    return out, worst

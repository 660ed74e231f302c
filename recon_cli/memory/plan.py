"""The memory plan of one input: shapes from headers, the chunking chosen, the estimated peak, the budget.

``--max-memory SIZE`` sets the budget; by default it is the memory this process could still use: on CPU
its resident memory plus the kernel's ``MemAvailable``, on CUDA the device's free memory, each less a
margin. Slices are always reconstructed one at a time. When the whole-scan plan would not fit, coil maps
are estimated slice by slice; then each slice is read from the file only when its turn comes
(``lazy_slices``: one slice's k-space is held instead of the whole scan's); then coils are transformed in
chunks inside the operators (``coil_chunk``), halving the chunk until the estimate fits. If one coil at a
time is still over the budget and the model declares a finite temporal reach, the frames of a slice are
reconstructed in overlapping windows (``frames_at_once``, ``frame_windows``) of the most frames that fit,
and the coil chunk is then raised again as far as the budget allows (windows cut the working set that
coil chunks leave: the model's, the Toeplitz kernels'). If even the smallest plan does not fit, the input
is refused (exit 5) before anything is read or written.
"""

from __future__ import annotations

import ctypes
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recon_cli.errors import OutOfMemoryError, UsageError
from recon_cli.memory.estimate import MIB, Estimate, estimate_peak
from recon_cli.memory.frame_windows import declared_reach, largest_window, window_frames
from recon_cli.memory.shapes import ScanShape, scan_shape
from recon_cli.memory.working_set import GENERIC, WorkingSet

if TYPE_CHECKING:
    import torch

    from recon_cli.reconstruct import LoadedModel
    from recon_cli.reconstruct_request import ReconstructRequest

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}  # fmt: skip
MARGIN_FRACTION = 0.1  # of the memory left, kept free for the rest of the machine
MARGIN_MIN = 256 * MIB


def parse_memory(text: str) -> int:
    """``"2GiB"``, ``"800MB"``, ``"1.5G"``, ``"123456"`` (bytes) -> bytes; UsageError otherwise."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS or float(match.group(1)) <= 0:
        raise UsageError(f"--max-memory expects a size such as 2GiB or 800MB, got '{text}'")
    return int(float(match.group(1)) * _UNITS[unit])


def format_bytes(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / MIB:.0f} MiB"


def resident_bytes() -> int:
    """This process's resident memory now (VmRSS), 0 where /proc is missing."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) * 1024 if match else 0


def default_budget(device: torch.device) -> tuple[int, str]:
    """The budget when ``--max-memory`` is not given, and where it came from."""
    if device.type == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        return int(free - max(MARGIN_MIN, MARGIN_FRACTION * free)), "free device memory less a margin"
    try:
        meminfo = Path("/proc/meminfo").read_text()
        available = int(re.search(r"MemAvailable:\s+(\d+) kB", meminfo).group(1)) * 1024  # type: ignore[union-attr]
    except (OSError, AttributeError):
        return 2**62, "unknown (no /proc/meminfo)"
    margin = max(MARGIN_MIN, int(MARGIN_FRACTION * available))
    return resident_bytes() + available - margin, "resident + MemAvailable less a margin"


def baseline_bytes(device: torch.device) -> int:
    """What the process holds before the run's data: its resident memory with the run's libraries loaded
    (the reader, coil estimation, NUFFT, writers); on CUDA, the tensors already allocated there."""
    if device.type == "cuda":
        import torch

        return int(torch.cuda.memory_allocated(device))
    import scipy.ndimage  # noqa: F401  (coil-map support masks)

    import recon_cli.coils  # noqa: F401
    import recon_cli.io  # noqa: F401
    import recon_cli.io.writers  # noqa: F401
    from recon_cli.ops.nufft_finufft import finufft_installed

    finufft_installed()
    return resident_bytes()


def release_freed_memory() -> None:
    """Hand the heap's freed pages back to the kernel (glibc ``malloc_trim``), so that one stage's freed
    buffers do not stay resident beside the next stage's; a no-op elsewhere."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


@dataclass
class Plan:
    """What one input will need and how it will be run."""

    shape: ScanShape
    model: str
    device: str
    operator: str
    backend: str
    coil_chunk: int | None
    maps_per_slice: bool  # coil maps estimated slice by slice (else all slices at once)
    lazy_slices: bool  # each slice read from the file when its turn comes (else the whole scan first)
    estimate: Estimate
    budget: int
    budget_source: str
    declared: bool  # the model declares its working set (else GENERIC was used)
    frames_at_once: int | None = None  # output frames per window (None: all frames in one)
    temporal_reach: int | None = None  # what the model declares (None: the whole series)

    @property
    def fits(self) -> bool:
        return self.estimate.total <= self.budget

    def as_dict(self) -> dict[str, Any]:
        """The JSON form printed by ``--dry-run --json`` and recorded in run.json (sizes in MiB)."""
        s = self.shape
        per_slice: dict[str, Any] = {"coils": s.coils, "frames": s.frames, "image_matrix": list(s.image)}
        if s.cartesian:
            per_slice["kspace_matrix"] = list(s.kspace)
        else:
            per_slice["samples_per_frame"] = s.kspace[0]
        return {
            "input": s.path,
            "format": s.format,
            "slices": s.slices,
            "per_slice": per_slice,
            "recon_matrix": list(s.recon),
            "model": self.model,
            "device": self.device,
            "operator": self.operator,
            "nufft_backend": self.backend,
            "chunking": {
                "slices_at_once": 1,
                "coils_at_once": self.coil_chunk or s.coils,
                "coil_map_slices_at_once": 1 if self.maps_per_slice or self.lazy_slices else s.slices,
                "slices_read_at_once": 1 if self.lazy_slices else s.slices,
                "frames_at_once": self.frames_at_once or s.frames,
                "frames_per_window": window_frames(s.frames, self.frames_at_once, self.temporal_reach),
                "temporal_reach": self.temporal_reach,
            },
            "estimate_mib": {
                "peak": round(self.estimate.total / MIB, 1),
                "peak_stage": self.estimate.peak_stage,
                "parts": {k: round(v / MIB, 1) for k, v in self.estimate.parts.items()},
                "stages": {k: round(v / MIB, 1) for k, v in self.estimate.stages.items()},
            },
            "budget_mib": round(self.budget / MIB, 1),
            "budget_source": self.budget_source,
            "fits": self.fits,
            "working_set_declared": self.declared,
        }


def plan_input(path: Path, model: LoadedModel, request: ReconstructRequest) -> Plan:
    """The plan of ``path`` under ``request.max_memory`` (or the default budget), headers only.

    Raises:
        InputDataError: the file is missing or unreadable.
        OutOfMemoryError: not even one coil at a time fits the budget (the message names what is needed).
    """
    from recon_cli.contract import coil_maps_mode

    shape = scan_shape(path)
    device = model.device
    if request.max_memory is not None:
        budget, source = request.max_memory, "--max-memory"
    else:
        budget, source = default_budget(device)
    mode = coil_maps_mode(model.module)
    needs_maps = mode == "required" or (mode == "optional" and request.coils is not None)
    declare = model.plugin.working_set
    work: WorkingSet = declare(model.config) if declare is not None else GENERIC
    weights = sum(t.numel() * t.element_size() for t in (*model.module.parameters(), *model.module.buffers()))
    baseline = baseline_bytes(device)
    operator, backend = _operator(shape, device)

    reach = declared_reach(model.plugin, model.config)

    def estimate_with(chunk: int | None, per_slice: bool, lazy: bool, at_once: int | None = None) -> Estimate:
        return estimate_peak(
            shape, work, baseline=baseline, weights=weights, coil_chunk=chunk, needs_maps=needs_maps,
            estimate_maps=needs_maps and request.coils is None, maps_per_slice=per_slice, lazy_slices=lazy,
            device=device.type, frame_by_frame=backend == "finufft" and device.type == "cpu",
            window_frames=window_frames(shape.frames, at_once, reach),
        )  # fmt: skip

    # the smallest change first: coil maps slice by slice, slices read one at a time, then coils in ever
    # smaller chunks
    chunk: int | None = None
    per_slice = lazy = False
    estimate = estimate_with(None, False, False)
    if estimate.total > budget and shape.slices > 1 and needs_maps:
        per_slice = True
        estimate = estimate_with(None, True, False)
    if estimate.total > budget and shape.slices > 1:
        lazy = True
        estimate = estimate_with(None, per_slice, True)
    while estimate.total > budget and needs_maps and (chunk or shape.coils) > 1:
        chunk = max(1, (chunk or shape.coils) // 2)
        estimate = estimate_with(chunk, per_slice, lazy)
    at_once: int | None = None
    if estimate.total > budget and reach is not None:
        at_once = largest_window(
            shape.frames, reach, lambda w: estimate_with(chunk, per_slice, lazy, w).total <= budget
        )
        if at_once is not None:
            estimate = estimate_with(chunk, per_slice, lazy, at_once)
        while at_once is not None and chunk is not None and estimate.total <= budget:
            wider = None if 2 * chunk >= shape.coils else 2 * chunk  # back towards all coils at once
            wider_estimate = estimate_with(wider, per_slice, lazy, at_once)
            if wider_estimate.total > budget:
                break
            chunk, estimate = wider, wider_estimate
    plan = Plan(shape, model.plugin.name, str(device), operator, backend, chunk, per_slice, lazy, estimate,
                budget, source, declare is not None, at_once, reach)  # fmt: skip
    return plan


def check_fits(plan: Plan) -> None:
    """Raise OutOfMemoryError (exit 5) naming the need when the smallest plan is over the budget."""
    if plan.fits:
        return
    chunks = [f"{plan.coil_chunk} coil(s)"] if plan.coil_chunk else []
    windows = ""
    if plan.frames_at_once:
        chunks.append(f"{plan.frames_at_once} frame(s)")
        frames = window_frames(plan.shape.frames, plan.frames_at_once, plan.temporal_reach)
        windows = f" (windows of {frames} frames, overlap included)" if frames > plan.frames_at_once else ""
    chunked = f" with {' and '.join(chunks)} at a time{windows}" if chunks else ""
    unwindowed = ""
    if plan.temporal_reach is None and plan.shape.frames > 1:
        unwindowed = f" (model '{plan.model}' declares no finite temporal reach: its frames are not windowed)"
    raise OutOfMemoryError(
        f"{plan.shape.path}: needs an estimated {format_bytes(plan.estimate.total)}{chunked} "
        f"(largest stage: {plan.estimate.peak_stage}), over the budget of {format_bytes(plan.budget)} "
        f"({plan.budget_source}){unwindowed}; raise --max-memory, compress coils, or use fewer frames; "
        "nothing was written"
    )


def _operator(shape: ScanShape, device: torch.device) -> tuple[str, str]:
    if shape.cartesian:
        return "CartesianSense", "torch.fft"
    from recon_cli.ops.nufft_backends import default_backend

    return "NonCartesianSense (Toeplitz normal)", default_backend(device)


def dry_run(inputs: list[Path], request: ReconstructRequest) -> list[dict[str, Any]]:
    """The plan of every input without reading samples or writing anything (``--dry-run``).

    Returns one dict per input: the plan (``Plan.as_dict``) with ``ok``, or ``input``, ``ok`` False,
    ``error`` and ``exit_code`` for an input that cannot be planned (the batch goes on).
    """
    from recon_cli.errors import ReconError
    from recon_cli.reconstruct import requested_model

    model = requested_model(request)
    documents: list[dict[str, Any]] = []
    for path in inputs:
        try:
            plan = plan_input(Path(path), model, request)
        except ReconError as exc:
            documents.append({"input": str(path), "ok": False, "error": str(exc), "exit_code": exc.exit_code})
            continue
        doc = plan.as_dict()
        doc["ok"] = plan.fits
        if not plan.fits:
            try:
                check_fits(plan)
            except OutOfMemoryError as exc:
                doc.update(error=str(exc), exit_code=exc.exit_code)
        documents.append(doc)
    return documents

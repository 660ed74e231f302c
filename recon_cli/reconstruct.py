"""The reconstruction pipeline: read -> preprocess -> coils -> operator -> model -> crop -> write.

Batches stream one scan at a time. Each scan's outputs are named after its input and live in one folder,
``OUT/{stem}/``, with a run record (``recon_cli.output_set``: folder, names, record, and the write that
makes the set appear whole or not at all).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from recon_cli import progress
from recon_cli.contract import SolverInfo, coil_maps_mode, solver_info
from recon_cli.errors import (
    InputDataError,
    ModelError,
    OutputWriteError,
    ReconError,
    UsageError,
    memory_error,
)
from recon_cli.io.atomic import check_writable, refuse_inputs
from recon_cli.io.scan import Scan
from recon_cli.ops.base import LinearOperator
from recon_cli.ops.cartesian import CartesianSense
from recon_cli.ops.functional import center_crop
from recon_cli.ops.nufft import NonCartesianSense
from recon_cli.output_set import (
    check_out_writable,
    check_unique_stems,
    output_folder,
    output_stem,
    run_record,
    write_set,
)
from recon_cli.reconstruct_request import ReconstructRequest
from recon_cli.registry import ModelPlugin, load_plugin, resolve_config
from recon_cli.runtime import resolve_device
from recon_cli.weights import apply_weights, read_weights, weights_source

if TYPE_CHECKING:
    from recon_cli.memory.plan import Plan

ProgressCallback = Callable[[int, int, int, int], None]  # slice, slices, iteration, iterations


@dataclass
class ScanResult:
    """Outcome of one input of a batch."""

    source: Path
    ok: bool
    outputs: list[Path] = field(default_factory=list)
    error: str | None = None
    exit_code: int = 0
    seconds: float = 0.0
    guesses: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. a solver that stopped at its maximum


@dataclass
class LoadedModel:
    plugin: ModelPlugin
    config: Any
    module: torch.nn.Module
    device: torch.device
    weights: dict[str, Any] | None = None  # provenance: source, path, sha256 (None: no weights)


def load_model(
    name: str,
    *,
    config: dict[str, Any] | None = None,
    weights: Path | None = None,
    device: str = "auto",
    allow_untrained: bool = False,
) -> LoadedModel:
    """Resolve a plugin by name, build it with its config, load weights, move it to the device.

    A checkpoint's own model config (saved by ``recon train``) takes the place of the dataclass
    defaults, so weights trained with non-default settings load as they were trained; ``config``
    (config file and ``--set`` values) still overrides it.

    Raises:
        ModelError: a learned model with neither ``weights`` nor shipped default weights, unless
            ``allow_untrained`` (then it runs from its random initialisation, e.g. for tests).
    """
    plugin = load_plugin(name)
    source = weights_source(plugin, weights)
    if source is None and plugin.trainable and not allow_untrained:
        raise ModelError(
            f"model '{name}' has no trained weights: train them with `recon train --model {name} --data DIR "
            f"--out RUN` and pass --weights RUN (a run folder or a .pt file)"
        )
    state, trained = (None, {}) if source is None else read_weights(plugin, source["path"])
    resolved = resolve_config(plugin, {**trained, **(config or {})})
    module = plugin.create(resolved)
    if state is not None and source is not None:
        apply_weights(module, state, source["path"], name)
        if not all(bool(torch.isfinite(t).all()) for t in state.values() if t.is_floating_point()):
            raise ModelError(f"{source['path']}: weights of model '{name}' hold NaN/Inf values")
    elif plugin.trainable:
        source = {"source": "untrained", "path": None, "sha256": None}
    dev = resolve_device(device)
    return LoadedModel(plugin, resolved, module.to(dev).eval(), dev, source)


def requested_model(request: ReconstructRequest) -> LoadedModel:
    """``load_model`` with the request's model, config, weights and device."""
    return load_model(
        request.model,
        config=request.config,
        weights=request.weights,
        device=request.device,
        allow_untrained=request.allow_untrained,
    )


def check_supported(plugin: ModelPlugin, scan: Scan) -> None:
    """Raise ModelError if the model does not handle this kind of data."""
    problems = []
    if scan.is_cartesian and not plugin.cartesian:
        problems.append("Cartesian")
    if not scan.is_cartesian and not plugin.non_cartesian:
        problems.append("non-Cartesian")
    if scan.n_frames > 1 and not plugin.dynamic:
        problems.append("dynamic (cine)")
    if scan.n_frames == 1 and not plugin.static:
        problems.append("static")
    if problems:
        raise ModelError(
            f"model '{plugin.name}' does not support {' '.join(problems)} data "
            f"(it supports {plugin.supports()})"
        )


def build_operator(
    scan: Scan,
    slice_index: int,
    maps: torch.Tensor | None,
    coil_chunk: int | None = None,
    frames: slice | None = None,
) -> LinearOperator:
    """The forward model of one slice; ``maps`` (coils, ny, nx) or None for coil images; with maps,
    ``coil_chunk`` coils are transformed at a time (None: all); ``frames``: of those frames only (a frame
    window; None: all)."""

    def of_frames(t: torch.Tensor) -> torch.Tensor:
        return t if frames is None or t.shape[0] == 1 else t[frames]

    if scan.is_cartesian:
        mask = None if scan.mask is None else of_frames(scan.mask[min(slice_index, scan.mask.shape[0] - 1)])
        return CartesianSense((scan.n_coils, *scan.image_shape), mask=mask, maps=maps, coil_chunk=coil_chunk)
    assert scan.traj is not None
    traj = of_frames(scan.traj[min(slice_index, scan.traj.shape[0] - 1)])
    return NonCartesianSense(scan.n_coils, scan.image_shape, traj, maps=maps, coil_chunk=coil_chunk)


def reconstruct_scan(
    scan: Scan,
    model: LoadedModel,
    maps: torch.Tensor | None = None,
    solver_log: list[dict[str, Any]] | None = None,
    on_progress: ProgressCallback | None = None,
    coil_chunk: int | None = None,
    frames_at_once: int | None = None,
) -> torch.Tensor:
    """Images of every slice, cropped to the recon matrix. Returns (slices, frames, ny, nx) complex64, CPU.

    For iterative models that report how their solve went (``last_info``: iterations and final relative
    change, e.g. ``imunne``'s fixed point), one dict per slice is appended to ``solver_log``.
    ``on_progress(slice, slices, iteration, iterations)`` hears every iteration an iterative solver
    reports (``recon_cli.progress``), and (slice, slices, 0, 0) as each slice starts. ``coil_chunk``
    coils go through the operator at a time (``recon_cli.memory.plan``; None: all). With
    ``frames_at_once``, each slice is reconstructed that many frames at a time in overlapping windows
    (``recon_cli.memory.frame_windows``; only for a model that declares a finite temporal reach), with
    the same images; iterations then restart in every window, and the solver log has the worst window.
    """
    from recon_cli.memory.frame_windows import declared_reach, frame_windows, reconstruct_windows

    check_supported(model.plugin, scan)
    mode = coil_maps_mode(model.module)
    if mode == "required" and maps is None:
        raise ModelError(f"model '{model.plugin.name}' needs coil maps")
    windows = frame_windows(scan.n_frames, frames_at_once, declared_reach(model.plugin, model.config))
    images = []
    for s in range(scan.n_slices):
        slice_maps = None if maps is None or mode == "ignored" else maps[s].to(model.device)
        listener = None
        if on_progress is not None:
            on_progress(s, scan.n_slices, 0, 0)
            listener = functools.partial(on_progress, s, scan.n_slices)
        run = functools.partial(_reconstruct_frames, scan, s, model, slice_maps, coil_chunk, listener)
        image, info = reconstruct_windows(scan.n_frames, windows, run)
        images.append(image)
        del image
        if solver_log is not None and info is not None:
            tol = getattr(model.config, "tol", None)
            converged = None if tol is None else bool(info.relative_change <= tol)
            solver_log.append(
                {"slice": s, "iterations": info.iterations, "relative_change": info.relative_change,
                 "converged": converged}
            )  # fmt: skip
    return center_crop(torch.stack(images), scan.header.recon_matrix)


def _reconstruct_frames(
    scan: Scan,
    s: int,
    model: LoadedModel,
    maps: torch.Tensor | None,
    coil_chunk: int | None,
    listener: progress.Listener | None,
    frames: slice,
) -> tuple[torch.Tensor, SolverInfo | None]:
    """The model's images of ``frames`` of slice ``s`` (complex64, CPU) and its report of the solve."""
    from recon_cli.memory.plan import release_freed_memory

    op = build_operator(scan, s, maps, coil_chunk, frames).to(model.device)
    kspace = scan.kspace[s][frames].to(model.device)
    with torch.inference_mode(), progress.listening(listener):
        image = model.module(kspace, op).to("cpu", torch.complex64)
    del op, kspace
    release_freed_memory()  # a slice's (window's) freed buffers do not stay resident beside the next one's
    return image, solver_info(model.module)


def reconstruct_files(
    inputs: Sequence[Path],
    request: ReconstructRequest,
    *,
    fail_fast: bool = False,
    on_start: Callable[[Path], None] | None = None,
    on_done: Callable[[ScanResult], None] | None = None,
    on_progress: ProgressCallback | None = None,
) -> list[ScanResult]:
    """Reconstruct many files one at a time; a bad file is reported and the batch goes on."""
    check_unique_stems(inputs)
    if request.out_dir.exists() and not request.out_dir.is_dir():
        raise UsageError(f"{request.out_dir}: --out is a file, not a folder")
    check_out_writable(request.out_dir)
    model = requested_model(request)
    protected = [*map(Path, inputs), request.coils, request.weights]
    results = []
    for path in inputs:
        if on_start:
            on_start(path)
        start = time.perf_counter()
        result = ScanResult(Path(path), False)
        try:
            result.outputs = _reconstruct_one(Path(path), request, model, protected, result, on_progress)
            result.ok = True
        except ReconError as exc:
            result.error, result.exit_code = str(exc), exc.exit_code
        except (torch.OutOfMemoryError, MemoryError, RuntimeError) as exc:
            err = memory_error(exc, f"{path}: out of memory on {model.device}")
            if err is None:
                raise
            result.error, result.exit_code = str(err), err.exit_code
        result.seconds = time.perf_counter() - start
        results.append(result)
        if on_done:
            on_done(result)
        if fail_fast and not result.ok:
            break
    return results


def _reconstruct_one(
    path: Path,
    request: ReconstructRequest,
    model: LoadedModel,
    protected: list[Any],
    result: ScanResult,
    on_progress: ProgressCallback | None,
) -> list[Path]:
    from recon_cli.memory.plan import check_fits, plan_input
    from recon_cli.run_notes import compression_note, unconverged_notes

    stem = output_stem(path)
    folder = output_folder(request.out_dir, path)
    refuse_inputs([folder], protected)
    check_writable(folder, request.overwrite)  # a cheap check before the (slow) read
    try:
        plan: Plan | None = plan_input(path, model, request)  # headers only
    except InputDataError:
        plan = None  # the reader reports what is wrong with the file, in its own words
    if plan is not None:
        check_fits(plan)  # exit 5 before anything is read or written
    done = _Done()
    n = plan.shape.slices if plan is not None and plan.lazy_slices else 0  # each read when its turn comes
    parts: list[tuple[int, int] | None] = [(s, n) for s in range(n)] or [None]
    lazy = n > 0
    for part in parts:
        _reconstruct_part(path, request, model, plan, part, done, result, on_progress)
    images = torch.cat(done.images)
    result.notes.extend(unconverged_notes(model.plugin.name, model.config, done.solver_log))
    if done.compression is not None:
        result.notes.append(compression_note(model.plugin.name, done.compression))
    if not bool(torch.isfinite(images).all()):
        raise ModelError(f"{path}: model '{model.plugin.name}' produced NaN/Inf values; nothing was written")
    assert done.scan is not None
    scan = done.scan
    record = run_record(path, scan, request, model)
    if lazy:  # the last scan read holds one slice: the file's shape, guesses and geometry are all slices'
        record.update(kspace_shape=[images.shape[0], *record["kspace_shape"][1:]], guesses=[*result.guesses])
        scan = dataclasses.replace(scan, header=dataclasses.replace(scan.header, geometry=(*done.geometry,)))
    record["memory_plan"] = None if plan is None else plan.as_dict()
    if done.solver_log:
        record["solver"] = done.solver_log
    record["coil_compression"] = done.compression
    try:
        return write_set(folder, stem, images, scan, request, record, done.timings, model)
    except OSError as exc:
        raise OutputWriteError(folder, exc) from None


@dataclass
class _Done:
    """What the slices reconstructed so far have given: images, the last scan read, geometry, timings."""

    images: list[torch.Tensor] = field(default_factory=list)
    scan: Scan | None = None
    geometry: list[Any] = field(default_factory=list)
    solver_log: list[dict[str, Any]] = field(default_factory=list)
    compression: dict[str, Any] | None = None  # recon_cli.scan_coil_maps.model_compression's record
    timings: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(("read_s", "coils_s", "reconstruct_s"), 0.0)
    )


def _reconstruct_part(
    path: Path,
    request: ReconstructRequest,
    model: LoadedModel,
    plan: Plan | None,
    part: tuple[int, int] | None,
    done: _Done,
    result: ScanResult,
    on_progress: ProgressCallback | None,
) -> None:
    """Read, estimate coil maps for and reconstruct slice ``part`` = (index, slices) of ``path`` (None:
    the whole file at once), adding to ``done``."""
    from recon_cli.io import read_scan
    from recon_cli.memory.plan import release_freed_memory
    from recon_cli.scan_coil_maps import model_compression, scan_coil_maps

    t0 = time.perf_counter()
    options = _reader_options(path, request) | ({} if part is None else {"slices": [part[0]]})
    scan = read_scan(path, prewhiten=request.prewhiten, **options)
    done.timings["read_s"] += time.perf_counter() - t0
    release_freed_memory()
    result.guesses.extend(g for g in scan.guesses if g not in result.guesses)
    if request.strict and scan.guesses:
        raise InputDataError(path, f"the reader had to guess ({scan.guesses[0]}); refused under --strict")
    check_supported(model.plugin, scan)  # before the (slow) coil-map estimation
    t0 = time.perf_counter()
    maps = scan_coil_maps(scan, request, model, plan is not None and plan.maps_per_slice, part)
    done.timings["coils_s"] += time.perf_counter() - t0
    release_freed_memory()
    t0 = time.perf_counter()
    work, maps, compression = model_compression(scan, maps, model)
    if compression is not None:  # the record of the slice that kept the least energy
        done.compression = min(compression, done.compression or compression, key=lambda r: r["energy"])
    log: list[dict[str, Any]] = []
    listener = on_progress
    if part is not None and on_progress is not None:
        listener = lambda _s, _n, i, k: on_progress(part[0], part[1], i, k)  # noqa: E731
    chunk = None if plan is None else plan.coil_chunk
    windows = None if plan is None else plan.frames_at_once
    done.images.append(reconstruct_scan(work, model, maps, log, listener, chunk, windows))
    del work
    done.timings["reconstruct_s"] += time.perf_counter() - t0
    offset = 0 if part is None else part[0]
    done.solver_log.extend({**entry, "slice": entry["slice"] + offset} for entry in log)
    done.geometry.extend(scan.header.geometry)
    done.scan = scan


def _reader_options(path: Path, request: ReconstructRequest) -> dict[str, Any]:
    from recon_cli.io import detect_format

    return {"traj_units": request.traj_units} if detect_format(path) == "ismrmrd" else {}

"""The reconstruction pipeline: read -> preprocess -> coils -> operator -> model -> crop -> write.

Batches stream one scan at a time; each scan's outputs are named after its input and come with a run
record (``{stem}.run.json``: input, model, resolved config, versions, timings, peak memory).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from recon_cli.errors import InputDataError, ModelError, OutOfMemoryError, ReconError, UsageError
from recon_cli.io.atomic import atomic_path, check_writable
from recon_cli.io.scan import Scan
from recon_cli.ops.base import LinearOperator
from recon_cli.ops.cartesian import CartesianSense
from recon_cli.ops.functional import center_crop
from recon_cli.ops.nufft import NonCartesianSense
from recon_cli.registry import ModelPlugin, config_to_dict, load_plugin, resolve_config
from recon_cli.runtime import peak_memory, resolve_device, versions


@dataclass(frozen=True)
class ReconstructRequest:
    """Everything ``recon reconstruct`` was asked to do, apart from the inputs."""

    out_dir: Path
    model: str = "zero-filled"
    config: dict[str, Any] = field(default_factory=dict)
    weights: Path | None = None
    coils: Path | None = None
    coil_method: str = "espirit"
    device: str = "auto"
    formats: tuple[str, ...] = ("nifti", "dicom", "png")
    overwrite: bool = False
    anonymize: bool = False
    prewhiten: bool = False
    traj_units: str = "auto"


@dataclass
class ScanResult:
    """Outcome of one input of a batch."""

    source: Path
    ok: bool
    outputs: list[Path] = field(default_factory=list)
    error: str | None = None
    exit_code: int = 0
    seconds: float = 0.0


@dataclass
class LoadedModel:
    plugin: ModelPlugin
    config: Any
    module: torch.nn.Module
    device: torch.device


def load_model(
    name: str, *, config: dict[str, Any] | None = None, weights: Path | None = None, device: str = "auto"
) -> LoadedModel:
    """Resolve a plugin by name, build it with its config, load weights, move it to the device.

    A checkpoint's own model config (saved by ``recon train``) takes the place of the dataclass
    defaults, so weights trained with non-default settings load as they were trained; ``config``
    (config file and ``--set`` values) still overrides it.
    """
    plugin = load_plugin(name)
    state, trained = load_weights(plugin, weights)
    resolved = resolve_config(plugin, {**trained, **(config or {})})
    module = plugin.build(resolved)
    if state is not None:
        apply_weights(module, state, weights, name)
    dev = resolve_device(device)
    return LoadedModel(plugin, resolved, module.to(dev).eval(), dev)


def apply_weights(module: torch.nn.Module, state: dict[str, torch.Tensor], source: object, name: str) -> None:
    """Load ``state`` into ``module``; a mismatch is a ModelError naming ``source`` and model ``name``."""
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelError(f"{source}: weights do not fit model '{name}': {str(exc).splitlines()[0]}") from None


def load_weights(
    plugin: ModelPlugin, weights: Path | None
) -> tuple[dict[str, torch.Tensor] | None, dict[str, Any]]:
    """(state dict, model config it was trained with) of the given or default weights."""
    if weights is None:
        if plugin.default_weights is None:
            return None, {}
        from importlib import resources

        package, filename = plugin.default_weights
        weights = Path(str(resources.files(package) / filename))
    elif not plugin.trainable:
        raise ModelError(f"model '{plugin.name}' has no weights; drop --weights")
    path = Path(weights)
    if path.is_dir():
        path = next((path / n for n in ("best.pt", "last.pt", "weights.pt") if (path / n).exists()), path)
    if not path.is_file():
        raise InputDataError(path, "no such weights file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, truncated files, wrong format
        raise InputDataError(path, f"unreadable weights file: {str(exc).splitlines()[0][:160]}") from None
    if not isinstance(state, dict):
        raise InputDataError(path, "not a state dict or a recon checkpoint")
    record = state.get("config") if isinstance(state.get("config"), dict) else {}
    if record.get("model") not in (None, plugin.name):
        raise ModelError(f"{path}: weights were trained for model '{record['model']}', not '{plugin.name}'")
    return state.get("model", state), dict(record.get("model_config") or {})


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


def build_operator(scan: Scan, slice_index: int, maps: torch.Tensor | None) -> LinearOperator:
    """The forward model of one slice; ``maps`` (coils, ny, nx) or None for coil images."""
    if scan.is_cartesian:
        mask = None if scan.mask is None else scan.mask[min(slice_index, scan.mask.shape[0] - 1)]
        return CartesianSense((scan.n_coils, *scan.image_shape), mask=mask, maps=maps)
    assert scan.traj is not None
    traj = scan.traj[min(slice_index, scan.traj.shape[0] - 1)]
    return NonCartesianSense(scan.n_coils, scan.image_shape, traj, maps=maps)


def reconstruct_scan(
    scan: Scan,
    model: LoadedModel,
    maps: torch.Tensor | None = None,
    solver_log: list[dict[str, Any]] | None = None,
) -> torch.Tensor:
    """Images of every slice, cropped to the recon matrix. Returns (slices, frames, ny, nx) complex64, CPU.

    For iterative models that report how their solve went (``last_info``: iterations and final relative
    change, e.g. ``imunne``'s fixed point), one dict per slice is appended to ``solver_log``.
    """
    check_supported(model.plugin, scan)
    mode = getattr(model.module, "coil_maps", "optional")
    if mode == "required" and maps is None:
        raise ModelError(f"model '{model.plugin.name}' needs coil maps")
    images = []
    for s in range(scan.n_slices):
        slice_maps = None if maps is None or mode == "ignored" else maps[s].to(model.device)
        op = build_operator(scan, s, slice_maps).to(model.device)
        kspace = scan.kspace[s].to(model.device)
        with torch.inference_mode():
            image = model.module(kspace, op)
        images.append(image.to("cpu", torch.complex64))
        info = getattr(model.module, "last_info", None)
        if solver_log is not None and info is not None:
            tol = getattr(model.config, "tol", None)
            converged = None if tol is None else bool(info.relative_change <= tol)
            solver_log.append(
                {"slice": s, "iterations": info.iterations, "relative_change": info.relative_change,
                 "converged": converged}
            )  # fmt: skip
    return center_crop(torch.stack(images), scan.header.recon_matrix)


def reconstruct_files(
    inputs: Sequence[Path],
    request: ReconstructRequest,
    *,
    fail_fast: bool = False,
    on_start: Callable[[Path], None] | None = None,
    on_done: Callable[[ScanResult], None] | None = None,
) -> list[ScanResult]:
    """Reconstruct many files one at a time; a bad file is reported and the batch goes on."""
    _check_unique_stems(inputs)
    model = load_model(request.model, config=request.config, weights=request.weights, device=request.device)
    results = []
    for path in inputs:
        if on_start:
            on_start(path)
        start = time.perf_counter()
        try:
            outputs = _reconstruct_one(Path(path), request, model)
            result = ScanResult(Path(path), True, outputs)
        except ReconError as exc:
            result = ScanResult(Path(path), False, error=str(exc), exit_code=exc.exit_code)
        except (torch.OutOfMemoryError, MemoryError):
            err = OutOfMemoryError(
                f"{path}: out of memory on {model.device}; try --device cpu, a smaller model config, "
                "or fewer frames/coils (coil compression)"
            )
            result = ScanResult(Path(path), False, error=str(err), exit_code=err.exit_code)
        result.seconds = time.perf_counter() - start
        results.append(result)
        if on_done:
            on_done(result)
        if fail_fast and not result.ok:
            break
    return results


def _reconstruct_one(path: Path, request: ReconstructRequest, model: LoadedModel) -> list[Path]:
    from recon_cli.io import read_scan
    from recon_cli.io.writers import output_targets, write_outputs

    stem = output_stem(path)
    record_path = request.out_dir / f"{stem}.run.json"
    # a cheap check before reading: the GIF (cine only) is checked by write_outputs once frames are known
    targets = output_targets(request.out_dir, stem, request.formats, 1)
    for target in [*(p for paths in targets.values() for p in paths), record_path]:
        check_writable(target, request.overwrite)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    scan = read_scan(path, prewhiten=request.prewhiten, **_reader_options(path, request))
    timings["read_s"] = time.perf_counter() - t0
    check_supported(model.plugin, scan)  # before the (slow) coil-map estimation
    t0 = time.perf_counter()
    maps = _coil_maps(scan, request, model)
    timings["coils_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    solver_log: list[dict[str, Any]] = []
    images = reconstruct_scan(scan, model, maps, solver_log)
    timings["reconstruct_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    record = _run_record(path, scan, request, model)
    if solver_log:
        record["solver"] = solver_log
    written = write_outputs(
        request.out_dir,
        stem,
        images,
        scan.header,
        formats=request.formats,
        overwrite=request.overwrite,
        anonymize=request.anonymize,
        attrs={"model": model.plugin.name, "config": json.dumps(record["config"])},
    )
    timings["write_s"] = time.perf_counter() - t0
    record.update(
        timings=timings,
        peak_memory=peak_memory(model.device),
        outputs=[str(p) for paths in written.values() for p in paths],
    )
    with atomic_path(record_path, request.overwrite) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    return [p for paths in written.values() for p in paths] + [record_path]


def _reader_options(path: Path, request: ReconstructRequest) -> dict[str, Any]:
    from recon_cli.io import detect_format

    return {"traj_units": request.traj_units} if detect_format(path) == "ismrmrd" else {}


def _coil_maps(scan: Scan, request: ReconstructRequest, model: LoadedModel) -> torch.Tensor | None:
    from recon_cli.coils import estimate_maps, read_maps

    mode = getattr(model.module, "coil_maps", "optional")
    if request.coils is not None:
        if mode == "ignored":
            raise UsageError(
                f"model '{model.plugin.name}' with this config does not use coil maps; drop --coils"
            )
        return read_maps(request.coils, scan)
    if mode == "required":
        return estimate_maps(scan, method=request.coil_method)
    return None


def _run_record(path: Path, scan: Scan, request: ReconstructRequest, model: LoadedModel) -> dict[str, Any]:
    return {
        "input": str(path),
        "format": scan.format,
        "trajectory": scan.header.trajectory,
        "kspace_shape": list(scan.kspace.shape),
        "model": model.plugin.name,
        "config": config_to_dict(model.config),
        "weights": None if request.weights is None else str(request.weights),
        "coils": None if request.coils is None else str(request.coils),
        "device": str(model.device),
        "prewhitened": scan.prewhitened,
        "versions": versions(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def output_stem(path: Path) -> str:
    """Output name for an input: its file name without the raw-data suffix."""
    name = Path(path).name
    for suffix in (".h5", ".hdf5", ".mrd", ".ismrmrd"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _check_unique_stems(inputs: Sequence[Path]) -> None:
    seen: dict[str, Path] = {}
    for path in inputs:
        stem = output_stem(Path(path))
        if stem in seen:
            raise UsageError(
                f"{path} and {seen[stem]} would write the same outputs '{stem}'; use separate --out folders"
            )
        seen[stem] = Path(path)

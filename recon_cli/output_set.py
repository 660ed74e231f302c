"""One input's set of outputs: its folder and names, the run record, and the write that makes the set
appear whole (``io.atomic.atomic_folder``).

Every output of an input lives in ``OUT/{stem}/`` (``stem``: the input's name without its raw-data suffix)
beside ``{stem}.run.json``, the run record: input, model, resolved config, weights and their sha256, the
reader's guesses, versions, timings, peak memory.
"""

from __future__ import annotations

import errno
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recon_cli.errors import OutputWriteError, UsageError
from recon_cli.io.atomic import atomic_folder
from recon_cli.io.scan import Scan
from recon_cli.reconstruct_request import ReconstructRequest
from recon_cli.registry import config_to_dict
from recon_cli.runtime import peak_memory, versions

if TYPE_CHECKING:
    import torch

    from recon_cli.reconstruct import LoadedModel


def check_out_writable(out_dir: Path) -> None:
    """Refuse, before any work, an output folder (or the folder it would be made in) that we cannot write."""
    existing = next((p for p in (out_dir, *out_dir.absolute().parents) if p.exists()), None)
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise OutputWriteError(out_dir, PermissionError(errno.EACCES, "Permission denied", str(existing)))


def output_folder(out_dir: Path, source: Path) -> Path:
    """The folder that holds every output of ``source``: ``out_dir / stem``."""
    return Path(out_dir) / output_stem(source)


def output_stem(path: Path) -> str:
    """Output name for an input: its file name without the raw-data suffix."""
    name = Path(path).name
    for suffix in (".h5", ".hdf5", ".mrd", ".ismrmrd"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def check_unique_stems(inputs: Sequence[Path]) -> None:
    seen: dict[str, Path] = {}
    for path in inputs:
        stem = output_stem(Path(path))
        if stem in seen:
            raise UsageError(
                f"{path} and {seen[stem]} would write the same outputs '{stem}'; use separate --out folders"
            )
        seen[stem] = Path(path)


def run_record(path: Path, scan: Scan, request: ReconstructRequest, model: LoadedModel) -> dict[str, Any]:
    """The run record of one input, less what is known only after writing (timings, outputs)."""
    return {
        "input": str(path),
        "format": scan.format,
        "trajectory": scan.header.trajectory,
        "kspace_shape": list(scan.kspace.shape),
        "model": model.plugin.name,
        "config": config_to_dict(model.config),
        "weights": model.weights,
        "guesses": list(scan.guesses),
        "shard": request.shard,
        "coils": None if request.coils is None else str(request.coils),
        "device": str(model.device),
        "prewhitened": scan.prewhitened,
        "versions": versions(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_set(
    folder: Path,
    stem: str,
    images: torch.Tensor,
    scan: Scan,
    request: ReconstructRequest,
    record: dict[str, Any],
    timings: dict[str, float],
    model: LoadedModel,
) -> list[Path]:
    """Every output of one scan, written into a hidden folder that then becomes ``folder`` in one step."""
    from recon_cli.io.writers import write_outputs

    t0 = time.perf_counter()
    with atomic_folder(folder, request.overwrite) as tmp:
        written = write_outputs(
            tmp,
            stem,
            images,
            scan.header,
            formats=request.formats,
            attrs={  # provenance inside the HDF5 file (docs/formats.md)
                "model": model.plugin.name,
                "config": json.dumps(record["config"]),
                "input_file": Path(record["input"]).name,
                "weights": record["weights"],
            },
            anonymize=request.anonymize,
        )
        files = [folder / p.relative_to(tmp) for paths in written.values() for p in paths]
        record_path = folder / f"{stem}.run.json"
        timings["write_s"] = time.perf_counter() - t0
        record.update(
            timings=timings,
            peak_memory=peak_memory(model.device),
            outputs=[str(p) for p in files],
        )
        (tmp / record_path.name).write_text(json.dumps(record, indent=2, allow_nan=False) + "\n")
    return [*files, record_path]

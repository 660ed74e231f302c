"""What ``recon reconstruct`` is asked to do: the request and the only copy of its defaults.

Torch-free, so that the command line reads its defaults from here without importing the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ReconstructRequest:
    """Everything ``recon reconstruct`` was asked to do, apart from the inputs."""

    out_dir: Path = Path("recon_out")
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
    strict: bool = False
    allow_untrained: bool = False
    max_memory: int | None = None  # bytes (--max-memory); None: what the device has left, less a margin
    shard: dict[str, Any] | None = None  # this process's share of a sharded batch (recon_cli.batch)

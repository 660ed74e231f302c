"""What a raw-data file holds, as plain data for ``recon info`` and run records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recon_cli.io import read_scan


def describe_file(path: Path) -> dict[str, Any]:
    """Read ``path`` and summarise it. Raises InputDataError for files recon cannot use."""
    scan = read_scan(path)
    header = scan.header
    return {
        "file": str(path),
        "format": scan.format,
        "trajectory": header.trajectory,
        "matrix": list(header.recon_matrix),
        "encoded_matrix": list(header.encoded_matrix),
        "fov_mm": [round(v, 3) for v in header.fov_mm],
        "coils": scan.n_coils,
        "frames": scan.n_frames,
        "slices": scan.n_slices,
        "samples_per_frame": int(scan.kspace.shape[-1]) if not scan.is_cartesian else None,
        "readout_length": scan.readout_length,
        "acceleration": round(scan.acceleration_estimate(), 2),
        "noise_scans": scan.noise_samples if scan.noise is not None else 0,
        "acs": scan.acs is not None,
        "reference": scan.reference is not None,
        "frame_time_ms": header.frame_time_ms,
    }

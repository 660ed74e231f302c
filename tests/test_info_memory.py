"""`recon info` describes a large scan from its headers: its memory does not grow with the samples."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

# VmHWM: this process's own peak resident memory (ru_maxrss would include what the parent had at fork)
PROBE = (
    "import re, sys\n"
    "code = None\n"
    "from recon_cli.cli.main import app\n"
    "try:\n"
    "    app(['info', '--json', sys.argv[1]])\n"
    "except SystemExit as e:\n"
    "    code = e.code\n"
    "peak = int(re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1)) / 1024\n"
    "print('PEAK_MIB', peak, 'EXIT', code)\n"
)


def test_info_on_a_large_radial_cine_stays_small(tmp_path: Path) -> None:
    """The issue's larger scan: 192 x 192, 24 coils, 30 frames x 19 spokes x 384 samples, 2 slices (84 MB)."""
    from recon_cli.io.ismrmrd_write import write_ismrmrd
    from recon_cli.io.scan import Scan, ScanHeader
    from recon_cli.sampling import golden_angle_radial

    slices, frames, coils, spokes, samples = 2, 30, 24, 19, 384
    gen = torch.Generator().manual_seed(4)
    kspace = torch.randn((slices, frames, coils, spokes * samples), generator=gen, dtype=torch.complex64)
    traj = torch.from_numpy(golden_angle_radial(spokes, frames, samples)).float()[None]
    header = ScanHeader(
        recon_matrix=(192, 192), encoded_matrix=(192, 192), fov_mm=(320.0, 320.0, 8.0), trajectory="radial",
        frame_time_ms=40.0,
    )  # fmt: skip
    scan = Scan(kspace, header, tmp_path / "big.h5", "ismrmrd", traj=traj, readout_length=samples)
    path = write_ismrmrd(tmp_path / "big.h5", scan)
    del kspace, scan
    assert path.stat().st_size > 80e6
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, check=True
    )
    *document, last = proc.stdout.strip().splitlines()
    peak, code = float(last.split()[1]), last.split()[3]
    assert code in ("0", "None"), proc.stderr
    rows = json.loads("\n".join(document))
    row = rows[0] if isinstance(rows, list) else rows
    assert row["coils"] == coils and row["frames"] == frames and row["slices"] == slices
    assert peak < 250, f"recon info peaked at {peak:.0f} MiB on an 84 MB file"


def test_heads_read_chunk_by_chunk_equal_hdf5s_own_field_read(tmp_path: Path) -> None:
    """The raw-chunk head reader against h5py's field read, on ISMRMRD's own generator's file."""
    import h5py
    import numpy as np

    from recon_cli.io.ismrmrd_table import acquisition_heads
    from tests.helpers import run_tool

    path = tmp_path / "shepp.h5"
    run_tool("ismrmrd_generate_cartesian_shepp_logan", "-m", "64", "-c", "4", "-a", "2", "-C", "-o", path)
    with h5py.File(path) as f:
        table = f["dataset/data"]
        ours, theirs = acquisition_heads(table), table.fields("head")[:]
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)

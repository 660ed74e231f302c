"""Start-up: `--help`, `--version`, `info` and `models` import neither torch nor the NUFFT libraries.

Each command runs in a fresh interpreter, which then reports the heavy modules present in
``sys.modules``; `info --system` is the one command that imports torch, to report on it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "torchkbnufft", "finufft", "cufinufft", "pytorch_finufft", "sigpy", "numba")
_PROBE = """
import json, sys
from recon_cli.cli.main import app
try:
    app(sys.argv[1:], prog_name="recon")
except SystemExit as exc:
    code = exc.code
print("MODULES=" + json.dumps(sorted(m for m in sys.modules if "." not in m)), file=sys.stderr)
sys.exit(code or 0)
"""


def _modules(*args: str) -> tuple[set[str], str]:
    proc = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("MODULES="))
    return set(json.loads(line.removeprefix("MODULES="))), proc.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("--version",),
        ("models",),
        ("models", "--json"),
        ("models", "imunne"),
        ("reconstruct", "--help"),
    ],
)
def test_commands_that_only_look_import_nothing_heavy(args: tuple[str, ...]) -> None:
    modules, _ = _modules(*args)
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))
    if args[0].startswith("--"):
        assert "numpy" not in modules and "h5py" not in modules


def test_info_reads_headers_without_torch(radial_sample: Path, repo_root: Path) -> None:
    fastmri = repo_root / "sample_data" / "fastmri_brain_phantom_multicoil.h5"
    modules, out = _modules("info", "--json", str(radial_sample), str(fastmri))
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))
    rows = json.loads(out)
    assert [r["format"] for r in rows] == ["ismrmrd", "fastmri"]


def test_version_names_recon_python_and_torch() -> None:
    from importlib import metadata

    from recon_cli import __version__

    _, out = _modules("--version")
    assert out.startswith(f"recon {__version__} ") and sys.version.split()[0] in out
    assert f"torch {metadata.version('torch')}" in out  # e.g. 2.13.0+cpu: the build, without importing it


def test_info_system_reports_torch_build_devices_and_nufft() -> None:
    modules, out = _modules("info", "--system", "--json")
    import torch  # the reference: this interpreter's torch

    report = json.loads(out)
    assert "torch" in modules
    assert report["torch"] == torch.__version__
    assert report["torch_build"] == (f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU")
    assert len(report["cuda_devices"]) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)
    assert report["nufft_backends"]["cpu"], "no NUFFT backend found for the CPU"
    assert report["python"] == sys.version.split()[0]

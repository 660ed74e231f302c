"""Helpers for tests: independent reference generators (BART, ISMRMRD's tools) and small utilities."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pytest


def require_tool(name: str) -> str:
    """Path of an external reference tool. CI installs them all, so a missing one is a failure there."""
    exe = shutil.which(name)
    if exe is None:
        pytest.fail(f"reference tool '{name}' is not installed (.ci/run installs it)")
    return exe


def run_tool(*args: str | Path, cwd: Path | None = None) -> str:
    """Run an external tool, failing the test with its stderr if it fails."""
    exe = require_tool(str(args[0]))
    proc = subprocess.run([exe, *map(str, args[1:])], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"{args[0]} failed ({proc.returncode}): {proc.stderr.strip()[:500]}")
    return proc.stdout


def bart(*args: str | Path, cwd: Path | None = None) -> str:
    """Run ``bart`` with the given arguments."""
    return run_tool("bart", *args, cwd=cwd)


def read_cfl(base: Path | str) -> np.ndarray:
    """Read a BART .cfl/.hdr pair (column-major complex64); trailing singleton dims are dropped."""
    base = Path(base)
    lines = base.with_suffix(".hdr").read_text().splitlines()
    dims = [int(d) for d in lines[1].split()]
    while len(dims) > 1 and dims[-1] == 1:
        dims.pop()
    data = np.fromfile(base.with_suffix(".cfl"), dtype=np.complex64)
    return data.reshape(dims, order="F")


def write_cfl(base: Path | str, array: np.ndarray) -> None:
    """Write a BART .cfl/.hdr pair (column-major complex64)."""
    base = Path(base)
    dims = list(array.shape) + [1] * max(0, 16 - array.ndim)
    base.with_suffix(".hdr").write_text("# Dimensions\n" + " ".join(map(str, dims)) + "\n")
    np.asarray(array, dtype=np.complex64).ravel(order="F").tofile(base.with_suffix(".cfl"))


def nrmse(x: np.ndarray, ref: np.ndarray) -> float:
    """||x - ref|| / ||ref||."""
    return float(np.linalg.norm(x - ref) / np.linalg.norm(ref))


def correlation(x: np.ndarray, ref: np.ndarray) -> float:
    """Pearson correlation of two real arrays (flattened)."""
    return float(np.corrcoef(np.ravel(x), np.ravel(ref))[0, 1])


def small_cine(
    kind: str,
    *,
    n: int = 32,
    frames: int = 4,
    coils: int = 4,
    seed: int = 5,
    acceleration: float = 3.0,
    center_fraction: float = 0.1,
    spokes: int = 8,
):
    """A seeded multi-coil cine phantom scan for model tests: (image, maps, Scan).

    kind "cartesian": a random 1D mask at ``acceleration``; "radial": ``spokes`` golden-angle spokes of
    2 n samples per frame. Noise at image SNR 40.
    """
    import torch

    from recon_cli.phantoms import cardiac_cine_phantom, coil_maps, simulate_cartesian, simulate_radial_cine
    from recon_cli.sampling import cartesian_mask, golden_angle_radial

    gen = torch.Generator().manual_seed(seed)
    image = cardiac_cine_phantom(n, frames, generator=gen)
    maps = coil_maps(coils, (n, n), generator=gen)
    if kind == "cartesian":
        mask = cartesian_mask("random", (n, n), acceleration, center_fraction, seed, frames)
        mask = torch.from_numpy(mask).unsqueeze(1)
        return image, maps, simulate_cartesian(image, maps, snr=40.0, generator=gen, mask=mask)
    traj = torch.from_numpy(golden_angle_radial(spokes, frames, 2 * n))
    return image, maps, simulate_radial_cine(image, maps, traj, readout_length=2 * n, snr=40.0, generator=gen)


def ismrmrd_header_xml(
    matrix: tuple[int, int, int],
    fov_mm: tuple[float, float, float],
    trajectory: str = "cartesian",
    *,
    larmor_hz: int = 63_870_000,
    encoding_limits: object | None = None,
) -> str:
    """An ISMRMRD XML header built with the ismrmrd package: one encoding, the same encoded and recon space.

    Args:
        matrix: (x, y, z) matrix size.
        fov_mm: (x, y, z) field of view in millimetres.
        trajectory: ISMRMRD trajectory name ("cartesian", "radial", ...).
        larmor_hz: H1 resonance frequency.
        encoding_limits: An ``xsd.encodingLimitsType``; None: empty limits.
    """
    from recon_cli.io.ismrmrd_lib import xsd

    space = xsd.encodingSpaceType(
        matrixSize=xsd.matrixSizeType(x=matrix[0], y=matrix[1], z=matrix[2]),
        fieldOfView_mm=xsd.fieldOfViewMm(x=fov_mm[0], y=fov_mm[1], z=fov_mm[2]),
    )
    encoding = xsd.encodingType(
        encodedSpace=space,
        reconSpace=space,
        encodingLimits=xsd.encodingLimitsType() if encoding_limits is None else encoding_limits,
        trajectory=xsd.trajectoryType(trajectory),
    )
    conditions = xsd.experimentalConditionsType(H1resonanceFrequency_Hz=larmor_hz)
    return str(xsd.ToXML(xsd.ismrmrdHeader(experimentalConditions=conditions, encoding=[encoding])))


def write_ismrmrd_file(path: Path, xml: str, acquisitions: Iterable[object]) -> Path:
    """An ISMRMRD file written with the ismrmrd package: the header ``xml`` and ``acquisitions`` in order."""
    from recon_cli.io.ismrmrd_lib import ismrmrd

    dset = ismrmrd.Dataset(str(path), "dataset", create_if_needed=True)
    dset.write_xml_header(xml)
    for acq in acquisitions:
        dset.append_acquisition(acq)
    dset.close()
    return path


def set_options(values: Mapping[str, object], prefix: str = "") -> list[str]:
    """``--set`` options of a recon command: ``{"chans": 4}`` -> ``["--set", "chans=4"]``.

    Args:
        values: Setting names and values, in the order they are given.
        prefix: Put before every name, e.g. "data." for training-data settings.
    """
    return [arg for key, value in values.items() for arg in ("--set", f"{prefix}{key}={value}")]


# Identity fields of a test scan's header (ScanHeader.patient / .study), as writers copy them into outputs.
PATIENT = {"name": "Doe^Jane", "id": "P12345", "birth_date": "1970-01-02", "sex": "F", "weight_kg": "61"}
STUDY = {"date": "2024-05-06", "time": "12:34:56", "description": "cardiac", "institution": "St Elsewhere"}

"""Devices, versions and resource figures recorded with every run."""

from __future__ import annotations

import platform
import resource
import sys
from importlib import metadata

import torch

from recon_cli.errors import UsageError

_RECORDED_PACKAGES = (
    "recon",
    "torch",
    "torchkbnufft",
    "sigpy",
    "numpy",
    "h5py",
    "ismrmrd",
    "pydicom",
    "nibabel",
)


def resolve_device(spec: str = "auto") -> torch.device:
    """ "auto" -> first CUDA device if present else CPU; "cpu"; "cuda" or "cuda:N" (checked to exist)."""
    spec = spec.strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise UsageError(f"--device: '{spec}' is not a device (use auto, cpu or cuda:N)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"--device {spec}: CUDA is not available on this machine (use --device cpu)")
        index = device.index or 0
        if index >= torch.cuda.device_count():
            raise UsageError(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) present")
    elif device.type != "cpu":
        raise UsageError(f"--device: '{spec}' is not supported (use auto, cpu or cuda:N)")
    return device


def peak_memory(device: torch.device | None = None) -> dict[str, float]:
    """Peak resident memory of this process (MiB) and, on CUDA, peak allocated device memory (MiB)."""
    figures = {"host_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}
    if device is not None and device.type == "cuda":
        figures["cuda_peak_allocated_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    return figures


def versions() -> dict[str, str]:
    """Versions of Python, the platform and the packages that shape results."""
    found = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _RECORDED_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    if torch.cuda.is_available():
        found["cuda"] = str(torch.version.cuda)
    return found

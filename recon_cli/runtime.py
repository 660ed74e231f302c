"""Devices, versions and resource figures recorded with every run, and ``recon info --system``.

torch is imported inside the functions that need it, so importing this module stays cheap.
"""

from __future__ import annotations

import platform
import resource
import sys
from importlib import metadata
from typing import TYPE_CHECKING, Any

from recon_cli.errors import UsageError

if TYPE_CHECKING:
    import torch

_RECORDED_PACKAGES = (
    "recon",
    "torch",
    "torchkbnufft",
    "finufft",
    "sigpy",
    "numpy",
    "h5py",
    "ismrmrd",
    "pydicom",
    "nibabel",
)


def resolve_device(spec: str = "auto") -> torch.device:
    """ "auto" -> first CUDA device if present else CPU; "cpu"; "cuda" or "cuda:N" (checked to exist)."""
    import torch

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
        import torch

        figures["cuda_peak_allocated_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    return figures


def package_version(name: str) -> str:
    """Installed version of distribution ``name`` from its metadata (nothing is imported)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    """Versions of Python, the platform and the packages that shape results."""
    import torch

    found = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _RECORDED_PACKAGES:
        found[name] = package_version(name)
    if torch.cuda.is_available():
        found["cuda"] = str(torch.version.cuda)
    return found


def system_report() -> dict[str, Any]:
    """What this installation runs on: recon, Python, torch build, CUDA devices, NUFFT backends.

    Imports torch (and probes the NUFFT libraries); ``recon info --system`` is the command that reports it.

    Returns:
        recon, python, platform, torch (version), torch_build ("CPU" or "CUDA <version>"), cuda_devices
        (index, name, memory_gib per visible device), nufft_backends (device type -> installed backends,
        fastest first, the first is the default) and packages (version of each recorded package).
    """
    import torch

    from recon_cli import __version__
    from recon_cli.ops.nufft_backends import available_backends

    cuda = torch.version.cuda
    devices = []
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            devices.append(
                {"index": index, "name": props.name, "memory_gib": round(props.total_memory / 2**30, 1)}
            )
    backends = {"cpu": available_backends("cpu")}
    if devices:
        backends["cuda"] = available_backends("cuda")
    return {
        "recon": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torch_build": f"CUDA {cuda}" if cuda else "CPU",
        "cuda_devices": devices,
        "nufft_backends": backends,
        "packages": {name: package_version(name) for name in _RECORDED_PACKAGES if name != "recon"},
    }

"""The coil maps one ``recon reconstruct`` input needs: read from ``--coils``, estimated, or none."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from recon_cli.contract import coil_maps_mode
from recon_cli.errors import UsageError

if TYPE_CHECKING:
    import torch

    from recon_cli.io.scan import Scan
    from recon_cli.reconstruct import LoadedModel
    from recon_cli.reconstruct_request import ReconstructRequest


def scan_coil_maps(
    scan: Scan,
    request: ReconstructRequest,
    model: LoadedModel,
    per_slice: bool = False,
    part: tuple[int, int] | None = None,
) -> torch.Tensor | None:
    """Coil maps of ``scan``: read from ``--coils`` (of slice ``part`` = (index, slices in the file) when
    the scan holds that slice alone), or estimated (slice by slice with ``per_slice``), or None."""
    from recon_cli.coils import estimate_maps, read_maps

    mode = coil_maps_mode(model.module)
    if request.coils is not None:
        if mode == "ignored":
            raise UsageError(
                f"model '{model.plugin.name}' with this config does not use coil maps; drop --coils"
            )
        return read_maps(request.coils, scan, part=part)
    if mode == "required":
        if not per_slice or scan.n_slices == 1:
            return estimate_maps(scan, method=request.coil_method)
        import torch

        from recon_cli.memory.plan import release_freed_memory

        parts = []
        for s in range(scan.n_slices):  # the same maps (each slice's are computed on its own), less memory
            parts.append(estimate_maps(slice_of(scan, s), method=request.coil_method))
            release_freed_memory()
        return torch.cat(parts)
    return None


def slice_of(scan: Scan, s: int) -> Scan:
    """The scan of slice ``s`` alone (views, no copies): k-space, mask, trajectory, calibration and
    reference image."""

    def pick(t: torch.Tensor | None) -> torch.Tensor | None:
        return None if t is None else t[min(s, t.shape[0] - 1) : min(s, t.shape[0] - 1) + 1]

    return dataclasses.replace(
        scan, kspace=scan.kspace[s : s + 1], mask=pick(scan.mask), traj=pick(scan.traj), acs=pick(scan.acs),
        reference=pick(scan.reference),
    )  # fmt: skip


def model_compression(
    scan: Scan, maps: torch.Tensor | None, model: LoadedModel
) -> tuple[Scan, torch.Tensor | None, dict[str, float | int] | None]:
    """The scan and maps the model reconstructs: compressed by SVD to the model's ``virtual_coils`` when
    it has that setting, maps, and more coils than that; else as given (with None for what was done).

    The maps are compressed with the data (``compress_maps``), so the model's forward operator is the
    physical one restricted to the strongest virtual coils: every normal-operator application costs
    ``virtual_coils / coils`` of the physical one.

    Returns:
        (scan, maps, record): ``record`` = {"coils", "virtual_coils", "energy"} (the smallest fraction,
        over slices, of the k-space energy kept) or None when nothing was compressed.
    """
    from recon_cli.coils.compression import compress_maps, compress_scan, retained_energy

    n_virtual = int(getattr(model.config, "virtual_coils", 0) or 0)
    if maps is None or n_virtual == 0 or n_virtual >= scan.n_coils:
        return scan, maps, None
    compressed, matrices = compress_scan(scan, n_virtual)
    record = {"coils": scan.n_coils, "virtual_coils": n_virtual, "energy": retained_energy(scan, compressed)}
    return compressed, compress_maps(maps, matrices), record

"""The ``recon estimate-coils`` job: read a scan, estimate its coil maps, write them and a PNG montage.

The pipeline of that command, as ``recon_cli.reconstruct`` is ``recon reconstruct``'s; the coil physics
is ``recon_cli.coils``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from recon_cli.coils.compression import compress_scan
from recon_cli.coils.estimate import check_method, estimate_maps
from recon_cli.coils.maps_file import write_maps
from recon_cli.coils.options import DEFAULTS, CoilOptions
from recon_cli.io.atomic import check_writable, refuse_inputs


def estimate_coils_file(
    scan_path: Path,
    out: Path,
    *,
    options: CoilOptions = DEFAULTS,
    device: str = "auto",
    overwrite: bool = False,
) -> list[Path]:
    """``recon estimate-coils``: read a scan, estimate maps, write ``out`` and a PNG montage beside it.

    With ``options.compress`` > 0 the scan is first compressed to that many virtual coils per slice;
    the file then holds the virtual maps and the compression matrices (see ``recon_cli.coils.maps_file``).

    Returns:
        [maps file, PNG montage of the first slice's coil magnitudes].
    """
    from recon_cli.io import read_scan
    from recon_cli.io.previews import write_png_preview
    from recon_cli.runtime import resolve_device

    check_method(options.method, options.smoothing)
    out = Path(out)
    png = out.with_suffix(".png")
    refuse_inputs([out, png], [scan_path])
    for target in (out, png):
        check_writable(target, overwrite)
    dev = resolve_device(device)
    scan = read_scan(scan_path)
    matrices = None
    if options.compress:
        scan, matrices = compress_scan(scan, options.compress)
    fields = dataclasses.asdict(options)
    settings = {k: v for k, v in fields.items() if k != "compress"}
    maps = estimate_maps(scan, device=dev, **settings)
    write_maps(out, maps, method=options.method, parameters=fields, compression=matrices, overwrite=overwrite)
    # montage of the first slice's coil magnitudes: coils play the role of slices
    write_png_preview(png, maps[:1].abs().permute(1, 0, 2, 3), overwrite=overwrite)
    return [out, png]

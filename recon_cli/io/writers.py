"""Write one reconstruction in every requested output format, refusing before writing anything.

For ``stem`` in ``out_dir``: ``nifti`` -> ``{stem}.nii.gz``; ``dicom`` -> ``{stem}_dicom/``;
``h5`` -> ``{stem}.h5``; ``png`` -> ``{stem}.png`` plus ``{stem}.gif`` when there is more than one frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recon_cli.errors import OutputExistsError, UsageError

if TYPE_CHECKING:
    from recon_cli.io.scan import ScanHeader

OUTPUT_FORMATS = ("nifti", "dicom", "h5", "png")


def output_targets(
    out_dir: Path | str, stem: str, formats: Iterable[str], n_frames: int
) -> dict[str, list[Path]]:
    """The paths each format writes (the DICOM series as its folder).

    Raises:
        UsageError: an unknown format name.
    """
    out_dir = Path(out_dir)
    targets: dict[str, list[Path]] = {}
    for fmt in dict.fromkeys(formats):  # unique, in the caller's order
        if fmt == "nifti":
            targets[fmt] = [out_dir / f"{stem}.nii.gz"]
        elif fmt == "dicom":
            targets[fmt] = [out_dir / f"{stem}_dicom"]
        elif fmt == "h5":
            targets[fmt] = [out_dir / f"{stem}.h5"]
        elif fmt == "png":
            targets[fmt] = [out_dir / f"{stem}.png"] + ([out_dir / f"{stem}.gif"] if n_frames > 1 else [])
        else:
            raise UsageError(f"Unknown output format '{fmt}'. Available: {', '.join(OUTPUT_FORMATS)}")
    return targets


def write_outputs(
    out_dir: Path | str,
    stem: str,
    images: Any,
    header: ScanHeader,
    *,
    formats: Iterable[str],
    overwrite: bool = False,
    anonymize: bool = False,
    attrs: Mapping[str, Any] | None = None,
    series_description: str | None = None,
) -> dict[str, list[Path]]:
    """Write ``images`` in each of ``formats``; check every target exists before writing any.

    Args:
        out_dir: Output folder (created if missing).
        stem: File-name stem shared by the outputs.
        images: ``(slices, frames, ny, nx)`` complex64 or real tensor/array.
        header: The scan's header (geometry, timing, patient/study fields).
        formats: Names from ``OUTPUT_FORMATS``.
        overwrite: Replace existing outputs.
        anonymize: Strip patient identity from the DICOM series.
        attrs: Extra attributes for the HDF5 file (model name, resolved config, ...).
        series_description: DICOM SeriesDescription (default: the header's, else "recon").

    Returns:
        Format name -> written files (every DICOM instance for "dicom").

    Raises:
        UsageError: an unknown format.
        OutputExistsError: any target exists and ``overwrite`` is False (nothing is written then).
    """
    from recon_cli.io.geometry import image_array  # numpy: here, not in `recon --help`

    data = image_array(images)
    targets = output_targets(out_dir, stem, formats, n_frames=data.shape[1])
    if not overwrite:
        for fmt, paths in targets.items():
            for path in paths:
                if path.exists() and not (fmt == "dicom" and _is_empty_dir(path)):
                    raise OutputExistsError(path)
    written: dict[str, list[Path]] = {}
    for fmt, paths in targets.items():
        written[fmt] = _write_one(fmt, paths, data, header, overwrite, anonymize, attrs, series_description)
    return written


def _write_one(
    fmt: str,
    paths: list[Path],
    data: Any,
    header: ScanHeader,
    overwrite: bool,
    anonymize: bool,
    attrs: Mapping[str, Any] | None,
    series_description: str | None,
) -> list[Path]:
    if fmt == "nifti":
        from recon_cli.io.nifti import write_nifti

        return [write_nifti(paths[0], data, header, overwrite=overwrite)]
    if fmt == "dicom":
        from recon_cli.io.dicom import write_dicom_series

        return write_dicom_series(
            paths[0],
            data,
            header,
            overwrite=overwrite,
            anonymize=anonymize,
            series_description=series_description,
        )
    if fmt == "h5":
        from recon_cli.io.h5image import write_h5_images

        return [write_h5_images(paths[0], data, header, attrs=dict(attrs or {}), overwrite=overwrite)]
    from recon_cli.io.previews import write_gif, write_png_preview

    out = [write_png_preview(paths[0], data, overwrite=overwrite)]
    if len(paths) > 1:
        out.append(write_gif(paths[1], data, frame_time_ms=header.frame_time_ms, overwrite=overwrite))
    return out


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())

"""Write fastMRI-layout HDF5 files (sample data, tests, undersampled copies); the reader is ``fastmri``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recon_cli.io.atomic import atomic_path

__all__ = ["fastmri_header_xml", "write_fastmri"]


def fastmri_header_xml(
    encoded_matrix: tuple[int, int],
    recon_matrix: tuple[int, int],
    encoded_fov_mm: tuple[float, float, float],
    recon_fov_mm: tuple[float, float, float],
    *,
    n_coils: int = 1,
    patient_id: str | None = None,
    field_strength_t: float | None = None,
    protocol_name: str | None = None,
) -> str:
    """An ISMRMRD XML header as fastMRI files carry it.

    Args:
        encoded_matrix: (x, y) of the acquired k-space; x is the readout (fastMRI's rows), with oversampling.
        recon_matrix: (x, y) of the reconstructed image (fastMRI crops the image to it).
        encoded_fov_mm: (x, y, z) field of view of the encoded space; x / recon x is the readout oversampling.
        recon_fov_mm: (x, y, z) field of view of the reconstructed image; z is the slice thickness.
        n_coils: Receiver channels.
        patient_id: Stored as subjectInformation/patientID when given.
        field_strength_t: Main field in tesla, recorded as systemFieldStrength_T (and sets the H1
            resonance frequency); None: ``ismrmrd_xml.DEFAULT_FIELD_STRENGTH_T`` (3 T).
        protocol_name: Stored as measurementInformation/protocolName when given.

    Returns:
        The XML document as a string, built by ``ismrmrd_xml.header_xml``.
    """
    from recon_cli.io.ismrmrd_xml import DEFAULT_FIELD_STRENGTH_T, Encoding, header_xml
    from recon_cli.io.scan import ScanHeader

    encoding = Encoding(
        encoded_matrix=encoded_matrix,
        recon_matrix=recon_matrix,
        encoded_fov_mm=encoded_fov_mm,
        recon_fov_mm=recon_fov_mm,
        lines=encoded_matrix[1],
        centre_line=encoded_matrix[1] // 2,
    )
    identity = ScanHeader(
        recon_matrix=(recon_matrix[1], recon_matrix[0]),
        encoded_matrix=(encoded_matrix[1], encoded_matrix[0]),
        fov_mm=(recon_fov_mm[1], recon_fov_mm[0], recon_fov_mm[2]),
        patient={} if patient_id is None else {"id": patient_id},
        series={} if protocol_name is None else {"protocol_name": protocol_name},
        sequence={"field_T": DEFAULT_FIELD_STRENGTH_T if field_strength_t is None else field_strength_t},
    )
    return header_xml(encoding, identity, n_coils=n_coils, measurement=protocol_name is not None)


def write_fastmri(
    path: Path | str,
    kspace: np.ndarray | torch.Tensor,
    *,
    reference: np.ndarray | torch.Tensor | None = None,
    reference_name: str | None = None,
    mask: np.ndarray | torch.Tensor | None = None,
    header_xml: str | None = None,
    attrs: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    compression: str | None = None,
) -> Path:
    """Write a fastMRI-layout HDF5 file atomically.

    Args:
        path: Output file; an existing one is replaced only with ``overwrite``.
        kspace: (slices, coils, rows, cols) multi-coil or (slices, rows, cols) single-coil complex.
        reference: (slices, H, W) target image, stored as float32.
        reference_name: Dataset name for ``reference``; default ``reconstruction_rss`` for multi-coil and
            ``reconstruction_esc`` for single-coil data.
        mask: 1-D column mask (cols,), stored as bool.
        header_xml: ISMRMRD XML header (e.g. from ``fastmri_header_xml``), stored as ``ismrmrd_header``.
        attrs: Root attributes (acquisition, patient_id, max, norm, ...).
        overwrite: Replace an existing file.
        compression: h5py compression for the arrays ("gzip" or None).

    Returns:
        The path written.
    """
    import h5py

    k = _numpy(kspace).astype(np.complex64)
    if k.ndim not in (3, 4):
        raise ValueError(f"kspace must be 3-D or 4-D, got shape {k.shape}")
    opts = {"compression": compression} if compression else {}
    with atomic_path(path, overwrite=overwrite) as tmp:
        with h5py.File(tmp, "w", track_order=True) as f:
            f.create_dataset("kspace", data=k, **opts)
            if reference is not None:
                name = reference_name or ("reconstruction_rss" if k.ndim == 4 else "reconstruction_esc")
                f.create_dataset(name, data=_numpy(reference).astype(np.float32), **opts)
            if mask is not None:
                f.create_dataset("mask", data=_numpy(mask).reshape(-1) != 0)
            if header_xml is not None:
                f.create_dataset("ismrmrd_header", data=header_xml.encode("utf-8"))
            for key, value in (attrs or {}).items():
                f.attrs[key] = value
    return Path(path)


def _numpy(a: np.ndarray | torch.Tensor) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)

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
    field_strength_t: float = 3.0,
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
        field_strength_t: Main field in tesla (sets the H1 resonance frequency too).
        protocol_name: Stored as measurementInformation/protocolName when given.

    Returns:
        The XML document as a string, built with ``ismrmrd.xsd``.
    """
    from recon_cli.io.ismrmrd_lib import xsd as x

    def space(matrix: tuple[int, int], fov: tuple[float, float, float]) -> Any:
        return x.encodingSpaceType(
            matrixSize=x.matrixSizeType(x=matrix[0], y=matrix[1], z=1),
            fieldOfView_mm=x.fieldOfViewMm(x=fov[0], y=fov[1], z=fov[2]),
        )

    limits = x.encodingLimitsType(
        kspace_encoding_step_1=x.limitType(
            minimum=0, maximum=encoded_matrix[1] - 1, center=encoded_matrix[1] // 2
        ),
        slice=x.limitType(minimum=0, maximum=0, center=0),
    )
    encoding = x.encodingType(
        encodedSpace=space(encoded_matrix, encoded_fov_mm),
        reconSpace=space(recon_matrix, recon_fov_mm),
        encodingLimits=limits,
        trajectory=x.trajectoryType("cartesian"),
    )
    header = x.ismrmrdHeader(
        experimentalConditions=x.experimentalConditionsType(
            H1resonanceFrequency_Hz=round(42.577478e6 * field_strength_t)
        ),
        encoding=[encoding],
        acquisitionSystemInformation=x.acquisitionSystemInformationType(
            systemFieldStrength_T=field_strength_t, receiverChannels=n_coils
        ),
        subjectInformation=None if patient_id is None else x.subjectInformationType(patientID=patient_id),
        measurementInformation=None
        if protocol_name is None
        else x.measurementInformationType(
            patientPosition=x.patientPositionType("HFS"), protocolName=protocol_name
        ),
    )
    return x.ToXML(header, encoding="utf-8")


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

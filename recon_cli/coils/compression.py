"""Coil compression by SVD (Huang et al., MRI 26:133, 2008; Buehrer et al., MRM 57:1131, 2007).

The ``n`` virtual coils are the first ``n`` principal components of the coil signals:
``matrix`` (n, coils) has orthonormal rows and virtual data is ``matrix @ data`` along the coil axis.
Since the rows are orthonormal, ``matrix^H`` maps virtual-coil sensitivities back to the physical coils
(``uncompress_maps``): SENSE with those maps on the original data solves the same least-squares problem
as SENSE with the virtual maps on the compressed data.
"""

from __future__ import annotations

import dataclasses

import torch

from recon_cli.errors import UsageError
from recon_cli.io.scan import Scan


def compression_matrix(data: torch.Tensor, n_virtual: int, *, coil_dim: int = -3) -> torch.Tensor:
    """The SVD compression matrix of some data.

    Args:
        data: complex tensor with coils along ``coil_dim`` (k-space or images, any other axes).
        n_virtual: number of virtual coils, 1..coils.
        coil_dim: the coil axis.

    Returns:
        (n_virtual, coils) complex64 with orthonormal rows, strongest component first.
    """
    coils = data.shape[coil_dim]
    if not 1 <= n_virtual <= coils:
        raise UsageError(f"cannot compress {coils} coils to {n_virtual} virtual coils")
    flat = data.movedim(coil_dim, 0).reshape(coils, -1).to(torch.complex128)
    _, vectors = torch.linalg.eigh(flat @ flat.mH)  # ascending
    return vectors.flip(-1)[:, :n_virtual].mH.to(torch.complex64)


def apply_coil_matrix(data: torch.Tensor, matrix: torch.Tensor, *, coil_dim: int = -3) -> torch.Tensor:
    """``matrix @ data`` along the coil axis. data: (..., coils, ...); matrix: (out, coils)."""
    moved = data.movedim(coil_dim, -1)
    return (moved @ matrix.mT.to(moved.dtype)).movedim(-1, coil_dim)


def compress_coils(
    kspace: torch.Tensor, n_virtual: int, *, coil_dim: int = -3
) -> tuple[torch.Tensor, torch.Tensor]:
    """Compress coils by SVD.

    Args:
        kspace: complex tensor with coils along ``coil_dim``, e.g. (frames, coils, ky, kx) or
            (frames, coils, samples) with ``coil_dim=-2``.
        n_virtual: number of virtual coils.
        coil_dim: the coil axis.

    Returns:
        ``(kspace_c, matrix)``: the compressed data (``n_virtual`` along ``coil_dim``, complex64) and the
        (n_virtual, coils) complex64 matrix that made it.
    """
    matrix = compression_matrix(kspace, n_virtual, coil_dim=coil_dim)
    return apply_coil_matrix(kspace.to(torch.complex64), matrix, coil_dim=coil_dim), matrix


def compress_scan(
    scan: Scan, n_virtual: int | None = None, *, matrices: torch.Tensor | None = None
) -> tuple[Scan, torch.Tensor]:
    """Compress a scan's k-space, calibration data and noise covariance, slice by slice.

    Args:
        scan: the raw data.
        n_virtual: virtual coils per slice (matrices computed from each slice's data), or None when
            ``matrices`` is given.
        matrices: (slices, n_virtual, coils) to apply, e.g. read from a map file.

    Returns:
        ``(compressed scan, matrices)``: a new Scan with ``n_virtual`` coils, and the matrices used.
    """
    coil_dim = -3 if scan.is_cartesian else -2
    if matrices is None:
        if n_virtual is None:
            raise UsageError("compress_scan needs n_virtual or matrices")
        matrices = torch.stack(
            [compression_matrix(scan.kspace[s], n_virtual, coil_dim=coil_dim) for s in range(scan.n_slices)]
        )
    if tuple(matrices.shape[::2]) != (scan.n_slices, scan.n_coils):
        raise UsageError(f"compression matrices {tuple(matrices.shape)} do not fit {scan.n_coils} coils")
    kspace = torch.stack(
        [apply_coil_matrix(scan.kspace[s], matrices[s], coil_dim=coil_dim) for s in range(scan.n_slices)]
    )
    acs = None
    if scan.acs is not None:
        acs = torch.stack([apply_coil_matrix(scan.acs[s], matrices[s]) for s in range(scan.n_slices)])
    noise = None
    if scan.noise is not None:  # one covariance for the scan: the first slice's compression
        noise = matrices[0] @ scan.noise.to(torch.complex64) @ matrices[0].mH
    return dataclasses.replace(scan, kspace=kspace, acs=acs, noise=noise), matrices


def uncompress_maps(maps: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Virtual-coil maps expressed on the physical coils: ``matrix^H @ maps`` per slice.

    Args:
        maps: (slices, n_virtual, ny, nx) complex.
        matrices: (slices, n_virtual, coils) complex.

    Returns:
        (slices, coils, ny, nx) complex64.
    """
    return torch.einsum("svc,svyx->scyx", matrices.conj().to(torch.complex64), maps.to(torch.complex64))


def compress_maps(maps: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Physical-coil maps as the sensitivities of the virtual coils: ``matrix @ maps`` per slice.

    The virtual data ``M y`` of coil images ``S x`` is ``(M S) x``, so SENSE with these maps on the
    compressed data models exactly what SENSE with ``maps`` models on the physical data, restricted to the
    virtual coils (the inverse of ``uncompress_maps`` on the span of the virtual coils).

    Args:
        maps: (slices, coils, ny, nx) complex.
        matrices: (slices, n_virtual, coils) complex.

    Returns:
        (slices, n_virtual, ny, nx) complex64.
    """
    return torch.einsum("svc,scyx->svyx", matrices.to(torch.complex64), maps.to(torch.complex64))


def retained_energy(scan: Scan, compressed: Scan) -> float:
    """The smallest fraction, over slices, of the k-space energy that the compressed scan keeps."""
    full = scan.kspace.abs().square().flatten(1).sum(1).double()
    kept = compressed.kspace.abs().square().flatten(1).sum(1).double()
    return float((kept / full.clamp_min(torch.finfo(torch.float64).tiny)).min())

"""Cartesian ISMRMRD acquisitions -> k-space, sampling mask and calibration data of a ``Scan``.

Each readout is placed so that sample ``center_sample`` (``number_of_samples // 2`` when it is 0) lands
at ``encoded_x // 2`` and each line so that the encoding-limits centre of ``kspace_encode_step_1`` lands
at ``ny // 2``; repeated lines are averaged; readout oversampling is removed in image space. The
conventions as a whole are in ``recon_cli.io.ismrmrd``'s docstring.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from recon_cli.errors import InputDataError
from recon_cli.io.ismrmrd_header import compact
from recon_cli.io.ismrmrd_lib import ismrmrd, xsd
from recon_cli.io.ismrmrd_table import Table, flag
from recon_cli.io.scan import IsmrmrdInfo, Scan, ScanHeader
from recon_cli.ops.functional import crop_readout_oversampling

__all__ = ["cartesian_centre_guesses", "read_cartesian"]


def cartesian_centre_guesses(hdr: xsd.ismrmrdHeader, heads: np.ndarray, guesses: list[str]) -> None:
    """Where the k-space centre was assumed rather than read (see ``read_cartesian``/``_place_readouts``)."""
    enc = hdr.encoding[0]
    limits = enc.encodingLimits.kspace_encoding_step_1 if enc.encodingLimits else None
    if limits is None or limits.center is None or limits.center <= 0:
        guesses.append("the header gives no centre phase-encoding line; the middle line (ny / 2) was assumed")
    if (heads["center_sample"] == 0).all():
        guesses.append("the readouts give no centre sample; the middle sample of each readout was assumed")


def _place_readouts(
    table: Table, index: np.ndarray, ny: int, nx_enc: int, centre_line: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Readouts on the encoded readout grid.

    Returns:
        grid (n, coils, nx_enc) complex64, rows (n,) int64 line indices in 0..ny-1, and
        cover (n, nx_enc) bool marking the columns each readout really sampled.
    """
    heads = table.heads[index]
    data = table.samples(index)
    n, _, ns = data.shape
    reverse = flag(heads["flags"], ismrmrd.ACQ_IS_REVERSE)
    data[reverse] = data[reverse][:, :, ::-1]
    pos = np.arange(ns)
    pre, post = heads["discard_pre"].astype(np.int64), heads["discard_post"].astype(np.int64)
    valid = (pos[None] >= pre[:, None]) & (pos[None] < ns - post[:, None])
    data *= valid[:, None, :]
    centre = heads["center_sample"].astype(np.int64)
    offset = nx_enc // 2 - np.where(centre == 0, ns // 2, centre)
    if (offset < 0).any() or (offset + ns > nx_enc).any():
        raise InputDataError(table.path, f"readouts of {ns} samples do not fit the encoded matrix x={nx_enc}")
    rows = heads["idx"]["kspace_encode_step_1"].astype(np.int64) - centre_line + ny // 2
    if (rows < 0).any() or (rows >= ny).any():
        raise InputDataError(table.path, f"phase-encoding lines fall outside the encoded matrix y={ny}")
    grid = np.zeros((n, data.shape[1], nx_enc), np.complex64)
    cover = np.zeros((n, nx_enc), bool)
    for off in np.unique(offset):
        sel = offset == off
        grid[sel, :, off : off + ns] = data[sel]
        cover[sel, off : off + ns] = valid[sel]
    return grid, rows, cover


def _accumulate(
    grid: np.ndarray, cover: np.ndarray, rows: np.ndarray, keys: np.ndarray, n_keys: int, ny: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Average readouts that land on the same (key, line, column).

    Returns:
        kspace (n_keys, coils, ny, nx_enc) complex64 and counts (n_keys, ny, nx_enc) float32.
    """
    n, coils, nx = grid.shape
    flat = torch.from_numpy(keys * ny + rows)
    total = torch.zeros(n_keys * ny, coils, nx, dtype=torch.complex64)
    total.index_add_(0, flat, torch.from_numpy(grid))
    counts = torch.zeros(n_keys * ny, nx)
    counts.index_add_(0, flat, torch.from_numpy(cover).float())
    total = total / counts.clamp_min(1.0)[:, None, :]
    kspace = total.reshape(n_keys, ny, coils, nx).permute(0, 2, 1, 3).contiguous()
    return kspace, counts.reshape(n_keys, ny, nx)


def _sampling_mask(counts: torch.Tensor, nx_out: int) -> torch.Tensor:
    """(keys, ny, nx_enc) counts -> (keys, ny, 1) line mask, or (keys, ny, nx_out) with partial echoes."""
    sampled = counts > 0
    lines = sampled.any(dim=-1, keepdim=True)
    if bool((sampled == lines).all()):
        return lines
    nx = counts.shape[-1]
    cols = torch.round((torch.arange(nx_out) - nx_out // 2) * nx / nx_out).long() + nx // 2
    return sampled[..., cols.clamp(0, nx - 1)]


def read_cartesian(
    table: Table,
    header: ScanHeader,
    hdr: xsd.ismrmrdHeader,
    img_idx: np.ndarray,
    cal_idx: np.ndarray,
    info: IsmrmrdInfo,
) -> Scan:
    """Cartesian k-space, mask and calibration data (see the module docstring)."""
    enc = hdr.encoding[0]
    ny, nx_enc = int(enc.encodedSpace.matrixSize.y), int(enc.encodedSpace.matrixSize.x)
    limits = enc.encodingLimits.kspace_encoding_step_1 if enc.encodingLimits else None
    centre = int(limits.center) if limits is not None and limits.center > 0 else ny // 2
    nx_out = max(1, round(nx_enc / info.readout_oversampling))
    counter = info.frame_counter
    heads = table.heads[img_idx]
    slice_values = np.unique(heads["idx"]["slice"])
    slices, n_slices = compact(heads["idx"]["slice"])
    frames, n_frames = compact(heads["idx"][counter])
    grid, rows, cover = _place_readouts(table, img_idx, ny, nx_enc, centre)
    kspace, counts = _accumulate(grid, cover, rows, slices * n_frames + frames, n_slices * n_frames, ny)
    kspace = crop_readout_oversampling(kspace, nx_out, dim=-1).reshape(n_slices, n_frames, -1, ny, nx_out)
    mask = _sampling_mask(counts, nx_out).reshape(n_slices, n_frames, 1, ny, -1)
    if n_slices > 1 and bool((mask == mask[:1]).all()):
        mask = mask[:1]
    cal_idx = cal_idx[np.isin(table.heads["idx"]["slice"][cal_idx], slice_values)]
    acs = acs_mask = None
    if cal_idx.size:
        cal_slices = np.searchsorted(slice_values, table.heads["idx"]["slice"][cal_idx]).astype(np.int64)
        cgrid, crows, ccover = _place_readouts(table, cal_idx, ny, nx_enc, centre)
        acs, ccounts = _accumulate(cgrid, ccover, crows, cal_slices, n_slices, ny)
        acs = crop_readout_oversampling(acs, nx_out, dim=-1).unsqueeze(1)
        acs_mask = (ccounts > 0).any(dim=-1).reshape(n_slices, 1, 1, ny, 1)
    return Scan(
        kspace=kspace.contiguous(),
        header=header,
        source=table.path,
        format="ismrmrd",
        mask=mask.contiguous(),
        acs=None if acs is None else acs.contiguous(),
        ismrmrd_info=dataclasses.replace(info, stored_matrix=(ny, nx_enc), acs_mask=acs_mask),
    )

"""What a raw-data file holds, as plain data for ``recon info``: read from headers with h5py and numpy.

``recon info`` is a metadata look, so nothing here imports torch: the ISMRMRD XML header and the
acquisition headers (flags, counters, sample counts) are read, not the samples; for fastMRI files the
dataset's shape, dtype, mask, XML and attributes are read, and the k-space is scanned slice by slice with
numpy for NaN/Inf and for the columns that hold data. The conventions are the readers' (``io/ismrmrd.py``,
``io/fastmri.py``): fastMRI matrices and FOVs are in array order (rows = readout), ISMRMRD ones are (y, x).
``noise_scans`` counts noise-measurement readouts (ISMRMRD flag 19); ``noise_samples`` their samples.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from recon_cli.errors import InputDataError, first_line
from recon_cli.io.detect import detect_format
from recon_cli.io.plausibility import MAX_ACQUISITIONS, MAX_COILS, check_count, check_stored


def describe_file(path: Path) -> dict[str, Any]:
    """Summarise the raw-data file ``path``.

    Returns:
        file, format, trajectory, matrix, encoded_matrix, fov_mm, coils, frames, slices,
        samples_per_frame, readout_length, acceleration, noise_scans, noise_samples, acs, reference,
        frame_time_ms and guesses (the readers' assumptions, one sentence each).

    Raises:
        InputDataError: the file is not raw data recon can use (naming the file and the problem).
    """
    import h5py

    path = Path(path)
    fmt = detect_format(path)
    try:
        with h5py.File(path, "r") as f:
            return _describe_fastmri(path, f) if fmt == "fastmri" else _describe_ismrmrd(path, f)
    except InputDataError:
        raise
    except (OSError, KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
        line = first_line(exc)
        raise InputDataError(path, f"unreadable {fmt} file: {line}") from None


def _row(path: Path, fmt: str, header: Any, **fields: Any) -> dict[str, Any]:
    return {
        "file": str(path),
        "format": fmt,
        "trajectory": header.trajectory,
        "matrix": list(header.recon_matrix),
        "encoded_matrix": list(header.encoded_matrix),
        "fov_mm": [round(v, 3) for v in header.fov_mm],
        **fields,
        "frame_time_ms": header.frame_time_ms,
    }


def _describe_ismrmrd(path: Path, f: Any) -> dict[str, Any]:
    from recon_cli.io.ismrmrd_header import (
        check_encoding,
        parse_xml,
        scan_header,
        stated_trajectory_units,
        with_timing_geometry,
    )
    from recon_cli.io.ismrmrd_table import acquisition_heads, classify

    group = f.get("dataset")
    if group is None:
        raise InputDataError(path, "no ISMRMRD dataset group 'dataset' in the file")
    guesses: list[str] = []
    hdr, text = parse_xml(path, group, guesses)
    if not hdr.encoding:
        raise InputDataError(path, "XML header has no <encoding> section")
    check_encoding(path, hdr.encoding[0])
    header, _ = scan_header(hdr, text)
    table = group.get("data")
    if table is None or not hasattr(table, "fields") or table.shape[0] == 0:
        raise InputDataError(path, "ISMRMRD dataset holds no acquisitions")
    check_count(path, "acquisitions", table.shape[0], MAX_ACQUISITIONS)
    check_stored(path, "the acquisition table", table)
    heads = acquisition_heads(table)
    noise, imaging, calibration = classify(path, heads, guesses)  # as read_ismrmrd chooses
    img = heads[imaging]
    counter = "phase" if np.unique(img["idx"]["phase"]).size > 1 else "repetition"
    header = with_timing_geometry(header, hdr, img, counter, guesses)
    keys = np.unique(np.stack([img["idx"]["slice"], img["idx"][counter]]), axis=1, return_counts=True)
    n_slices, n_frames = np.unique(keys[0][0]).size, np.unique(keys[0][1]).size
    samples = int(img["number_of_samples"].max())
    coils = check_count(path, "active channels", int(img["active_channels"].max()), MAX_COILS)
    system = hdr.acquisitionSystemInformation
    stated = system.receiverChannels if system is not None else None
    if stated is not None and int(stated) != coils:
        guesses.append(
            f"the header states {stated} receiver channels but the data holds {coils} coils; "
            f"the data's {coils} were used"
        )
    fields: dict[str, Any] = {
        "coils": coils,
        "frames": n_frames,
        "slices": n_slices,
        "samples_per_frame": None,
        "readout_length": None,
    }
    if header.trajectory == "cartesian":
        lines = np.unique(
            np.stack([img["idx"]["slice"], img["idx"][counter], img["idx"]["kspace_encode_step_1"]]), axis=1
        )
        acquired = lines.shape[1] / (n_slices * n_frames)
        fields["acceleration"] = round(header.encoded_matrix[0] / max(acquired, 1), 2)
    else:
        if (img["trajectory_dimensions"] == 0).any():
            raise InputDataError(path, "radial/spiral data without trajectories (trajectory_dimensions=0)")
        if np.unique(img["number_of_samples"]).size > 1:
            counts = np.unique(img["number_of_samples"])
            raise InputDataError(
                path, f"inconsistent sample counts across readouts: {counts} (need one length)"
            )
        if stated_trajectory_units(hdr) is None:
            guesses.append(
                "trajectory units will be inferred from their range (ISMRMRD does not record them; "
                "--traj-units states them)"
            )
        per_frame = int(keys[1].min())
        fields.update(samples_per_frame=per_frame * samples, readout_length=samples)
        fields["acceleration"] = round(math.pi / 2 * max(header.recon_matrix) / per_frame, 2)
    fields.update(
        noise_scans=int(noise.size),
        noise_samples=int(heads["number_of_samples"][noise].sum()),
        acs=bool(calibration.size),
        reference="reference" in group,
        guesses=guesses,
    )
    return _row(path, "ismrmrd", header, **fields)


def _describe_fastmri(path: Path, f: Any) -> dict[str, Any]:
    from recon_cli.io import fastmri_header as fh
    from recon_cli.io.scan import ScanHeader

    ds = f["kspace"]
    if ds.ndim not in (3, 4):
        raise InputDataError(path, f"kspace has rank {ds.ndim} {tuple(ds.shape)}; expected 3 or 4")
    if ds.size == 0:
        raise InputDataError(path, f"kspace is empty (shape {tuple(ds.shape)})")
    fh.check_shape(path, tuple(int(n) for n in ds.shape))  # before any slice is read
    check_stored(path, "kspace", ds)
    rows, cols = int(ds.shape[-2]), int(ds.shape[-1])
    sampled = _scan_kspace(path, ds)
    guesses: list[str] = []
    geo = fh.parse_geometry(fh.header_text(f, path), path, (rows, cols), guesses)
    recon, enc_fov, recon_fov = geo["recon"], geo["enc_fov"], geo["recon_fov"]
    n_out = min(rows, max(1, round(rows * recon_fov[0] / enc_fov[0])))
    header = ScanHeader(recon_matrix=recon, encoded_matrix=(n_out, cols), fov_mm=recon_fov)
    fh.check_coil_count(geo["hdr"], int(ds.shape[1]) if ds.ndim == 4 else 1, guesses)
    header = fh.assume_orientation(header, int(ds.shape[0]), guesses)
    mask = np.asarray(f["mask"][()]).reshape(-1) != 0 if "mask" in f else sampled
    if "sampling_mask" in f:
        mask = np.asarray(f["sampling_mask"][()]) != 0
    fraction = float(mask.mean()) if mask.size else 1.0
    reference = any(name in f for name in ("reconstruction_rss", "reconstruction_esc"))
    return _row(
        path,
        "fastmri",
        header,
        coils=int(ds.shape[1]) if ds.ndim == 4 else 1,
        frames=1,
        slices=int(ds.shape[0]),
        samples_per_frame=None,
        readout_length=None,
        acceleration=round(1.0 / fraction, 2) if fraction > 0 else None,
        noise_scans=0,
        noise_samples=0,
        acs=False,
        reference=reference,
        guesses=guesses,
    )


def _scan_kspace(path: Path, ds: Any) -> np.ndarray:
    """Check k-space slice by slice (complex, finite); return which columns hold data, (cols,) bool."""
    names = ds.dtype.names or ()
    parts = next(((r, i) for r, i in (("r", "i"), ("real", "imag")) if r in names and i in names), None)
    if not np.issubdtype(ds.dtype, np.complexfloating) and parts is None:
        raise InputDataError(
            path, f"kspace is real-valued (dtype {ds.dtype}); fastMRI k-space must be complex"
        )
    sampled = np.zeros(int(ds.shape[-1]), bool)
    for s in range(int(ds.shape[0])):
        block = ds[s]
        values = np.stack([block[parts[0]], block[parts[1]]]) if parts else block
        if not np.isfinite(values).all():
            raise InputDataError(path, "kspace contains NaN or Inf values")
        sampled |= (values != 0).reshape(-1, values.shape[-1]).any(axis=0)
    return sampled

"""Make the bundled sample data (synthetic, seeded, deterministic).

Run ``python sample_data/make_sample_data.py``.

Writes into this folder (or ``--out DIR``):

* ``radial_cine.h5``: ISMRMRD, 8-coil golden-angle radial real-time cine of the numerical cardiac phantom,
  128 x 128, 20 frames x 13 spokes x 256 samples (2x readout oversampling), with a noise scan.
* ``fastmri_brain_phantom_multicoil.h5``: fastMRI layout, 4-coil modified Shepp-Logan head, 3 slices,
  k-space 256 x 144 (readout 2x oversampled along the rows, as fastMRI's 640 x 368), ``ismrmrd_header``,
  ``reconstruction_rss`` 128 x 128 computed as fastMRI does.

See ``sample_data/README.md`` for what each file holds.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch

from recon_cli import phantoms
from recon_cli.errors import ReconError
from recon_cli.io.fastmri import fastmri_header_xml, write_fastmri
from recon_cli.io.ismrmrd import write_ismrmrd
from recon_cli.ops.functional import center_crop, ifft2c, rss
from recon_cli.sampling import golden_angle_radial

SEED = 20240611
RADIAL = {
    "n": 128,
    "frames": 20,
    "spokes": 13,
    "samples": 256,
    "coils": 8,
    "snr": 30.0,
    "detail": 0.0,
    "noise_samples": 2048,
    "fov_mm": 300.0,
    "slice_mm": 8.0,
    "frame_ms": 40.0,
    "coil_correlation": 0.3,
}
FASTMRI = {
    "rows": 256,
    "cols": 144,
    "recon": 128,
    "coils": 4,
    "slices": 3,
    "snr": 40.0,
    "fov_mm": 220.0,
    "slice_mm": 5.0,
    "scales": (0.86, 0.96, 0.91),
}
RADIAL_FILE = "radial_cine.h5"
FASTMRI_FILE = "fastmri_brain_phantom_multicoil.h5"


def make_radial_cine(
    out: Path,
    overwrite: bool = False,
    *,
    seed: int = SEED,
    snr: float | None = None,
    name: str = RADIAL_FILE,
    detail: float | None = None,
    anatomy: bool = False,
) -> list[Path]:
    """The ISMRMRD radial cine, its ground-truth magnitude inside as ``dataset/reference``.

    ``seed``, ``snr`` and ``name`` make other scans of the same kind (held-out test data in
    ``benchmarks/``); the defaults make the bundled sample. The phantom, coils and trajectory depend only
    on ``seed``, so scans of one seed at different ``snr`` differ only in their noise level. ``detail``
    sets the phantom's anatomical detail (``cardiac_cine_phantom``; the sample has none). ``anatomy``
    images real anatomy instead: a held-out brain-template slice under motion (``moving_brain_cine``,
    never used in training).
    """
    p = {
        **RADIAL,
        **({"snr": snr} if snr is not None else {}),
        **({"detail": detail} if detail is not None else {}),
    }
    gen = torch.Generator().manual_seed(seed)
    if anatomy:
        image = phantoms.moving_brain_cine(p["n"], p["frames"], part="test", generator=gen)
    else:
        image = phantoms.cardiac_cine_phantom(p["n"], p["frames"], generator=gen, detail=p["detail"])
    maps = phantoms.coil_maps(p["coils"], (p["n"], p["n"]), generator=gen)
    cov = phantoms.coil_noise_covariance(p["coils"], correlation=p["coil_correlation"], generator=gen)
    traj = torch.as_tensor(golden_angle_radial(p["spokes"], p["frames"], p["samples"]))
    scan = phantoms.simulate_radial_cine(
        image,
        maps,
        traj,
        readout_length=p["samples"],
        snr=p["snr"],
        generator=gen,
        noise_cov=cov,
        noise_samples=p["noise_samples"],
        fov_mm=p["fov_mm"],
        slice_thickness_mm=p["slice_mm"],
        frame_time_ms=p["frame_ms"],
    )
    what = "a brain-template slice under motion" if anatomy else "numerical phantom"
    series = {**scan.header.series, "description": f"synthetic golden-angle radial real-time cine ({what})"}
    scan = dataclasses.replace(scan, header=dataclasses.replace(scan.header, series=series))
    # scan.reference (the ground-truth magnitude) is written to dataset/reference, where read_ismrmrd finds it
    return [write_ismrmrd(out / name, scan, overwrite=overwrite)]


def make_fastmri_phantom(out: Path, overwrite: bool = False) -> Path:
    """A fastMRI-layout multi-coil file of a Shepp-Logan head, readout 2x oversampled along the rows."""
    p = FASTMRI
    gen = torch.Generator().manual_seed(SEED + 1)
    rows, cols, n = p["rows"], p["cols"], p["recon"]
    image = torch.zeros(p["slices"], 1, rows, cols, dtype=torch.complex64)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, n), torch.linspace(-1, 1, cols), indexing="ij")
    phase = torch.polar(torch.ones_like(xx), 0.6 * xx - 0.4 * yy + 0.3 * xx * yy)  # smooth B0-like phase
    r0, c0 = (rows - n) // 2, (cols - n) // 2
    for s, scale in enumerate(p["scales"]):
        head = torch.zeros(n, cols)
        head[:, c0 : c0 + n] = phantoms.shepp_logan(n, scale=scale)
        image[s, 0, r0 : r0 + n] = head * phase  # the object fills the central half of the readout FOV
    maps = torch.zeros(p["coils"], rows, cols, dtype=torch.complex64)
    maps[:, r0 : r0 + n] = phantoms.coil_maps(p["coils"], (n, cols), generator=gen)  # zero outside: no object
    scan = phantoms.simulate_cartesian(image, maps, snr=p["snr"], generator=gen)
    kspace = scan.kspace[:, 0]  # (slices, coils, rows, cols)
    target = center_crop(rss(ifft2c(kspace), dim=1), (n, n))  # fastMRI: crop rss(ifft2c(kspace)) to recon
    fov = p["fov_mm"]
    xml = fastmri_header_xml(
        (rows, cols),
        (n, n),
        (2 * fov, fov * cols / n, p["slice_mm"]),
        (fov, fov, p["slice_mm"]),
        n_coils=p["coils"],
        patient_id="synthetic-0001",
        protocol_name="SYNTH_SHEPP_LOGAN",
    )
    attrs = {
        "acquisition": "SYNTH_SHEPP_LOGAN",
        "patient_id": "synthetic-0001",
        "max": float(target.max()),
        "norm": float(torch.linalg.vector_norm(target)),
        "synthetic": True,
        "seed": SEED + 1,
    }
    return write_fastmri(
        out / FASTMRI_FILE, kspace, reference=target, header_xml=xml, attrs=attrs, overwrite=overwrite
    )


def main(argv: list[str] | None = None) -> int:
    """Write all sample files; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="output folder")
    parser.add_argument("--overwrite", action="store_true", help="replace existing files")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same floating-point results whatever the machine's core count
    try:
        paths = [*make_radial_cine(args.out, args.overwrite), make_fastmri_phantom(args.out, args.overwrite)]
    except ReconError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        torch.set_num_threads(threads)
    for path in paths:
        print(f"{path}  {path.stat().st_size / 1e6:.2f} MB")
    print(f"total {sum(p.stat().st_size for p in paths) / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Coil sensitivities against independent references.

* ESPIRiT vs ``bart ecalib`` (and sigpy's EspiritCalib) on BART's analytic 8-coil phantom k-space
  (``bart phantom -k -s 8``: no inverse crime). BART arrays are column-major (x, y, 1, coils); ours are
  (coils, y, x), the transpose. ``bart ecalib -t`` compares singular values with the square root of its
  argument, so our ``threshold=0.02`` is ``-t 0.0004``.
* SENSE combination with our maps vs ``bart pics -l2`` with BART's maps.
* Walsh, Inati, sum-of-squares and ESPIRiT vs the known birdcage maps of simulated data.
* Calibration sources: ISMRMRD's generator (ACS lines, interleaved frames; its true maps are in the
  file) and the pooled spokes of the bundled radial cine (true maps regenerated from its seeded script).
* Coil compression and ``recon estimate-coils``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from recon_cli import phantoms
from recon_cli.cli.main import app
from recon_cli.coils import (
    calibration_block,
    calibration_kspace,
    compress_coils,
    compress_scan,
    espirit_maps,
    estimate_maps,
    read_compression,
    read_maps,
    uncompress_maps,
)
from recon_cli.io import read_scan
from recon_cli.ops.functional import ifft2c, rss
from tests.helpers import bart, nrmse, read_cfl, run_tool, write_cfl

N = 128
runner = CliRunner()


def _bart_to_ours(array: np.ndarray) -> np.ndarray:
    """BART (x, y[, 1], coils) -> (coils, y, x) complex64."""
    return np.ascontiguousarray(array.reshape(array.shape[0], array.shape[1], -1).T).astype(np.complex64)


def map_correlation(ours: np.ndarray, ref: np.ndarray, support: np.ndarray, align: bool = True) -> float:
    """|<ours, ref>| / (|ours| |ref|) over the support, after per-pixel phase alignment if ``align``.

    Args:
        ours, ref: (coils, ny, nx) complex maps; support: (ny, nx) bool.
    """
    a, b = ours[:, support], ref[:, support]
    if align:  # multiply ours by the phase of sum_c conj(ours_c) ref_c, pixel by pixel
        inner = np.sum(a.conj() * b, axis=0)
        a = a * (inner / np.maximum(np.abs(inner), 1e-30))
    return float(abs(np.vdot(a, b)) / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def bart_phantom(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """BART's 8-coil phantom k-space, its ESPIRiT maps (one set) and ``pics -l2`` image."""
    folder = tmp_path_factory.mktemp("bart")
    bart("phantom", "-k", "-s", "8", "-x", str(N), folder / "k")
    bart("ecalib", "-m", "1", "-r", "24", "-k", "6", "-t", "0.0004", "-c", "0.95", folder / "k", folder / "s")
    bart("pics", "-S", "-l2", "-r", "0.001", folder / "k", folder / "s", folder / "x")
    return {
        "kspace": _bart_to_ours(read_cfl(folder / "k")),
        "maps": _bart_to_ours(read_cfl(folder / "s")),
        "pics": np.ascontiguousarray(read_cfl(folder / "x").reshape(N, N).T),
    }


def test_espirit_matches_bart_ecalib(bart_phantom: dict[str, np.ndarray]) -> None:
    ref = bart_phantom["maps"]
    ours = espirit_maps(torch.from_numpy(bart_phantom["kspace"]), threshold=0.02, crop=0.95).numpy()
    support = np.abs(ref).sum(0) > 0
    ours_support = np.abs(ours).sum(0) > 0
    assert (support ^ ours_support).mean() < 0.005  # the crop boundary agrees to a few pixels
    assert np.allclose(np.linalg.norm(ours[:, ours_support], axis=0), 1, atol=1e-5)
    assert map_correlation(ours, ref, support) >= 0.999
    # same phase convention (first principal component of the calibration data): no alignment needed
    assert map_correlation(ours, ref, support, align=False) >= 0.999


def test_espirit_leaves_no_hole_on_the_skull(tmp_path: Path) -> None:
    """Issue 13.11: BART's phantom, every 3rd line plus 24 ACS lines. The eigenvalue of W(x) dips just
    below the crop 0.95 along the bright skull ring (a strip one pixel wide, inside the support): the
    crop must not turn that into zero-sensitivity object pixels; ``bart ecalib`` keeps them."""
    from recon_cli.coils.common import cubic_resample, dominant_eigenvector
    from recon_cli.coils.espirit import kernel_covariance, signal_kernels, support_mask

    n = 192
    bart("phantom", "-k", "-s", "8", "-x", str(n), tmp_path / "k")
    full = _bart_to_ours(read_cfl(tmp_path / "k"))  # (coils, y, x)
    lines = np.zeros(n, bool)
    lines[::3] = True
    lines[n // 2 - 12 : n // 2 + 12] = True
    under = full * lines[None, :, None]
    write_cfl(tmp_path / "u", np.ascontiguousarray(under.T)[:, :, None, :])
    bart("ecalib", "-m", "1", tmp_path / "u", tmp_path / "s")  # BART's defaults (crop 0.8)
    reference = rss(ifft2c(torch.from_numpy(full)), dim=0).numpy()  # fully sampled, coils combined
    obj = reference > 0.2 * reference.max()
    assert ((np.abs(_bart_to_ours(read_cfl(tmp_path / "s"))) ** 2).sum(0)[obj] > 0).all()

    calib = torch.from_numpy(under)
    kernels = signal_kernels(calibration_block(calib[None], 24), 6, 0.02)
    _, eigenvalues = dominant_eigenvector(kernel_covariance(kernels, (n, n)), 30)
    raw = cubic_resample(eigenvalues, (n, n)) > 0.95
    assert (obj & ~raw[0].numpy()).sum() > 0  # the plain crop would cut object pixels here
    assert (support_mask(raw) >= raw).all()
    for grid in (None, n):  # the default eigen-grid and the exact one
        maps = espirit_maps(calib, grid=grid).numpy()
        energy = (np.abs(maps) ** 2).sum(0)
        assert (energy[obj] > 0).all(), np.argwhere(obj & (energy == 0))[:5]
        assert np.allclose(energy[energy > 0], 1, atol=1e-4)


def test_espirit_matches_bart_on_odd_non_square_grid(
    bart_phantom: dict[str, np.ndarray], tmp_path: Path
) -> None:
    """Centring conventions hold for odd and unequal sizes (k-space cropped: same field of view)."""
    kspace = bart_phantom["kspace"][:, 1:, 4:-4]  # (8, 127, 120)
    write_cfl(tmp_path / "k", kspace.T[:, :, None, :])
    bart(
        "ecalib",
        "-m",
        "1",
        "-r",
        "24",
        "-k",
        "6",
        "-t",
        "0.0004",
        "-c",
        "0.95",
        tmp_path / "k",
        tmp_path / "s",
    )
    ref = _bart_to_ours(read_cfl(tmp_path / "s"))
    ours = espirit_maps(torch.from_numpy(kspace)).numpy()
    assert ours.shape == ref.shape == (8, 127, 120)
    assert map_correlation(ours, ref, np.abs(ref).sum(0) > 0, align=False) >= 0.999


def test_espirit_agrees_with_sigpy(bart_phantom: dict[str, np.ndarray]) -> None:
    """sigpy runs 100 power iterations from another start and references the first coil's phase;
    where two maps compete (eigenvalue ratio > 0.9 near the field-of-view edge) the vectors differ,
    as BART's and sigpy's do among themselves (0.997)."""
    kspace = torch.from_numpy(bart_phantom["kspace"])
    ours = espirit_maps(kspace).numpy()
    theirs = espirit_maps(kspace, backend="sigpy").numpy()
    support = (np.abs(theirs).sum(0) > 0) & (np.abs(ours).sum(0) > 0)
    assert support.mean() > 0.5
    assert map_correlation(ours, theirs, support) >= 0.99


def test_espirit_batched_on_device(bart_phantom: dict[str, np.ndarray], device: torch.device) -> None:
    """Slices are processed together and on the input's device, with the same result as one by one."""
    kspace = torch.from_numpy(bart_phantom["kspace"])
    batch = torch.stack([kspace, kspace.flip(-1) * 0.5]).to(device)
    maps = espirit_maps(batch)
    assert maps.device.type == device.type and maps.shape == batch.shape and maps.dtype == torch.complex64
    single = espirit_maps(kspace.flip(-1) * 0.5)
    support = (single.abs().sum(0) > 0).numpy()
    assert map_correlation(maps[1].cpu().numpy(), single.numpy(), support, align=False) > 0.9999


def test_sense_combination_matches_bart_pics(bart_phantom: dict[str, np.ndarray]) -> None:
    """sum_c conj(S_c) x_c / sum_c |S_c|^2 of the coil images with our maps == BART's l2 SENSE image
    with BART's maps (fully sampled), up to one complex scale."""
    maps = espirit_maps(torch.from_numpy(bart_phantom["kspace"])).numpy()
    coil_images = ifft2c(torch.from_numpy(bart_phantom["kspace"])).numpy()
    combined = (maps.conj() * coil_images).sum(0) / np.maximum((np.abs(maps) ** 2).sum(0), 1e-12)
    support = np.abs(bart_phantom["maps"]).sum(0) > 0
    ours, ref = combined[support], bart_phantom["pics"][support]
    scale = np.vdot(ours, ref) / np.vdot(ours, ours)
    assert nrmse(scale * ours, ref) < 0.03


@pytest.fixture(scope="module")
def simulated() -> dict[str, object]:
    """Shepp-Logan with a smooth phase times seeded birdcage maps (sum |S|^2 = 1), image SNR 20."""
    gen = torch.Generator().manual_seed(7)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, N), torch.linspace(-1, 1, N), indexing="ij")
    image = phantoms.shepp_logan(N) * torch.polar(torch.ones(N, N), 0.5 * xx - 0.3 * yy)
    maps = phantoms.coil_maps(8, (N, N), generator=gen)
    scan = phantoms.simulate_cartesian(image, maps, snr=20, generator=gen)
    return {"image": image, "maps": maps, "scan": scan}


@pytest.mark.parametrize(
    ("method", "floor"), [("espirit", 0.999), ("walsh", 0.999), ("inati", 0.999), ("sos", 0.99)]
)
def test_methods_recover_known_maps(simulated: dict, method: str, floor: float) -> None:
    image, true, scan = simulated["image"], simulated["maps"], simulated["scan"]
    maps = estimate_maps(scan, method=method)[0]
    assert maps.shape == true.shape and maps.dtype == torch.complex64
    obj = (image.abs() > 0.05).numpy()
    assert (maps.abs().sum(0) > 0).numpy()[obj].all()  # no object pixel is cropped
    assert map_correlation(maps.numpy(), true.numpy(), obj) >= floor
    coil_images = ifft2c(scan.kspace[0, 0])
    combined = ((maps.conj() * coil_images).sum(0) / (maps.abs() ** 2).sum(0).clamp_min(1e-12)).abs()

    def error(estimate: torch.Tensor) -> float:  # magnitude error inside the object after a scale fit
        a, b = estimate.numpy()[obj], image.abs().numpy()[obj]
        return nrmse(a * np.dot(a, b) / np.dot(a, a), b)

    assert error(combined) <= error(rss(coil_images, dim=0)) * 1.01 and error(combined) < 0.05


def test_compression_keeps_energy_and_image(bart_phantom: dict[str, np.ndarray]) -> None:
    kspace = torch.from_numpy(bart_phantom["kspace"])
    compressed, matrix = compress_coils(kspace, 4)
    assert compressed.shape == (4, N, N) and matrix.shape == (4, 8)
    assert torch.allclose(matrix @ matrix.mH, torch.eye(4, dtype=matrix.dtype), atol=1e-5)
    energy = float(compressed.abs().square().sum() / kspace.abs().square().sum())
    assert energy > 0.95
    original, reduced = rss(ifft2c(kspace), dim=0), rss(ifft2c(compressed), dim=0)
    assert nrmse(reduced.numpy(), original.numpy()) < 0.05


def test_uncompressed_maps_give_the_compressed_combination(simulated: dict) -> None:
    """Virtual maps mapped back by matrix^H on the original data == virtual maps on virtual data."""
    small, matrices = compress_scan(simulated["scan"], 4)
    assert small.n_coils == 4 and matrices.shape == (1, 4, 8)
    virtual = estimate_maps(small, method="espirit")
    physical = uncompress_maps(virtual, matrices)
    coil_images = ifft2c(simulated["scan"].kspace[0, 0])
    ours = (physical[0].conj() * coil_images).sum(0)
    theirs = (virtual[0].conj() * ifft2c(small.kspace[0, 0])).sum(0)
    assert torch.allclose(ours, theirs, atol=1e-4 * float(theirs.abs().max()))


def test_calibration_block_is_the_fully_sampled_centre() -> None:
    """24 wanted, 16 central phase-encode lines (rows) fully sampled plus every 4th line elsewhere."""
    calib = torch.zeros(2, 64, 48, dtype=torch.complex64)
    rows = torch.zeros(64, dtype=torch.bool)
    rows[2::4] = True
    rows[24:40] = True
    calib[:, rows] = torch.complex(torch.tensor(1.0), torch.tensor(1.0))
    block = calibration_block(calib, 24)
    assert block.shape == (2, 16, 24)
    assert bool((block != 0).all())


def test_ismrmrd_acs_lines_and_pooled_frames_give_the_file_maps(tmp_path: Path) -> None:
    """ISMRMRD's own generator: R=4 over 4 interleaved repetitions plus 24 separate calibration lines;
    its true coil maps are in the file (``dataset/csm``)."""
    raw = tmp_path / "r4.h5"
    args = "-m 128 -c 8 -O 2 -a 4 -w 24 -n 0.05 -C".split()
    run_tool("ismrmrd_generate_cartesian_shepp_logan", *args, "-o", raw)
    with h5py.File(raw, "r") as f:
        phantom, csm = f["dataset/phantom"][0], f["dataset/csm"][0]
    true = csm["real"] + 1j * csm["imag"]
    true = true / np.linalg.norm(true, axis=0, keepdims=True)  # relative sensitivities
    obj = np.abs(phantom["real"] + 1j * phantom["imag"]) > 0.05
    scan = read_scan(raw)
    assert scan.acs is not None and scan.n_frames == 4
    # the 24 calibration lines (rows) limit the block, not the 32 asked for
    assert calibration_block(calibration_kspace(scan, 0), 32).shape == (8, 24, 32)
    for source in (scan, dataclasses.replace(scan, acs=None)):  # ACS lines; frames pooled
        for method, floor in (("espirit", 0.999), ("walsh", 0.999)):
            maps = estimate_maps(source, method=method)[0].numpy()
            assert map_correlation(maps, true, obj) >= floor, method


def _load_sample_script(repo_root: Path):
    spec = importlib.util.spec_from_file_location(
        "make_sample_data", repo_root / "sample_data" / "make_sample_data.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_radial_cine_pooled_calibration_gives_true_maps(radial_sample: Path, repo_root: Path) -> None:
    """All 260 golden-angle spokes of 20 frames (each 15x undersampled) gridded onto a small grid."""
    script = _load_sample_script(repo_root)
    gen = torch.Generator().manual_seed(script.SEED)
    p = script.RADIAL
    image = phantoms.cardiac_cine_phantom(p["n"], p["frames"], generator=gen)  # draws before the maps
    true = phantoms.coil_maps(p["coils"], (p["n"], p["n"]), generator=gen).numpy()
    obj = (image.abs().mean(0) > 0.1 * image.abs().max()).numpy()
    scan = read_scan(radial_sample)
    for method in ("espirit", "inati"):
        maps = estimate_maps(scan, method=method)[0].numpy()
        assert (np.abs(maps).sum(0) > 0)[obj].all()
        assert map_correlation(maps, true, obj) >= 0.995, method


@pytest.mark.parametrize("sample", ["fastmri_brain_phantom_multicoil.h5", "radial_cine.h5"])
def test_estimate_coils_cli(sample: str, repo_root: Path, tmp_path: Path) -> None:
    raw = repo_root / "sample_data" / sample
    out = tmp_path / "maps.h5"
    result = runner.invoke(app, ["estimate-coils", str(raw), "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.stderr
    assert out.exists() and out.with_suffix(".png").exists()
    scan = read_scan(raw)
    maps = read_maps(out, scan)
    assert maps.shape == (scan.n_slices, scan.n_coils, *scan.image_shape)
    with h5py.File(out) as f:
        assert f.attrs["method"] == "espirit" and not f.attrs["compressed"]
    again = runner.invoke(app, ["estimate-coils", str(raw), "--out", str(out)])
    assert again.exit_code == 2 and "already exists" in again.stderr


def test_estimate_coils_cli_compressed(repo_root: Path, tmp_path: Path) -> None:
    raw = repo_root / "sample_data" / "radial_cine.h5"
    out = tmp_path / "maps.h5"
    args = ["estimate-coils", str(raw), "--out", str(out), "--method", "walsh", "--compress", "4"]
    result = runner.invoke(app, [*args, "--device", "cpu"])
    assert result.exit_code == 0, result.stderr
    scan = read_scan(raw)
    matrices = read_compression(out)
    assert matrices is not None and matrices.shape == (1, 4, 8)
    assert read_maps(out, scan, virtual=True).shape == (1, 4, 128, 128)
    physical = read_maps(out, scan)  # on the scan's 8 coils, for `recon reconstruct --coils`
    assert physical.shape == (1, 8, 128, 128)
    norms = torch.linalg.vector_norm(physical, dim=1)
    assert torch.allclose(norms[norms > 0], torch.ones(()), atol=1e-4)


def test_unknown_method_is_a_usage_error(repo_root: Path, tmp_path: Path) -> None:
    raw = repo_root / "sample_data" / "fastmri_brain_phantom_multicoil.h5"
    result = runner.invoke(
        app, ["estimate-coils", str(raw), "--out", str(tmp_path / "m.h5"), "--method", "x"]
    )
    assert result.exit_code == 2 and "unknown coil method" in result.stderr

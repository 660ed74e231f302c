"""The estimated peak memory of one ``recon reconstruct`` input, part by part (torch-free).

The pipeline runs in stages, and the peak is the largest of them, each stage counting what is still held
from before (the whole scan's k-space, the coil maps, the images of finished slices) plus its own
working set:

* read: the reader stacks the readouts, reorders them into (slices, frames, coils, samples) and makes
  the result contiguous: three copies of the k-space are alive at its peak;
* coil maps (ESPIRiT): one slice's calibration data, a few copies of the per-pixel coil covariance on the
  eigen grid (66 x 66 x coils^2) and of the maps on the image grid;
* one slice: the operator (density compensation, Toeplitz kernels on the 2x grid, with the transient of
  computing them), the gridding A^H D y (coil images (frames, coils, ny, nx): the NUFFT's output and its
  product with the conjugate maps; with coil chunks only one chunk of coils at a time), and the model's
  own working set (``WorkingSet``: image series, wavelet-padded copies, network activations); with frame
  windows (``frame_windows``) all of these are of one window's frames, its overlap included;
* write: the magnitude images and the writers' buffers (DICOM, NIfTI, PNG) of the whole scan.

On top comes the baseline: the interpreter, torch and the libraries the run loads, measured as the
resident memory of the planning process once they are imported (``plan.baseline_bytes``). Sizes are
bytes; complex64 values are 8 bytes, float32 4. The copy counts below are read from the code paths named
beside them and were checked against measured peaks (tests/test_memory_plan.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from recon_cli.memory.shapes import ScanShape
from recon_cli.memory.working_set import WorkingSet

COMPLEX = 8
REAL = 4
MIB = 2**20

READER_COPIES = 5  # h5py field reads pass every record's samples (vlen buffers), the stacked readouts,
# the reordered array and its contiguous copy (io/ismrmrd_table.py, io/ismrmrd.py)
# first use of the HDF5 vlen read, LAPACK (eigh), scipy.ndimage and pocketfft/FINUFFT thread pools: memory
# the libraries map when first called, not data (measured as the transient of each stage on a tiny scan)
READER_FIRST_USE = 40 * MIB
ESPIRIT_FIRST_USE = 45 * MIB
NUFFT_FIRST_USE = 30 * MIB
ESPIRIT_GRID = 66  # coils.espirit: GRID_PER_KERNEL * kernel width 6
ESPIRIT_COV_COPIES = 4  # covariance, its spectrum, the interpolated grid, the squaring power iterate
ESPIRIT_MAP_COPIES = 4  # eigenvectors resampled, eigenvalues, normalised maps, the stacked result
GRIDDING_COPIES = 2  # NUFFT adjoint output per coil, its product with conj(maps) before the coil sum
KSPACE_COPIES = 2  # the density-weighted k-space and its scaled copy (nufft_finufft.execute)
TOEPLITZ_GRID = 4  # the 2x grid has 4 ny nx points
# FINUFFT on CPU, one plan per frame, kept by the operator: bytes per image pixel and frame, measured on
# 20 frames of 160 x 160 (16 coils, and 4-coil chunks: the same) as the resident growth of computing the
# density compensation and the gridding (75 MiB), and of building and applying the Toeplitz normal operator
# (105 MiB more): the plans' sorted points and fine grids, the Pipe-Menon iterates, the kernels' 2x-grid
# PSFs, and the thread pools' buffers they leave mapped. None of it is per coil: coil chunks leave it.
FINUFFT_GRIDDING_PER_PIXEL = 150
FINUFFT_NORMAL_PER_PIXEL = 210
NORMAL_FRAMES_AT_ONCE = 2  # ops/toeplitz.py: one frame per thread; recon uses the machine's cores
# live float32 channels per pixel and frame at the full-resolution decoder level of a CU-Net of C complex
# channels. Counted from nn/cunet.py before its decoder joined the levels without materialising them
# (``joined_conv``): the skip (2C), the upsampled level below (4C), their concatenation (6C), the
# convolution's output and its temporal-kernel transposes (3 x 2C): 18 C; fewer now, so the figure below
# is an upper bound. Measured (VmHWM less
# the other parts, C = 8): 22 C (cunet), 29 C (alt-un), 25 C (imunne with view_share) on the sample (20
# frames of 128 x 128), as every leaky ReLU, chunk and complex_cat makes a new tensor and the CPU
# convolution converts its input to its own blocked layout (a copy of each input alongside it); 30 C keeps
# the estimate above them (2026-12-02; it was 40 C, +37% over the measured peak of imunne at 40 frames).
CNN_LIVE_CHANNELS_PER_CHAN = 30
WRITE_COPIES = 4  # magnitude (float32), scaled uint16 for DICOM, NIfTI array, PNG frames


@dataclass
class Estimate:
    """The peak and its parts (bytes); ``stages`` the total of every stage, ``peak_stage`` the largest."""

    parts: dict[str, int] = field(default_factory=dict)
    stages: dict[str, int] = field(default_factory=dict)
    peak_stage: str = ""
    total: int = 0


def estimate_peak(
    shape: ScanShape,
    work: WorkingSet,
    *,
    baseline: int,
    weights: int,
    coil_chunk: int | None = None,
    needs_maps: bool = True,
    estimate_maps: bool = True,
    maps_per_slice: bool = False,
    lazy_slices: bool = False,
    device: str = "cpu",
    frame_by_frame: bool = False,
    window_frames: int | None = None,
) -> Estimate:
    """Estimated peak of reconstructing ``shape`` with a model of working set ``work``.

    Args:
        baseline: resident bytes before the run (interpreter, torch, libraries); 0 on CUDA.
        weights: bytes of the model's parameters and buffers, shown as a part; the model is loaded
            before the baseline is measured, so they are already inside it and not added again.
        coil_chunk: coils per chunk inside the operator (None: all coils at once).
        needs_maps: the model uses coil maps (else the gridding holds coil images, combined by rss).
        estimate_maps: the maps are estimated here (ESPIRiT), not read from ``--coils``.
        maps_per_slice: ESPIRiT runs slice by slice instead of on all slices at once.
        lazy_slices: each slice is read from the file when its turn comes (implies ``maps_per_slice``):
            only one slice's k-space, trajectory and coil maps are held, beside all slices' images.
        device: "cpu" (host peak) or "cuda" (device peak: no reader, ESPIRiT or writer stages on it).
        frame_by_frame: the NUFFT backend transforms frame by frame with one plan each (FINUFFT on CPU).
        window_frames: frames one slice is reconstructed on at once (a frame window with its overlap,
            ``recon_cli.memory.frame_windows``): the slice stage's working set is that of these frames;
            the scan's k-space, the maps and the images are held whole. None: all frames.
    """
    ny, nx = shape.image
    frames, coils = shape.frames, shape.coils
    chunk = coils if coil_chunk is None else max(1, min(coil_chunk, coils))
    at_once = frames if window_frames is None else max(1, min(window_frames, frames))
    pixels = at_once * ny * nx  # one image series (of a window)
    kspace_slice = frames * coils * shape.samples * COMPLEX
    kspace_window = at_once * coils * shape.samples * COMPLEX
    traj = 0 if shape.cartesian else shape.traj_slices * frames * 2 * shape.samples * REAL
    read_slices = 1 if lazy_slices else shape.slices
    if lazy_slices:
        traj //= shape.traj_slices
    held = read_slices * kspace_slice + traj
    maps_all = read_slices * coils * ny * nx * COMPLEX if needs_maps else 0
    outputs = shape.slices * frames * shape.recon[0] * shape.recon[1] * COMPLEX
    stages: dict[str, dict[str, int]] = {}
    if device == "cpu":
        stages["read"] = {
            "input k-space": held,
            "reader copies": READER_FIRST_USE + (READER_COPIES - 1) * held,
        }
    if needs_maps and estimate_maps and device == "cpu":
        # ESPIRiT of ``batch`` slices at once; slice by slice, the finished slices' maps are held and
        # concatenated at the end (a second copy of all maps)
        batch = 1 if maps_per_slice or lazy_slices else shape.slices
        cov = batch * ESPIRIT_GRID**2 * coils**2 * COMPLEX
        work_maps = ESPIRIT_FIRST_USE + kspace_slice + ESPIRIT_COV_COPIES * cov
        work_maps += ESPIRIT_MAP_COPIES * batch * coils * ny * nx * COMPLEX
        finished = 2 * maps_all if maps_per_slice and not lazy_slices else 0
        stages["coil maps"] = {"input k-space": held, "coil maps": finished,
                               "coil-map estimation (ESPIRiT)": work_maps}  # fmt: skip
    # FINUFFT on CPU applies the maps next to the transform frame by frame (one plan per frame): the coil
    # images of only one frame are alive; elsewhere (Cartesian, torchkbnufft, CUDA) those of every frame
    coil_frames = 1 if frame_by_frame and needs_maps else at_once
    gridding = GRIDDING_COPIES * chunk * coil_frames * ny * nx * COMPLEX + KSPACE_COPIES * kspace_window
    if frame_by_frame and not shape.cartesian:
        # what FINUFFT's per-frame plans and the Toeplitz build leave mapped, measured per pixel and frame;
        # freed heap for the most part, which a network's activations reuse: on the gridding side of max()
        per_pixel = FINUFFT_GRIDDING_PER_PIXEL + (FINUFFT_NORMAL_PER_PIXEL if work.normal else 0)
        gridding += per_pixel * pixels
    model = _model_bytes(work, pixels, ny, nx)
    if work.normal:
        # A^H A x on the 2x grid for a chunk of coils: frame by frame on CPU (a few frames at once, one per
        # thread), all frames at once in the torch path on CUDA; the spectrum and its filtered copy
        normal_frames = at_once if device != "cpu" else min(at_once, NORMAL_FRAMES_AT_ONCE)
        model += 2 * normal_frames * chunk * TOEPLITZ_GRID * ny * nx * COMPLEX
    if device == "cpu":
        held_parts = {"input k-space": held, "coil maps": maps_all, "outputs": outputs}
    else:  # only the slice being reconstructed is on the device; the scan and the images stay on the host
        held_parts = {"input k-space": kspace_window, "coil maps": maps_all // read_slices}
    stages["slice"] = {
        **held_parts,
        "operator (dcf, Toeplitz kernels)": _operator_bytes(shape, work, at_once),
        # the gridding comes first, then the model iterates: the larger of the two
        "NUFFT/FFT buffers (gridding)" if gridding >= model else "model working set per iteration": max(
            gridding, model
        ),
    }
    if device == "cpu":
        stages["write"] = {**held_parts, "writer buffers": WRITE_COPIES * outputs // 2}
    totals = {name: sum(parts.values()) for name, parts in stages.items()}
    peak_stage = max(totals, key=lambda k: totals[k])
    parts = {"baseline": baseline, "model weights (in the baseline)": weights, **stages[peak_stage]}
    return Estimate(parts, totals, peak_stage, baseline + totals[peak_stage])


def _operator_bytes(shape: ScanShape, work: WorkingSet, frames: int) -> int:
    """Density compensation and Toeplitz kernels (real, frames x 2ny x 2nx) of ``frames`` frames with their
    build transient (the complex adjoint NUFFT on the 2x grid that gives each kernel)."""
    ny, nx = shape.image
    if shape.cartesian:
        return frames * ny * nx if work.normal else 0  # the broadcast bool mask at most
    dcf = frames * shape.samples * REAL
    if not work.normal:
        return NUFFT_FIRST_USE + dcf
    kernel = frames * TOEPLITZ_GRID * ny * nx * REAL
    return NUFFT_FIRST_USE + dcf + work.normal_weightings * kernel + 2 * kernel  # + the PSF being built


def _model_bytes(work: WorkingSet, pixels: int, ny: int, nx: int) -> int:
    """The model's own images and network activations while it iterates."""
    images = work.images * pixels * COMPLEX
    if work.padded_images:
        frames = pixels // (ny * nx)
        block = 16  # 2**levels of the default 4 levels
        padded = frames * math.ceil(ny / block) * block * math.ceil(nx / block) * block
        images += work.padded_images * padded * COMPLEX
    if work.cnn_chans:
        live = CNN_LIVE_CHANNELS_PER_CHAN * work.cnn_chans + 2 * (work.cnn_inputs - 1)
        images += live * pixels * REAL  # freed after each application: repeated ones reuse the memory
    return images

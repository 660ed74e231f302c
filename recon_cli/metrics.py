"""Image-quality metrics on magnitude images: SSIM, PSNR, NMSE, NRMSE, HFEN.

Definitions follow fastMRI's ``evaluate.py`` (SSIM and PSNR come from scikit-image, as there) so numbers
compare with published fastMRI results; HFEN follows Ravishankar & Bresler (IEEE TMI 2011). Arrays are
``(slices, frames, ny, nx)``; 2-D ``(ny, nx)`` and 3-D ``(images, ny, nx)`` inputs are treated as one
slice, and as slices of one frame. Complex input is reduced to its magnitude. All arithmetic is float64.

The data range of SSIM and PSNR is the reference's maximum over the whole volume (fastMRI's ``maxval``),
also when metrics are reported per slice or per frame, so those values are on the volume's scale.
"""

from __future__ import annotations

from typing import Literal, overload

import numpy as np

LOG_SIGMA = 1.5
LOG_TRUNCATE = 4.67  # scipy radius int(4.67 * 1.5 + 0.5) = 7: a 15 x 15 kernel
METRIC_NAMES = ("ssim", "psnr", "nmse", "nrmse", "hfen")

METRIC_DEFINITIONS: dict[str, str] = {
    "ssim": "mean over 2-D images of skimage.metrics.structural_similarity(ref, recon, data_range) with its "
    "defaults (7x7 uniform window, K1=0.01, K2=0.03), as fastMRI's evaluate.ssim; higher is better",
    "psnr": "skimage.metrics.peak_signal_noise_ratio(ref, recon, data_range) = "
    "10 log10(data_range^2 / mean((ref - recon)^2)) in dB, as fastMRI's evaluate.psnr; "
    'the string "inf" in JSON (inf in CSV and HTML) when the images are identical',
    "nmse": "||ref - recon||^2 / ||ref||^2 over all pixels, as fastMRI's evaluate.nmse; lower is better",
    "nrmse": "sqrt(nmse) = ||ref - recon|| / ||ref||",
    "hfen": "||LoG(recon) - LoG(ref)|| / ||LoG(ref)||, LoG = scipy.ndimage.gaussian_laplace per 2-D image "
    "with sigma=1.5 px, truncate=4.67 (15x15 kernel), mode='reflect' (Ravishankar & Bresler 2011)",
    "data_range": "max of the reference magnitude over the whole (cropped) volume, fastMRI's maxval",
}

# The same definitions as formulas, enough to recompute a number by hand (L is the data range).
METRIC_FORMULAS: dict[str, str] = {
    "ssim": "SSIM = mean over 2-D images of mean_p [(2 mu_x mu_y + C1)(2 s_xy + C2)] / "
    "[(mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2)]; mu, s^2, s_xy: means, sample variances and covariance "
    "(divisor 48) in the 7x7 window around pixel p; C1 = (0.01 L)^2, C2 = (0.03 L)^2; p runs over pixels "
    "at least 3 px from the border",
    "psnr": "PSNR = 10 log10(L^2 / MSE) dB, MSE = mean over the compared pixels of (ref - recon)^2",
    "nmse": "NMSE = sum (ref - recon)^2 / sum ref^2, sums over the compared pixels",
    "nrmse": "NRMSE = sqrt(NMSE)",
    "hfen": "HFEN = ||LoG(recon) - LoG(ref)||_2 / ||LoG(ref)||_2, LoG(u) = Laplacian of (G_1.5 * u) per 2-D "
    "image, G_1.5 a Gaussian of sigma 1.5 px",
    "data_range": "L = max over the whole cropped reference volume of |ref|",
}

# Which way is better, for highlighting the best reconstruction.
HIGHER_IS_BETTER: dict[str, bool] = {"ssim": True, "psnr": True, "nmse": False, "nrmse": False, "hfen": False}


def as_volume(images: np.ndarray) -> np.ndarray:
    """Magnitude images as float64 ``(slices, frames, ny, nx)``.

    Args:
        images: (ny, nx), (images, ny, nx) or (slices, frames, ny, nx), real or complex.

    Returns:
        (slices, frames, ny, nx) float64.
    """
    arr = np.asarray(images)
    arr = np.abs(arr) if np.iscomplexobj(arr) else arr
    if arr.ndim == 2:
        arr = arr[None, None]
    elif arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim != 4:
        raise ValueError(f"expected 2-D, 3-D or (slices, frames, ny, nx) images; got shape {arr.shape}")
    return arr.astype(np.float64, copy=False)


def _check_pair(reference: np.ndarray, recon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref, rec = as_volume(reference), as_volume(recon)
    if ref.shape != rec.shape:
        raise ValueError(f"recon shape {rec.shape} does not match reference shape {ref.shape}")
    return ref, rec


def nmse(reference: np.ndarray, recon: np.ndarray) -> float:
    """Normalised mean squared error ``||ref - recon||^2 / ||ref||^2`` (any matching shapes)."""
    ref, rec = _check_pair(reference, recon)
    with np.errstate(divide="ignore", invalid="ignore"):  # an all-zero reference gives inf/nan
        return float(np.sum((ref - rec) ** 2) / np.sum(ref**2))


def nrmse(reference: np.ndarray, recon: np.ndarray) -> float:
    """Normalised root mean squared error ``sqrt(nmse)``."""
    return float(np.sqrt(nmse(reference, recon)))


def psnr(reference: np.ndarray, recon: np.ndarray, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB (scikit-image); ``inf`` for identical images.

    Args:
        reference: Reference magnitudes, any shape matching ``recon``.
        recon: Reconstructed magnitudes.
        data_range: Peak value; default the reference's maximum.
    """
    from skimage.metrics import peak_signal_noise_ratio

    ref, rec = _check_pair(reference, recon)
    peak = float(ref.max()) if data_range is None else float(data_range)
    if np.array_equal(ref, rec):
        return float("inf")
    return float(peak_signal_noise_ratio(ref, rec, data_range=peak))


def ssim(reference: np.ndarray, recon: np.ndarray, data_range: float | None = None) -> float:
    """Structural similarity, the mean over all 2-D images of scikit-image's SSIM (fastMRI's definition).

    Args:
        reference: Reference magnitudes, (ny, nx), (images, ny, nx) or (slices, frames, ny, nx).
        recon: Reconstructed magnitudes of the same shape.
        data_range: Dynamic range; default the reference's maximum over all images.
    """
    from skimage.metrics import structural_similarity

    ref, rec = _check_pair(reference, recon)
    peak = float(ref.max()) if data_range is None else float(data_range)
    ref2, rec2 = ref.reshape(-1, *ref.shape[-2:]), rec.reshape(-1, *rec.shape[-2:])
    values = [structural_similarity(r, x, data_range=peak) for r, x in zip(ref2, rec2, strict=True)]
    return float(np.mean(values))


def laplacian_of_gaussian(images: np.ndarray) -> np.ndarray:
    """LoG filter of every 2-D image (sigma 1.5 px, 15 x 15 kernel, reflected borders).

    Args:
        images: (..., ny, nx) real.

    Returns:
        (..., ny, nx) float64.
    """
    from scipy.ndimage import gaussian_laplace

    arr = np.asarray(images, dtype=np.float64)
    flat = arr.reshape(-1, *arr.shape[-2:])
    out = np.stack([gaussian_laplace(im, sigma=LOG_SIGMA, truncate=LOG_TRUNCATE) for im in flat])
    return out.reshape(arr.shape)


def hfen(reference: np.ndarray, recon: np.ndarray) -> float:
    """High-frequency error norm ``||LoG(recon) - LoG(ref)|| / ||LoG(ref)||`` over all images."""
    ref, rec = _check_pair(reference, recon)
    log_ref = laplacian_of_gaussian(ref)
    with np.errstate(divide="ignore", invalid="ignore"):  # a flat reference gives inf/nan
        return float(np.linalg.norm(laplacian_of_gaussian(rec) - log_ref) / np.linalg.norm(log_ref))


def _all_metrics(ref: np.ndarray, rec: np.ndarray, data_range: float) -> dict[str, float]:
    error = nmse(ref, rec)
    return {
        "ssim": ssim(ref, rec, data_range),
        "psnr": psnr(ref, rec, data_range),
        "nmse": error,
        "nrmse": float(np.sqrt(error)),
        "hfen": hfen(ref, rec),
    }


@overload
def compute_metrics(
    recon: np.ndarray, reference: np.ndarray, *, per: Literal["volume"] = ..., data_range: float | None = ...
) -> dict[str, float]: ...


@overload
def compute_metrics(
    recon: np.ndarray,
    reference: np.ndarray,
    *,
    per: Literal["slice", "frame"],
    data_range: float | None = ...,
) -> list[dict[str, float]]: ...


def compute_metrics(
    recon: np.ndarray,
    reference: np.ndarray,
    *,
    per: Literal["volume", "slice", "frame"] = "volume",
    data_range: float | None = None,
) -> dict[str, float] | list[dict[str, float]]:
    """All metrics of ``recon`` against ``reference`` for the volume, each slice, or each frame.

    Args:
        recon: Reconstructed magnitudes, (slices, frames, ny, nx) (or 2-D/3-D, see ``as_volume``).
        reference: Reference magnitudes of the same shape.
        per: "volume": one dict; "slice": one dict per slice (its frames together) with key "slice";
            "frame": one dict per (slice, frame) image with keys "slice" and "frame".
        data_range: SSIM/PSNR data range; default the reference's maximum over the whole volume.

    Returns:
        {"ssim", "psnr", "nmse", "nrmse", "hfen"} as floats, or a list of such dicts with indices.
    """
    ref, rec = _check_pair(reference, recon)
    peak = float(ref.max()) if data_range is None else float(data_range)
    if per == "volume":
        return _all_metrics(ref, rec, peak)
    if per == "slice":
        return [{"slice": s, **_all_metrics(ref[s], rec[s], peak)} for s in range(ref.shape[0])]
    if per == "frame":
        return [
            {"slice": s, "frame": f, **_all_metrics(ref[s, f], rec[s, f], peak)}
            for s in range(ref.shape[0])
            for f in range(ref.shape[1])
        ]
    raise ValueError(f"per must be 'volume', 'slice' or 'frame'; got {per!r}")

"""What training minimises and how fast: the loss, the learning-rate schedule, mixed precision."""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator

import numpy as np
import torch

from recon_cli.contract import auxiliary_loss
from recon_cli.errors import UsageError
from recon_cli.ops.functional import center_crop
from recon_cli.train.config import TrainConfig


def reconstruction_loss(output: torch.Tensor, target: torch.Tensor, config: TrainConfig) -> torch.Tensor:
    """L1 or MSE between the model's image and the target relative to the target's peak, NMSE, 1 - SSIM,
    or L1 + (1 - SSIM).

    Args:
        output: (frames, ny, nx) complex, centre-cropped here to the target's size.
        target: (frames, H, W) float magnitude or complex.
        config: ``loss`` ("l1" | "mse" | "nmse" | "ssim" | "l1+ssim") and ``loss_on`` ("magnitude" |
            "complex"; the SSIM terms compare magnitudes either way).

    Returns:
        () float32. Dividing by the target's peak magnitude (l1, mse) or energy (nmse: ||a - b||^2 /
        ||b||^2), and SSIM's data range being the target's peak, make scans of any intensity weigh the
        same.
    """
    output = center_crop(output, tuple(target.shape[-2:]))
    if "ssim" in config.loss:
        structural = 1 - ssim_torch(output.abs().float(), target.abs().float())
        if config.loss == "ssim":
            return structural
        return structural + reconstruction_loss(output, target, dataclasses.replace(config, loss="l1"))
    if config.loss_on == "complex":
        if not target.is_complex():
            raise UsageError("train.loss_on=complex needs complex targets; this data has magnitude targets")
        a, b = torch.view_as_real(output), torch.view_as_real(target)
    else:
        a, b = output.abs(), target.abs()
    tiny = torch.finfo(torch.float32).tiny
    if config.loss == "nmse":
        return (a.float() - b.float()).square().sum() / b.float().square().sum().clamp_min(tiny)
    diff = (a.float() - b.float()) / target.abs().amax().clamp_min(tiny)
    return diff.abs().mean() if config.loss == "l1" else diff.square().mean()


def ssim_torch(x: torch.Tensor, y: torch.Tensor, win: int = 7) -> torch.Tensor:
    """Differentiable SSIM of magnitude images, as ``recon_cli.metrics.ssim`` (scikit-image's defaults:
    a ``win`` x ``win`` uniform window, sample covariances, K1 = 0.01, K2 = 0.03, the mean over the
    pixels whose window lies inside the image), with the data range the peak of ``y``.

    Args:
        x, y: (..., H, W) float, the reconstruction and the reference.

    Returns:
        () the mean SSIM over all images and pixels.
    """
    shape = x.shape[-2:]
    a, b = x.reshape(-1, 1, *shape), y.reshape(-1, 1, *shape)
    peak = y.amax().clamp_min(torch.finfo(torch.float32).tiny)
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    cov = win * win / (win * win - 1)  # sample covariance, as scikit-image

    def mean(t: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(t, win, stride=1)

    mu_a, mu_b = mean(a), mean(b)
    var_a = cov * (mean(a * a) - mu_a * mu_a)
    var_b = cov * (mean(b * b) - mu_b * mu_b)
    var_ab = cov * (mean(a * b) - mu_a * mu_b)
    value = ((2 * mu_a * mu_b + c1) * (2 * var_ab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return value.mean()


def with_auxiliary_loss(loss: torch.Tensor, model: torch.nn.Module) -> torch.Tensor:
    """``loss`` plus the model's own training term from its latest forward, when it has one.

    A model may define ``auxiliary_loss() -> Tensor | None`` (e.g. ``imunne``'s fixed-point residual
    penalty); it is called once per forward and its value, with its graph, is added.
    """
    extra = auxiliary_loss(model)
    return loss if extra is None else loss + extra.float()


def lr_factor(step: int, config: TrainConfig) -> float:
    """Multiplier of the peak learning rate for the update after ``step`` completed steps."""
    if step < config.warmup:
        return (step + 1) / config.warmup
    after = step - config.warmup
    if config.schedule == "cosine":
        span = max(config.steps - config.warmup, 1)
        return 0.5 * (1.0 + math.cos(math.pi * min(after, span) / span))
    if config.schedule == "step":
        period = config.step_size or max(config.steps // 3, 1)
        return config.gamma ** (after // period)
    return 1.0


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig
) -> torch.optim.lr_scheduler.LRScheduler:
    """A ``LambdaLR`` over ``lr_factor`` (its state_dict holds only numbers)."""

    def factor(step: int) -> float:
        return lr_factor(step, config)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def amp_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    """The autocast dtype: fp16 on CUDA, bf16 on CPU, or None when mixed precision is off."""
    enabled = config.amp == "on" or (config.amp == "auto" and device.type == "cuda")
    if not enabled:
        return None
    return torch.float16 if device.type == "cuda" else torch.bfloat16


@contextlib.contextmanager
def autocast(dtype: torch.dtype | None, device: torch.device) -> Iterator[None]:
    """``torch.autocast`` with ``dtype``, or nothing when ``dtype`` is None."""
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


def image_metrics(output: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """NRMSE, SSIM, PSNR, NMSE and HFEN of one example with ``recon_cli.metrics`` (magnitudes, cropped).

    Args:
        output: (frames, ny, nx) complex; target: (frames, H, W).
    """
    from recon_cli.metrics import compute_metrics

    rec = center_crop(output.detach(), tuple(target.shape[-2:])).abs().float().cpu().numpy()
    ref = target.abs().float().cpu().numpy()
    return compute_metrics(rec[None].astype(np.float64), ref[None].astype(np.float64))

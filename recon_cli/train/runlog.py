"""The run's log: one JSON object per line in ``log.jsonl``, mirrored to TensorBoard when asked.

Rows are ``{"kind": "train", "step", "epoch", "loss", "lr", "examples_per_s", "seconds"}`` every
``log_every`` steps and ``{"kind": "val", "step", "nrmse", "ssim", "psnr", "nmse", "hfen", "examples"}``
at every validation, plus ``{"kind": "event", "step", "message"}`` for starts, resumes and stops.
Only rank 0 writes. On resume, rows after the checkpoint's step (written after the last checkpoint
by a run that was then killed) are dropped, so the log tells one consistent story.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

LOG_NAME = "log.jsonl"


class RunLog:
    """Append-only JSONL log with optional TensorBoard scalars.

    Args:
        folder: the run folder.
        enabled: False on ranks other than 0 (then nothing is written).
        tensorboard: also write TensorBoard event files under ``folder/tensorboard`` (needs the
            ``tensorboard`` package; without it a warning row is logged instead).
    """

    def __init__(self, folder: Path, *, enabled: bool = True, tensorboard: bool = False) -> None:
        self.path = Path(folder) / LOG_NAME
        self.enabled = enabled
        self.writer: Any = None
        self.tensorboard_error: str | None = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(log_dir=str(Path(folder) / "tensorboard"))
            except ImportError as exc:
                self.tensorboard_error = f"TensorBoard logging skipped: {exc}"

    def write(self, row: dict[str, Any]) -> None:
        """Append one row (NaN/inf written as null)."""
        if not self.enabled:
            return
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
        clean.setdefault("time", time.strftime("%Y-%m-%dT%H:%M:%S"))
        with self.path.open("a") as f:
            f.write(json.dumps(clean) + "\n")
        if self.writer is not None and "step" in row:
            for key, value in row.items():
                if key not in ("step", "epoch") and isinstance(value, int | float):
                    self.writer.add_scalar(f"{row.get('kind', 'train')}/{key}", value, row["step"])

    def truncate_after(self, step: int) -> None:
        """Drop rows whose step is beyond ``step`` (used when resuming from a checkpoint at ``step``)."""
        if not self.enabled or not self.path.exists():
            return
        rows = read_log(self.path)
        kept = [r for r in rows if int(r.get("step", 0)) <= step]
        if len(kept) != len(rows):
            self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def read_log(path: Path) -> list[dict[str, Any]]:
    """All rows of a ``log.jsonl`` (a torn last line, from a killed process, is skipped)."""
    rows: list[dict[str, Any]] = []
    if not Path(path).exists():
        return rows
    for line in Path(path).read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows

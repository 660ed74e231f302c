"""What ``recon evaluate`` is asked to do and what it answers: the request (the only copy of its
defaults), each file's evaluation and the whole report.

Its own module, free of numpy and torch, so the command line reads the defaults without importing the
evaluation, and the report writers (``recon_cli.reports.documents``) take these types without importing
``recon_cli.evaluate``, which calls them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recon_cli.reports.figures import RenderedFigure

NORMALIZATIONS = ("none", "max", "lstsq")
REPORT_FILES = ("metrics.json", "metrics.csv")
HTML_FILE = "index.html"
DEFAULT_ERROR_SCALE = 0.2


@dataclass(frozen=True)
class EvaluateRequest:
    """What to compare against and how (the only copy of ``recon evaluate``'s defaults).

    ``crop`` is (height, width) or None. ``html`` adds ``index.html``; its error maps span 0 to
    ``error_scale`` x the data range, and cine temporal profiles run through the image centre
    (``profile="center"``) or the reference's most moving pixel (``"motion"``, the heart in cardiac cine).
    """

    reference: Path
    out_dir: Path = Path("report")
    normalize: str = "lstsq"
    crop: tuple[int, int] | None = None
    overwrite: bool = False
    html: bool = True
    profile: str = "motion"
    error_scale: float = DEFAULT_ERROR_SCALE


@dataclass
class FileEvaluation:
    """Metrics of one reconstruction, or the error that stopped it; ``run``: its run record's gist."""

    source: Path
    ok: bool
    error: str | None = None
    shape: tuple[int, ...] | None = None
    scale: float | None = None
    data_range: float | None = None
    volume: dict[str, float] = field(default_factory=dict)
    slices: list[dict[str, float]] = field(default_factory=list)
    frames: list[dict[str, float]] = field(default_factory=list)
    run: dict[str, Any] | None = None
    figures: list[RenderedFigure] = field(default_factory=list, repr=False)


@dataclass
class EvaluationReport:
    """All files' results and where the report was written (``reference_shape`` after cropping)."""

    request: EvaluateRequest
    reference_shape: tuple[int, ...]
    results: list[FileEvaluation]
    outputs: list[Path]
    reference_full_shape: tuple[int, ...] = ()
    data_range: float | None = None
    reference_guesses: tuple[str, ...] = ()  # what the raw-data reader guessed about the reference file

"""Write ``curve.png`` and ``MODEL_CARD.md`` of a run folder whose training is still going (or was cut),
from its ``config.json``, ``log.jsonl`` and the step of ``last.pt``, so that a commit of the folder is
readable and resumable (`recon train --resume RUN_DIR`). A finished run writes both files itself.

    .venv/bin/python training/snapshot.py training/imunne_vs
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch


def snapshot(run_dir: Path) -> int:
    """Refresh the run's curve and model card; returns the step of ``last.pt``."""
    from recon_cli.train.report import write_curve, write_model_card

    record = json.loads((run_dir / "config.json").read_text())
    step = int(torch.load(run_dir / "last.pt", weights_only=True, map_location="cpu")["step"])
    write_curve(run_dir)
    write_model_card(run_dir, {**record, "step": step, "interrupted": True})
    return step


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    folder = Path(sys.argv[1])
    print(f"{folder}: last.pt at step {snapshot(folder)}")

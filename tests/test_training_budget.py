"""scripts/training_budget.py: the wall-clock of a run is its logged time, without the time it sat stopped."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def load_script():  # noqa: ANN201 - a module
    spec = importlib.util.spec_from_file_location("training_budget", REPO / "scripts" / "training_budget.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_resumed_run_counts_its_segments_not_the_gap(tmp_path: Path) -> None:
    rows = [
        {"kind": "event", "step": 0, "message": "started", "time": "2026-12-01T10:00:00"},
        {"kind": "train", "step": 5, "seconds": 50.0, "time": "2026-12-01T10:01:00"},
        {"kind": "event", "step": 5, "message": "stopped by SIGTERM", "time": "2026-12-01T10:01:30"},
        # six hours later, on another machine
        {"kind": "event", "step": 5, "message": "resumed at step 5", "time": "2026-12-01T16:01:30"},
        {"kind": "train", "step": 10, "seconds": 40.0, "time": "2026-12-01T16:02:10"},
        {"kind": "val", "step": 10, "nrmse": 0.1, "time": "2026-12-01T16:02:30"},
    ]
    (tmp_path / "log.jsonl").write_text("\n".join(map(json.dumps, rows)) + "\n{torn")
    steps, seconds = load_script().stage_cost(tmp_path)
    assert steps == 10
    assert seconds == 90 + 60  # 10:00:00-10:01:30, then 16:01:30-16:02:30


def test_the_shipped_lineages_are_in_the_repo() -> None:
    script = load_script()
    for run, stages, _ in script.LINEAGE.values():
        for stage in stages[:4]:  # a, c, d, e: every network's recipe
            assert (script.run_folder(run, stage) / "log.jsonl").is_file(), (run, stage)
    assert "| `imunne` |" in script.table()

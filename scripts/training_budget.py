"""Training budget of the issue-17 networks, from their run logs: steps and wall-clock per stage.

    python scripts/training_budget.py [--markdown]

For each model's lineage of run folders (``training/<run>``, ``<run>_c``, ``<run>_d``, ...; the stages
the shipped weights descend from, as in scripts/train_stages.sh) prints the steps and the wall-clock of
each stage and their totals. Wall-clock is read from ``log.jsonl``: the time from each start or resume
to the last row written before the next one, summed (so the time a killed run sat stopped is not
counted; validation and checkpointing are). Probes the shipped weights do not descend from (stage b of
imunne, stage g) are listed apart.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from recon_cli.train.runlog import LOG_NAME, read_log  # noqa: E402

LINEAGE = {  # model -> (run name, stages the shipped weights descend from, probes)
    "imunne": ("imunne_vs", ("a", "c", "d", "e", "f", "h", "i", "j", "k", "l", "m", "n", "o"), ("b", "g")),
    "alt-un": ("alt_un_vs", ("a", "c", "d", "e", "f", "h", "k", "m"), ()),
    "cunet": ("cunet_vs", ("a", "c", "d", "e", "f", "h", "k", "m"), ()),
}


def run_folder(run: str, stage: str) -> Path:
    return REPO / "training" / (run if stage == "a" else f"{run}_{stage}")


def stage_cost(folder: Path) -> tuple[int, float]:
    """(last step logged, wall-clock seconds) of one run folder."""
    rows = read_log(folder / LOG_NAME)
    seconds, start, last, steps = 0.0, None, None, 0
    for row in rows:
        when = dt.datetime.fromisoformat(row["time"])
        if row["kind"] == "event" and str(row.get("message", "")).startswith(("started", "resumed")):
            if start is not None and last is not None:
                seconds += (last - start).total_seconds()
            start = when
        last = when
        steps = max(steps, int(row.get("step", 0)))
    if start is not None and last is not None:
        seconds += (last - start).total_seconds()
    return steps, seconds


def table() -> str:
    lines = [
        "| model | stages (steps, wall-clock) | total steps | total wall-clock | probes, not counted |",
        "|---|---|---|---|---|",
    ]
    for model, (run, stages, probes) in LINEAGE.items():
        costs = {s: stage_cost(run_folder(run, s)) for s in stages if run_folder(run, s).is_dir()}
        cells = ", ".join(f"{s.upper()} {n} / {t / 3600:.2f} h" for s, (n, t) in costs.items())
        steps = sum(n for n, _ in costs.values())
        hours = sum(t for _, t in costs.values()) / 3600
        extra = [(p, stage_cost(run_folder(run, p))) for p in probes if run_folder(run, p).is_dir()]
        probe = ", ".join(f"{p.upper()} {n} / {t / 3600:.2f} h" for p, (n, t) in extra) or "-"
        lines.append(f"| `{model}` | {cells} | {steps} | {hours:.2f} h | {probe} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    print(table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

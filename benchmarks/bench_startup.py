"""Start-up time of the commands that only look (`info`, `models`, `--help`, `--version`) against
`python -c "import torch"`, measured in the same run and reported as ratios (goal: under a third).

Uses hyperfine (Debian package ``hyperfine``) when it is on PATH; otherwise runs every command in turn,
round-robin, and takes medians. Writes the "startup" section of docs/benchmarks.md.

    python benchmarks/bench_startup.py [--runs 10] [--no-write]
"""

from __future__ import annotations

import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

Timings = dict[str, dict[str, list[float]]]  # command label -> "wall" / "cpu" -> seconds
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python benchmarks/bench_startup.py` from anywhere
GOAL = 1 / 3


def commands() -> dict[str, list[str]]:
    """Label -> argv; the console script next to this interpreter when it exists."""
    script = Path(sys.executable).with_name("recon")
    recon = [str(script)] if script.exists() else [sys.executable, "-m", "recon_cli.cli.main"]
    sample = str(ROOT / "sample_data" / "radial_cine.h5")
    return {
        'python -c "import torch"': [sys.executable, "-c", "import torch"],
        "recon info sample_data/radial_cine.h5": [*recon, "info", sample],
        "recon models": [*recon, "models"],
        "recon --help": [*recon, "--help"],
        "recon --version": [*recon, "--version"],
    }


def time_with_hyperfine(cmds: dict[str, list[str]], runs: int, rounds: int = 5) -> Timings:
    """Wall seconds per run and CPU seconds (user + system) per round of each command, by hyperfine.

    hyperfine times one command after the other; ``rounds`` calls of ``runs / rounds`` runs each
    interleave the commands, so a change in machine load reaches every command alike.
    """
    times: Timings = {label: {"wall": [], "cpu": []} for label in cmds}
    per_round = max(1, runs // rounds)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "hyperfine.json"
        for _ in range(rounds):
            argv = ["hyperfine", "--shell=none", "--warmup", "1", "--runs", str(per_round), "--style", "none"]
            argv += ["--export-json", str(out), *(" ".join(_quote(a) for a in cmd) for cmd in cmds.values())]
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
            for label, result in zip(cmds, json.loads(out.read_text())["results"], strict=True):
                times[label]["wall"] += result["times"]
                times[label]["cpu"].append(result["user"] + result["system"])
    return times


def _quote(arg: str) -> str:
    return f'"{arg}"' if " " in arg else arg


def time_round_robin(cmds: dict[str, list[str]], runs: int) -> Timings:
    """Wall and CPU seconds per run, every command once per round so machine load reaches them alike."""
    times: Timings = {label: {"wall": [], "cpu": []} for label in cmds}
    for round_ in range(runs + 1):  # round 0 warms the file cache
        for label, argv in cmds.items():
            before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
            if round_:
                times[label]["wall"].append(wall)
                cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                times[label]["cpu"].append(cpu)
    return times


def report(times: Timings, tool: str, runs: int) -> str:
    """The markdown section: medians, ranges and ratios to importing torch (wall and CPU time)."""
    from benchmarks.report import machine_line, markdown_table

    labels = list(times)
    base = statistics.median(times[labels[0]]["wall"])
    base_cpu = statistics.median(times[labels[0]]["cpu"])
    rows: list[list[object]] = []
    verdicts: list[str] = []
    for label in labels:
        wall, cpu = times[label]["wall"], statistics.median(times[label]["cpu"])
        median = statistics.median(wall)
        ratio = median / base
        spread = f"{min(wall):.3f}-{max(wall):.3f}"
        rows.append(
            [f"`{label}`", f"{median:.3f}", spread, f"{ratio:.2f}", f"{cpu:.3f}", f"{cpu / base_cpu:.2f}"]
        )
        if label != labels[0]:
            met = "meets" if ratio < GOAL else "misses"
            verdicts.append(
                f"`{label}` {ratio:.2f} wall, {cpu / base_cpu:.2f} CPU ({met} the goal in wall time)"
            )
    return "\n\n".join(
        [
            "## Start-up: commands that only look, against importing torch (`benchmarks/bench_startup.py`)",
            machine_line()
            + f" Timed with {tool}, {runs} runs per command, interleaved in rounds after warm-ups; medians."
            + " Absolute times vary with the load of this shared machine; the ratios come from one run.",
            markdown_table(["command", "median s", "range s", "ratio", "CPU s", "CPU ratio"], rows),
            "ratio: median wall time over that of `import torch`; CPU: user + system seconds (median over"
            " rounds), less sensitive to the load of other processes than wall time.",
            "Goal: under a third of `import torch`. " + "; ".join(verdicts) + ".",
            f"Command: `python benchmarks/bench_startup.py --runs {runs}`.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    from benchmarks.harness import benchmark_parser

    parser = benchmark_parser(__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    cmds = commands()
    if shutil.which("hyperfine"):
        times, tool = time_with_hyperfine(cmds, args.runs), "hyperfine (--shell=none)"
    else:
        times, tool = time_round_robin(cmds, args.runs), "round-robin subprocess runs"
    from benchmarks.report import publish

    publish("startup", report(times, tool, args.runs), write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

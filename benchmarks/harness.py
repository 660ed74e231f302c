"""What the benchmark scripts share: their command line, thread pinning, timed runs, BART files, load.

Every script builds its parser with ``benchmark_parser`` (description from its docstring, ``--no-write``,
and ``--threads`` / ``--quick`` where it has them), runs tools and its own worker processes with
``pinned_env`` through ``run_checked`` / ``run_json``, times in-process calls with ``repeat_timed``,
reads and writes BART's .cfl/.hdr files with ``read_cfl`` / ``write_cfl``, and notes the machine's load
with ``load_average``. Nothing here imports from ``tests/``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


def benchmark_parser(
    doc: str | None, *, threads: int | None = None, quick: str | None = None
) -> argparse.ArgumentParser:
    """The script's argument parser: its docstring's first line, ``--no-write``, and optionally more.

    Args:
        doc: The script's ``__doc__``.
        threads: Add ``--threads N`` with this default (CPU threads of torch and of the tools it runs).
        quick: Add ``--quick`` with this help text (the script's smoke-run mode).
    """
    parser = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0] if doc else None)
    if threads is not None:
        parser.add_argument(
            "--threads", type=int, default=threads, help="CPU threads of torch and of the tools it runs"
        )
    if quick is not None:
        parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument(
        "--no-write", action="store_true", help="print the section, leave docs/benchmarks.md alone"
    )
    return parser


def pinned_env(threads: int, **extra: str) -> dict[str, str]:
    """This process's environment with every thread-pool size (OpenMP, MKL, OpenBLAS, numba) at ``threads``,
    plus ``extra`` variables (e.g. ``OMP_WAIT_POLICY="passive"``), for a child process."""
    n = str(threads)
    return {**os.environ, **dict.fromkeys(_THREAD_VARIABLES, n), **extra}


def run_checked(
    command: Sequence[str | Path], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` (output captured); a RuntimeError with the end of its output when it fails."""
    argv = [str(a) for a in command]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv[:3])} failed (exit {done.returncode}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        )
    return done


def wall_seconds(
    command: Sequence[str | Path], env: dict[str, str] | None = None, cwd: Path | None = None
) -> float:
    """Wall-clock seconds of ``run_checked(command)``, process start and file I/O included."""
    start = time.perf_counter()
    run_checked(command, env, cwd)
    return time.perf_counter() - start


def run_json(
    command: Sequence[str | Path], env: dict[str, str] | None = None, cwd: Path | None = None
) -> Any:
    """The JSON value a worker process prints as the last line of its standard output."""
    return json.loads(run_checked(command, env, cwd).stdout.strip().splitlines()[-1])


def repeat_timed(run: Callable[[], T], repeats: int) -> tuple[list[float], T]:
    """Seconds of each of ``repeats`` calls of ``run`` (warm it up first), and the last call's result."""
    if repeats < 1:
        raise ValueError(f"repeat_timed needs repeats >= 1, got {repeats}")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return times, result


def worker_parser(doc: str | None, workers: Sequence[str]) -> argparse.ArgumentParser:
    """``benchmark_parser`` plus the hidden options of a script that times tools in child processes of
    itself (``--worker TOOL --data DIR --repeats N``, what ``worker_times`` passes)."""
    parser = benchmark_parser(doc)
    parser.add_argument("--worker", choices=tuple(workers), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=3, help=argparse.SUPPRESS)
    return parser


def worker_times(
    script: str, tool: str, folder: Path, repeats: int, env: dict[str, str], *extra: str
) -> list[float]:
    """Run ``script --worker tool --data folder --repeats N [extra]`` (a fresh process, ``env``'s threads);
    the call times the worker prints (``print_times``)."""
    command = [sys.executable, script, "--worker", tool, "--data", str(folder), "--repeats", str(repeats)]
    return list(run_json([*command, *extra], env))


def print_times(run: Callable[[], T], repeats: int) -> T:
    """In a worker process: one warm-up call of ``run``, ``repeats`` timed ones, their times printed as
    JSON (what ``worker_times`` reads); the last call's result."""
    run()
    times, result = repeat_timed(run, repeats)
    print(json.dumps(times))
    return result


def measure_against_bart(
    name: str, measure: Callable[[Path], dict[str, Any]], render: Callable[[dict[str, Any]], str], write: bool
) -> int:
    """The main run of a benchmark that compares with BART: ``measure`` in a temporary folder, then print
    (and with ``write`` store) the section ``name``; exits with a message when ``bart`` is not installed."""
    if shutil.which("bart") is None:
        sys.exit(f"bench_{name} needs BART (`apt-get install bart`)")
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(Path(tmp))
    from benchmarks.report import publish

    publish(name, render(result), write=write)
    return 0


def bart_times(args: Sequence[str], folder: Path, repeats: int, env: dict[str, str]) -> list[float]:
    """Wall seconds of ``repeats`` runs of ``bart ARGS`` in ``folder``."""
    return [wall_seconds(["bart", *args], env, folder) for _ in range(repeats)]


def versus_bart_times(
    times: dict[str, list[float]], tools: Sequence[str]
) -> tuple[float, dict[str, float], dict[str, float]]:
    """(start-up, best, median) seconds of each tool from ``times`` (its runs, and under "startup" those
    of a trivial ``bart`` command); the ``bart`` times less that start-up, the fastest of its runs."""
    startup = float(np.min(times["startup"]))
    less = {tool: startup if tool == "bart" else 0.0 for tool in tools}
    best = {tool: float(np.min(times[tool])) - less[tool] for tool in tools}
    median = {tool: float(np.median(times[tool])) - less[tool] for tool in tools}
    return startup, best, median


def versus_bart_section(
    title: str, setup: str, header: list[str], rows: list[list[object]], goal: str
) -> str:
    """A section of a benchmark against BART: title, set-up, the tools' table, the goal, the machine."""
    from benchmarks.report import machine_line, markdown_table

    return "\n\n".join([title, setup, markdown_table(header, rows), goal, machine_line()])


def versus_bart_note(command: str, startup: float, load: Sequence[float], in_memory: str = "") -> str:
    """The sentences saying how the tools were timed against BART and how busy the machine was."""
    return (
        f"`bart` times are wall times of {command} minus {startup * 1e3:.1f} ms start-up (`bart ones`) and "
        f"include its file I/O; recon and sigpy are timed in memory after a warm-up call{in_memory}. Load "
        f"average {load[0]:.1f} before and {load[1]:.1f} after (a shared machine: the best times are the "
        "fairest comparison)."
    )


def load_average() -> float:
    """The machine's 1-minute load average (the benchmarks run on shared machines and say how busy)."""
    return os.getloadavg()[0]


def read_cfl(base: Path | str) -> np.ndarray:
    """A BART .cfl/.hdr pair as the column-major complex64 array of all its dimensions."""
    base = Path(base)
    dims = [int(d) for d in base.with_suffix(".hdr").read_text().splitlines()[1].split()]
    return np.fromfile(base.with_suffix(".cfl"), dtype=np.complex64).reshape(dims, order="F")


def write_cfl(base: Path | str, array: np.ndarray) -> None:
    """Write ``array`` as a BART .cfl/.hdr pair (column-major complex64, padded to 16 dimensions)."""
    base = Path(base)
    dims = list(array.shape) + [1] * max(0, 16 - array.ndim)
    base.with_suffix(".hdr").write_text("# Dimensions\n" + " ".join(map(str, dims)) + "\n")
    np.asarray(array, dtype=np.complex64).ravel(order="F").tofile(base.with_suffix(".cfl"))


def coil_images_from_cfl(base: Path | str) -> np.ndarray:
    """A BART (x, y, 1, coils) array (k-space or maps) as a C-ordered (coils, y, x) one."""
    data = read_cfl(base)
    return np.ascontiguousarray(data.reshape(data.shape[0], data.shape[1], -1).T)


def coil_images_to_cfl(base: Path | str, array: np.ndarray) -> None:
    """Write (coils, y, x) as a BART (x, y, 1, coils) .cfl/.hdr pair."""
    write_cfl(base, np.asarray(array, dtype=np.complex64).T[:, :, None, :])


def optimiser_step(optimiser: Any, loss: Any, scheduler: Any | None = None) -> float:
    """One training step on ``loss`` (a scalar tensor): zero the gradients, backpropagate, step the
    optimiser and then the scheduler if any; the loss's value."""
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    if scheduler is not None:
        scheduler.step()
    return float(loss.detach())

"""Progress within a file: solvers report each iteration; a solve stopping at its maximum says so."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from recon_cli import progress
from recon_cli.cli.main import app
from tests.helpers import small_cine

runner = CliRunner()


def test_cs_reports_every_iteration_of_every_slice() -> None:
    from recon_cli.coils import estimate_maps
    from recon_cli.reconstruct import load_model, reconstruct_scan

    _, _, scan = small_cine("radial", n=32, frames=3, coils=4, seed=8)
    model = load_model("cs", config={"iterations": 4}, device="cpu")
    calls: list[tuple[int, int, int, int]] = []
    maps = estimate_maps(scan, method="espirit")
    reconstruct_scan(scan, model, maps, on_progress=lambda *a: calls.append(a))
    assert calls[0] == (0, 1, 0, 0)  # the slice starts
    solver_calls = [c for c in calls if c[3]]
    assert [c[2] for c in solver_calls] == list(range(1, 5)) and {c[3] for c in solver_calls} == {4}


def test_listening_is_scoped() -> None:
    heard: list[tuple[int, int]] = []
    with progress.listening(lambda d, t: heard.append((d, t))):
        progress.iteration(1, 3)
        with progress.listening(None):
            progress.iteration(2, 3)
    progress.iteration(3, 3)
    assert heard == [(1, 3)]


def test_a_solver_stopping_at_its_maximum_says_so(tmp_path: Path) -> None:
    from recon_cli.io.ismrmrd_write import write_ismrmrd

    _, _, scan = small_cine("radial", n=32, frames=4, coils=4, seed=3)
    raw = tmp_path / "scan.h5"
    write_ismrmrd(raw, scan)
    args = [
        "reconstruct",
        str(raw),
        "--model",
        "imunne",
        "--set",
        "iterations=2",
        "--set",
        "tol=0.001",  # a convergence test (the shipped weights run a fixed depth, tol 0)
        "--out",
        str(tmp_path / "o"),
    ]
    result = runner.invoke(app, [*args, "--format", "h5", "--json"])
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stderr.split())
    assert "imunne stopped at its maximum of 2 iterations on slice 0" in text
    import json

    summary = json.loads(result.stdout)
    assert summary["ok"] == 1 and "stopped at its maximum" in summary["files"][0]["notes"][0]


def test_a_fixed_depth_solve_says_it_has_no_convergence_test(tmp_path: Path) -> None:
    from recon_cli.io.ismrmrd_write import write_ismrmrd

    _, _, scan = small_cine("radial", n=32, frames=4, coils=4, seed=3)
    raw = tmp_path / "scan.h5"
    write_ismrmrd(raw, scan)
    options = ["--set", "iterations=3", "--set", "tol=0", "--out", str(tmp_path / "o"), "--format", "h5"]
    result = runner.invoke(app, ["reconstruct", str(raw), "--model", "imunne", *options])
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stderr.split())
    assert "imunne ran a fixed 3 iterations per slice (tolerance 0: fixed depth, no convergence test)" in text
    assert "stopped at its maximum" not in text


def test_models_table_says_how_many_iterations_each_model_runs() -> None:
    from recon_plugins.alt_un.config import AltUNConfig
    from recon_plugins.cunet.config import CUNetConfig
    from recon_plugins.sense.config import SenseConfig

    from recon_cli.model_info import iteration_rule

    assert iteration_rule(AltUNConfig) == f"fixed {AltUNConfig().blocks}"
    assert SenseConfig().tol == 1e-5
    assert iteration_rule(SenseConfig) == f"<={SenseConfig().iterations} tol 1e-5"
    assert iteration_rule(CUNetConfig) == "-"
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0 and "iterations" in result.stdout.splitlines()[0]

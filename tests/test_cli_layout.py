"""Output that fits an 80-column terminal, results on stdout only, and `--json` that parses.

A split word is found by comparison with the same command rendered 400 columns wide: every token of the
80-column text must also be a token of the wide text (a word folded in two leaves fragments that are not).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS = ["info", "models", "reconstruct", "estimate-coils", "simulate-mask", "train", "evaluate"]


def _recon(*args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1", "TERM": "dumb"}
    code = "from recon_cli.cli.main import run; run()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300
    )


def _assert_fits(args: list[str]) -> str:
    narrow, wide = _recon(*args), _recon(*args, columns=400)
    assert narrow.returncode == 0 and wide.returncode == 0, narrow.stderr
    too_long = [ln for ln in narrow.stdout.splitlines() if len(ln) > 80]
    assert not too_long, too_long
    fragments = _words(narrow.stdout) - _words(wide.stdout)
    assert not fragments, f"words split across lines: {sorted(fragments)}"
    return narrow.stdout


def _words(text: str) -> set[str]:
    """Tokens with a letter or digit, without the frame characters of rich's panels."""
    tokens = (t.strip("│╭╮╰╯─┃━┏┓┗┛") for t in text.split())
    return {t for t in tokens if any(c.isalnum() for c in t)}


@pytest.fixture(scope="module")
def files(repo_root: Path) -> list[str]:
    return [
        str(repo_root / "sample_data" / n) for n in ("radial_cine.h5", "fastmri_brain_phantom_multicoil.h5")
    ]


def test_models_is_one_line_per_model() -> None:
    out = _assert_fits(["models"])
    names = _recon("models", "--names").stdout.split()
    lines = out.splitlines()
    for name in names:
        (line,) = [ln for ln in lines if ln.split()[:1] == [name]]
        assert line.split()[1] in ("classical", "learned")
    assert len(lines) == len(names) + 2  # a header and a hint


@pytest.mark.parametrize("name", ["imunne", "cs", "zero-filled", "ifr-cs"])
def test_model_card_fits(name: str) -> None:
    out = _assert_fits(["models", name])
    assert "config (--set KEY=VALUE)" in out and "weights" in out and "measured quality" in out


def test_model_card_names_the_shipped_weights_and_their_sha256() -> None:
    import hashlib

    card = json.loads(_recon("models", "imunne", "--json").stdout)
    weights = card["weights"]
    assert weights["sha256"] == hashlib.sha256(Path(weights["file"]).read_bytes()).hexdigest()
    assert {c["key"] for c in card["config"]} >= {"iterations", "tol"}
    assert any("SSIM" in " ".join(row["cells"]) for row in card["quality"])


def test_info_fits_and_json_parses(files: list[str]) -> None:
    out = _assert_fits(["info", *files])
    assert out.count("format") == 2  # one block per file
    rows = json.loads(_recon("info", "--json", *files).stdout)
    assert [Path(r["file"]).name for r in rows] == [Path(f).name for f in files]
    assert rows[0]["noise_scans"] == 1 and rows[0]["noise_samples"] > rows[0]["noise_scans"]


def test_info_errors_go_to_stderr_results_to_stdout(files: list[str], tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.h5")
    proc = _recon("info", "--json", files[0], missing)
    assert proc.returncode == 3
    rows = json.loads(proc.stdout)
    assert rows[1] == {"file": missing, "error": "no such file"}
    assert proc.stderr.strip().splitlines() == [f"error: {missing}: no such file"]


def test_models_json_parses() -> None:
    rows = json.loads(_recon("models", "--json").stdout)
    assert {"name", "kind", "data", "shipped_weights"} <= set(rows[0])


@pytest.mark.parametrize("command", [None, "info", "models"])
def test_help_fits(command: str | None) -> None:
    _assert_fits([command, "--help"] if command else ["--help"])


@pytest.mark.parametrize("command", COMMANDS)
def test_flags_have_no_type_placeholder(command: str) -> None:
    proc = _recon(command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "<bool>" not in proc.stdout
    assert max(len(ln) for ln in proc.stdout.splitlines()) <= 80

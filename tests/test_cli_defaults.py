"""Every option default of `reconstruct`, `evaluate` and `simulate-mask` is the library's default.

The library dataclasses (``ReconstructRequest``, ``EvaluateRequest``, ``PatternSpec``) hold the only copy
of each default; the commands read them. Compared here from each command function's signature (what
typer shows), so a literal that drifts from the library fails.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest

from recon_cli.cli.main import COMMANDS
from recon_cli.evaluate_request import EvaluateRequest
from recon_cli.reconstruct_request import ReconstructRequest
from recon_cli.sampling.spec import PatternSpec


def _option_defaults(command: str) -> dict[str, Any]:
    function = importlib.import_module(COMMANDS[command]).command
    return {name: p.default for name, p in inspect.signature(function).parameters.items()}


def _field_defaults(cls: type[Any], **required: Any) -> dict[str, Any]:
    return dataclasses.asdict(cls(**required))


# option name -> library field (only where the two names differ), and how a default is rendered
CASES = {
    "reconstruct": (
        ReconstructRequest,
        {},
        {"out": "out_dir", "fmt": "formats"},
        [
            "out",
            "model",
            "fmt",
            "coil_method",
            "device",
            "prewhiten",
            "traj_units",
            "anonymize",
            "overwrite",
            "strict",
            "allow_untrained",
        ],
    ),
    "evaluate": (
        EvaluateRequest,
        {"reference": Path("ref.h5")},
        {"out": "out_dir"},
        ["out", "normalize", "html", "profile", "error_scale", "overwrite"],
    ),
    "simulate-mask": (
        PatternSpec,
        {},
        {"tiny_index": "tiny_golden_index"},
        ["kind", "center_fraction", "seed", "tiny_index"],
    ),
}


@pytest.mark.parametrize("command", sorted(CASES))
def test_option_defaults_are_the_library_defaults(command: str) -> None:
    cls, required, renamed, options = CASES[command]
    shown = _option_defaults(command)
    library = _field_defaults(cls, **required)
    for option in options:
        expected = library[renamed.get(option, option)]
        if isinstance(expected, tuple):  # --format: comma-separated
            expected = ",".join(expected)
        value = shown[option]
        assert (Path(value) if isinstance(expected, Path) else value) == expected, option

"""Train a learned model plugin on a folder of data (see `recon models` for the trainable ones)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recon_cli.cli.common import handle_errors, parse_settings

NAME = "train"


@handle_errors
def command(
    model: Annotated[str, typer.Option("--model", "-m", help="Model name (see `recon models`).")],
    data: Annotated[Path, typer.Option("--data", help="Training data folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder for checkpoints and logs.")],
    val: Annotated[Path | None, typer.Option("--val", help="Validation data folder.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML file of model config values.")] = None,
    settings: Annotated[
        list[str] | None, typer.Option("--set", help="Model config value key=value (repeatable).")
    ] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda:N.")] = "auto",
) -> None:
    from recon_cli.errors import InputDataError, ModelError
    from recon_cli.registry import available_models, load_plugin, resolve_config

    plugin = load_plugin(model)
    if not plugin.trainable:
        trainable = [n for n in available_models() if load_plugin(n).trainable]
        raise ModelError(
            f"model '{model}' is not trainable; trainable models installed: {', '.join(trainable) or 'none'}"
        )
    resolve_config(plugin, parse_settings(config, settings))
    for folder in (data, val):
        if folder is not None and not folder.is_dir():
            raise InputDataError(folder, "no such data folder")
    raise ModelError(f"model '{model}': the training loop is not installed in this version of recon")

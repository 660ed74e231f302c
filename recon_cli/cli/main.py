"""The ``recon`` application: one module per command, joined here. Nothing here imports torch."""

from __future__ import annotations

import os
import warnings
from typing import Annotated

import typer

from recon_cli import __version__
from recon_cli.cli import estimate_coils, evaluate, info, models, reconstruct, simulate_mask, train

app = typer.Typer(
    name="recon",
    help="MRI reconstruction from raw k-space (ISMRMRD, fastMRI HDF5) to images and metric reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"recon {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """recon: read raw k-space, reconstruct with a model picked by name, write images and metrics."""
    if debug:
        os.environ["RECON_DEBUG"] = "1"


for module in (info, models, reconstruct, estimate_coils, simulate_mask, train, evaluate):
    app.command(name=module.NAME, help=module.__doc__)(module.command)


def run() -> None:
    """Console-script entry point."""
    # torchkbnufft scripts its kernels with torch.jit, which newer torch deprecates; not the user's concern
    warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=DeprecationWarning)
    app()


if __name__ == "__main__":
    run()

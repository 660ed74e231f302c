"""The ``recon`` application: one module per command, joined here.

Nothing here (nor in ``--help``, ``--version``, ``info`` or ``models``) imports torch or the NUFFT
libraries; each command imports what it needs when it runs.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from recon_cli import __version__

# command name -> its module (one per command, each with NAME, a docstring and ``command``), in help order;
# a module is imported only when its command runs, or for --help, which lists them all
COMMANDS = {
    "info": "recon_cli.cli.info",
    "models": "recon_cli.cli.models",
    "reconstruct": "recon_cli.cli.reconstruct",
    "estimate-coils": "recon_cli.cli.estimate_coils",
    "simulate-mask": "recon_cli.cli.simulate_mask",
    "train": "recon_cli.cli.train",
    "evaluate": "recon_cli.cli.evaluate",
}


def _without_flag_types(params: list[Any]) -> list[Any]:
    """Flags take no value, so their help shows no type placeholder (typer prints ``<bool>``)."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class _Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _without_flag_types(super().get_params(ctx))


class _Group(TyperGroup):
    """The ``recon`` group: flags without type placeholders, and commands loaded on demand."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _without_flag_types(super().get_params(ctx))

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(COMMANDS[cmd_name])
        single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        single.command(name=module.NAME, help=module.__doc__, cls=_Command)(module.command)
        return typer.main.get_command(single)


app = typer.Typer(
    name="recon",
    cls=_Group,
    help="MRI reconstruction from raw k-space (ISMRMRD, fastMRI HDF5) to images and metric reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    """``--version``: recon, Python and the installed torch (from package metadata: nothing is imported)."""
    if value:
        from recon_cli.runtime import package_version

        torch = package_version("torch")
        typer.echo(
            f"recon {__version__} (Python {sys.version.split()[0]}, torch {torch}); "
            "`recon info --system` for the CUDA devices and NUFFT backends"
        )
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


def run() -> None:
    """Console-script entry point."""
    # torchkbnufft scripts its kernels with torch.jit, which newer torch deprecates; not the user's concern
    warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=DeprecationWarning)
    app()


if __name__ == "__main__":
    run()

"""Draw a seeded sampling pattern, or apply one to a fully sampled scan (--apply-to)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recon_cli.cli.common import OverwriteOutputsOption, console, handle_errors, parse_size
from recon_cli.errors import UsageError
from recon_cli.sampling.kinds import MASK_KINDS
from recon_cli.sampling.spec import PatternSpec

NAME = "simulate-mask"
KINDS = ", ".join(MASK_KINDS)
_D = PatternSpec()  # the defaults: one copy, in the library (numpy-free to import)


@handle_errors
def command(
    kind: Annotated[str, typer.Option("--kind", "-k", help=f"Pattern: {KINDS}.")] = _D.kind,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Output .h5: the pattern (default mask.h5; a .png preview beside it), or with "
            "--apply-to the undersampled scan.",
        ),
    ] = None,
    apply_to: Annotated[
        Path | None,
        typer.Option("--apply-to", help="Fully sampled Cartesian scan to undersample retrospectively."),
    ] = None,
    shape: Annotated[str | None, typer.Option("--shape", help="Cartesian matrix NY,NX.")] = None,
    acceleration: Annotated[
        float | None, typer.Option("--acceleration", "-R", help="Acceleration factor.")
    ] = None,
    fraction: Annotated[
        float | None,
        typer.Option("--fraction", help="Sampled fraction, instead of --acceleration (0.25 = R 4)."),
    ] = None,
    center_fraction: Annotated[
        float,
        typer.Option(
            "--center-fraction", help="Fully sampled centre (1-D: of the lines; 2-D: of each axis)."
        ),
    ] = _D.center_fraction,
    frames: Annotated[
        int | None, typer.Option("--frames", help="Frames; each gets its own draw or spokes [1].")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random generator.")] = _D.seed,
    spokes: Annotated[int | None, typer.Option("--spokes", help="Radial: spokes per frame.")] = None,
    samples: Annotated[
        int | None, typer.Option("--samples", help="Radial: samples per spoke [2 x matrix].")
    ] = None,
    matrix: Annotated[
        int | None, typer.Option("--matrix", help="Radial: image size N of an N x N image.")
    ] = None,
    tiny_index: Annotated[
        int, typer.Option("--tiny-index", help="tiny-golden-angle: N (7 = 23.63 deg).")
    ] = _D.tiny_golden_index,
    force: Annotated[
        bool, typer.Option("--force", help="--apply-to: undersample data that is already undersampled.")
    ] = False,
    overwrite: OverwriteOutputsOption = False,
) -> None:
    spec = PatternSpec(
        kind=kind,
        frames=frames,
        seed=seed,
        shape=parse_size(shape, "--shape") if shape else None,
        acceleration=acceleration,
        fraction=fraction,
        center_fraction=center_fraction,
        spokes=spokes,
        samples=samples,
        matrix=matrix,
        tiny_golden_index=tiny_index,
    )
    if apply_to is not None:
        _apply(spec, apply_to, out, force=force, overwrite=overwrite)
        return
    if force:
        raise UsageError("--force only applies with --apply-to")
    from recon_cli.sampling import simulate_pattern

    result = simulate_pattern(spec, out or Path("mask.h5"), overwrite=overwrite)
    console.print(
        f"{result.spec.kind}: sampled fraction {result.sampled_fraction:.4f}, acceleration "
        f"{result.acceleration:.2f} -> {result.path} (+ {result.png.name})",
        highlight=False,
        soft_wrap=True,
    )


def _apply(spec: PatternSpec, source: Path, out: Path | None, *, force: bool, overwrite: bool) -> None:
    from recon_cli.sampling.undersample import undersample_file

    if out is None:
        raise UsageError("--apply-to needs --out UNDERSAMPLED.h5")
    result = undersample_file(source, out, spec, force=force, overwrite=overwrite)
    console.print(
        f"{result.spec.kind}: sampled fraction {result.sampled_fraction:.4f}, acceleration "
        f"{result.acceleration:.2f} -> {result.path} ({result.format}, with its fully sampled reference)",
        highlight=False,
        soft_wrap=True,
    )

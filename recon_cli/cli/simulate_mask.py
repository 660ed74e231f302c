"""Draw a seeded sampling pattern (fastMRI-style Cartesian mask or golden-angle radial trajectory)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recon_cli.cli.common import console, handle_errors, parse_size

NAME = "simulate-mask"
KINDS = "random, equispaced, golden-angle, tiny-golden-angle"  # recon_cli.sampling.MASK_KINDS


@handle_errors
def command(
    kind: Annotated[str, typer.Option("--kind", "-k", help=f"Pattern: {KINDS}.")] = "random",
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output .h5 (a .png preview is written beside it).")
    ] = Path("mask.h5"),
    shape: Annotated[str | None, typer.Option("--shape", help="Cartesian matrix NY,NX.")] = None,
    acceleration: Annotated[
        float | None, typer.Option("--acceleration", "-R", help="Acceleration factor.")
    ] = None,
    center_fraction: Annotated[
        float, typer.Option("--center-fraction", help="Fully sampled centre fraction.")
    ] = 0.08,
    frames: Annotated[int, typer.Option("--frames", help="Frames; each gets its own draw or spokes.")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random generator.")] = 0,
    spokes: Annotated[int | None, typer.Option("--spokes", help="Radial: spokes per frame.")] = None,
    samples: Annotated[
        int | None, typer.Option("--samples", help="Radial: samples per spoke [2 x matrix].")
    ] = None,
    matrix: Annotated[
        int | None, typer.Option("--matrix", help="Radial: image size N of an N x N image.")
    ] = None,
    tiny_index: Annotated[
        int, typer.Option("--tiny-index", help="tiny-golden-angle: N (7 = 23.63 deg).")
    ] = 7,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing outputs.")] = False,
) -> None:
    from recon_cli.sampling import PatternSpec, simulate_pattern

    spec = PatternSpec(
        kind=kind,
        frames=frames,
        seed=seed,
        shape=parse_size(shape, "--shape") if shape else None,
        acceleration=acceleration,
        center_fraction=center_fraction,
        spokes=spokes,
        samples=samples,
        matrix=matrix,
        tiny_golden_index=tiny_index,
    )
    result = simulate_pattern(spec, out, overwrite=overwrite)
    console.print(
        f"{result.spec.kind}: sampled fraction {result.sampled_fraction:.4f}, acceleration "
        f"{result.acceleration:.2f} -> {result.path} (+ {result.png.name})",
        highlight=False,
        soft_wrap=True,
    )

"""NUFFT speed and accuracy: our operator on each backend against torchkbnufft, FINUFFT and BART.

One run, one data set (128x128 image, 8 coils, 20 frames x 13 golden-angle spokes x 256 samples), each
tool in its own process with 2 threads (FINUFFT, torch and BART each bring their own OpenMP runtime and
would compete in one process), in interleaved rounds so that machine load hits every tool alike (the
best round counts).
Accuracy is the relative error against FINUFFT at eps 1e-12 in double precision, after a least-squares
complex scalar fit (the tools scale differently; our operator's fitted scale is 1). Writes the section
"nufft" of docs/benchmarks.md.

Run: ``python benchmarks/bench_nufft.py``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._nufft_worker import THREADS, TOOLS  # noqa: E402
from benchmarks.harness import benchmark_parser, load_average, pinned_env, run_checked  # noqa: E402
from benchmarks.report import machine_line, markdown_table, publish  # noqa: E402

FRAMES, COILS, N, SPOKES, SAMPLES = 20, 8, 128, 13, 256
ROUNDS = 4
LABELS = {
    "ours-finufft": "ours, FINUFFT backend (normal: Toeplitz)",
    "ours-finufft-direct": "ours, FINUFFT backend (normal: adjoint after forward)",
    "ours-finufft-sense": "ours, FINUFFT backend, SENSE: one image per frame and 8 coil maps",
    "ours-torchkbnufft": "ours, torchkbnufft backend (normal: Toeplitz)",
    "torchkbnufft": "torchkbnufft 1.5 table mode (normal: its Toeplitz)",
    "finufft": "FINUFFT eps 1e-4, simple interface",
    "finufft-plans": "FINUFFT eps 1e-4, plans made once",
    "finufft-plans-ours": "FINUFFT at our settings (eps 2e-5, upsampling 1.25), plans made once",
    "bart": "`bart nufft` v0.8 (command wall time)",
}


def make_data(folder: Path) -> None:
    """Seeded random coil images and k-space on a golden-angle radial trajectory."""
    from recon_cli.sampling import golden_angle_radial

    rng = np.random.default_rng(20240601)
    traj = golden_angle_radial(SPOKES, FRAMES, SAMPLES)

    def noise(shape: tuple[int, ...]) -> np.ndarray:
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)

    np.save(folder / "traj.npy", traj)
    np.save(folder / "spokes.npy", np.array(SPOKES))
    np.save(folder / "image.npy", noise((FRAMES, COILS, N, N)))
    np.save(folder / "kspace.npy", noise((FRAMES, COILS, SPOKES * SAMPLES)))
    maps = noise((COILS, N, N))
    np.save(folder / "maps.npy", maps / np.sqrt((np.abs(maps) ** 2).sum(0)))


def references(folder: Path, sense: bool = False) -> dict[str, np.ndarray]:
    """FINUFFT in double precision at eps 1e-12 (forward, adjoint, adjoint after forward), scaled as ours.

    With ``sense``: of the first coil image of each frame times the coil maps, coil-combined adjoints.
    """
    import finufft

    traj = np.load(folder / "traj.npy").astype(np.float64)
    image, kspace, maps = (
        np.load(folder / f"{n}.npy").astype(np.complex128) for n in ("image", "kspace", "maps")
    )
    coil_images = image[:, :1] * maps if sense else image
    options = {"eps": 1e-12, "nthreads": THREADS}
    fwd = np.stack([finufft.nufft2d2(*traj[f], coil_images[f], **options) for f in range(FRAMES)]) / N

    def adjoint(k: np.ndarray) -> np.ndarray:
        out = np.stack([finufft.nufft2d1(*traj[f], k[f], (N, N), **options) for f in range(FRAMES)]) / N
        return (out * maps.conj()).sum(1) if sense else out

    return {"forward": fwd, "adjoint": adjoint(kspace), "normal": adjoint(fwd)}


def fitted_error(result: np.ndarray, reference: np.ndarray) -> tuple[float, complex]:
    """Relative error after the least-squares complex scale, and that scale (1 when scaled as ours)."""
    result = result.astype(np.complex128).reshape(reference.shape)
    scale = np.vdot(result, reference) / np.vdot(result, result)
    return float(np.linalg.norm(scale * result - reference) / np.linalg.norm(reference)), scale


def run_tool(tool: str, folder: Path) -> dict[str, float]:
    env = pinned_env(THREADS, PYTHONPATH=str(ROOT))
    env.setdefault("OMP_WAIT_POLICY", "passive")
    run_checked([sys.executable, "-m", "benchmarks._nufft_worker", tool, str(folder)], env, ROOT)
    return json.loads((folder / f"{tool}.json").read_text())


def measure(folder: Path) -> tuple[dict[str, dict[str, float]], list[float]]:
    """Per tool, the least disturbed round (smallest median); the 1-minute load averages before each round."""
    runs: dict[str, list[dict[str, float]]] = {tool: [] for tool in TOOLS}
    loads = []
    for round_index in range(ROUNDS):
        loads.append(load_average())
        for tool in TOOLS:
            print(f"round {round_index + 1}/{ROUNDS}: {tool}", flush=True)
            runs[tool].append(run_tool(tool, folder))
    times = {tool: {k: float(min(r[k] for r in rs)) for k in rs[0]} for tool, rs in runs.items()}
    return times, loads


def _ms(value: float) -> str:
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def _table(times: dict[str, dict[str, float]], errors: dict[str, dict[str, float]]) -> str:
    """Times, errors and ratios to FINUFFT (plans; its forward + adjoint for the normal)."""
    base = times["finufft-plans"]
    base = {**base, "normal": base["forward"] + base["adjoint"]}
    overhead = times["bart"]["setup"]
    rows = []
    for tool, label in LABELS.items():
        t = dict(times[tool])
        if tool == "bart":  # process start + file output, twice for the normal (two commands)
            t = {k: t[k] - overhead * (2 if k == "normal" else 1) for k in ("forward", "adjoint", "normal")}
        steps = ("forward", "adjoint", "normal")
        rows.append(
            [label]
            + [_ms(t[k]) for k in steps]
            + [f"{errors[tool][k]:.1e}" for k in steps]
            + [f"{t[k] / base[k]:.2f}" for k in steps]
        )
    header = ["tool", "forward ms", "adjoint ms", "normal ms", "fwd error", "adj error", "normal error"]
    header += ["fwd / FINUFFT", "adj / FINUFFT", "normal / FINUFFT fwd+adj"]
    return markdown_table(header, rows)


def _goals(times: dict[str, dict[str, float]]) -> list[str]:
    """The goals, each with the measured ratio and whether it is met."""
    base = times["finufft-plans"]
    lines = []
    for tool in ("ours-finufft", "ours-finufft-sense"):
        ours = times[tool]
        ratios = {k: ours[k] / base[k] for k in ("forward", "adjoint")}
        ratios["normal"] = ours["normal"] / (base["forward"] + base["adjoint"])
        verdict = {k: "met" if r <= (1.0 if k == "normal" else 1.5) else "NOT met" for k, r in ratios.items()}
        lines.append(
            f"- {LABELS[tool]}: forward {ratios['forward']:.2f}x ({verdict['forward']}), adjoint "
            f"{ratios['adjoint']:.2f}x ({verdict['adjoint']}), Toeplitz normal {ratios['normal']:.2f}x of "
            f"FINUFFT forward+adjoint ({verdict['normal']})."
        )
    return lines


def render(
    times: dict[str, dict[str, float]], errors: dict[str, dict[str, float]], loads: list[float]
) -> str:
    """The markdown section: how it was run, the table, the goals and notes."""
    setups = ", ".join(
        f"{LABELS[t].split(' (')[0]} {_ms(times[t]['setup'])} ms"
        for t in ("ours-finufft", "ours-torchkbnufft", "torchkbnufft")
    )
    load = ", ".join(f"{x:.1f}" for x in loads)
    return f"""## NUFFT (`benchmarks/bench_nufft.py`)

{machine_line()}
Data: {N}x{N} image, {COILS} coils, {FRAMES} frames x {SPOKES} golden-angle spokes x {SAMPLES} samples (a
trajectory per frame), complex64, random coil images and k-space. Each tool in its own process with
{THREADS} threads (`OMP_WAIT_POLICY=passive`), median of repeats after warm-up, the best of {ROUNDS}
interleaved rounds. 1-minute load average before each round: {load} (the machine is shared; compare
ratios within this run). Errors: relative to FINUFFT at eps 1e-12 in double precision, after a
least-squares complex scale fit (tools scale differently; ours fits with scale 1).

{_table(times, errors)}

Goals: forward and adjoint within 1.5x of FINUFFT, normal operator no slower than FINUFFT forward +
adjoint (FINUFFT = eps 1e-4 with plans made once, the faster FINUFFT row):
{chr(10).join(_goals(times))}

Notes:
- One-off setup: {setups} (Toeplitz kernels; for torchkbnufft, `calc_toeplitz_kernel`).
- BART: command wall time minus {_ms(times["bart"]["setup"])} ms, the time of `bart ones` of the image's
  size (process start and file output; twice that for the normal, two commands). BART's time inside the
  process is not exposed; reading its input files is still included.
- Ours includes torch/numpy conversions and per-frame loops. The SENSE row maps one image per frame
  through 8 coil maps to the same k-space; its normal includes both coil-map products.
- Other users' load on this shared 2-core machine scatters single measurements by up to 2x, hence the
  best of interleaved rounds. With OpenMP's default (active) waiting and other load on the machine,
  FINUFFT next to torch in one process measured several times slower; `OMP_WAIT_POLICY=passive` avoids it.
"""


def main(argv: list[str] | None = None) -> int:
    args = benchmark_parser(__doc__).parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_nufft_") as tmp:
        folder = Path(tmp)
        make_data(folder)
        times, loads = measure(folder)
        refs, refs_sense = references(folder), references(folder, sense=True)
        errors, scales = {}, {}
        for tool in TOOLS:
            ref = refs_sense if tool.endswith("sense") else refs
            fits = {k: fitted_error(np.load(folder / f"{tool}_{k}.npy"), ref[k]) for k in ref}
            errors[tool] = {k: v[0] for k, v in fits.items()}
            scales[tool] = {k: v[1] for k, v in fits.items()}
    for tool in ("ours-finufft", "ours-finufft-sense", "ours-torchkbnufft"):
        print(tool, "fitted scales (1 expected):", {k: f"{abs(v):.5f}" for k, v in scales[tool].items()})
    publish("nufft", render(times, errors, loads), write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

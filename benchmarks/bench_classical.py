"""The classical models side by side on the bundled sample and the held-out flat phantoms.

zero-filled, sense and cs with their defaults (ESPIRiT maps estimated in each run), scored by
``recon evaluate`` against each file's ground truth, with the model's time per slice from run.json; the
same scoring as ``bench_imunne_quality.py`` (whose table adds the learned models).

    python benchmarks/bench_classical.py [--threads 2] [--no-write]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_imunne_quality import HELD_OUT_SEEDS, score  # noqa: E402
from benchmarks.harness import benchmark_parser, load_average  # noqa: E402
from benchmarks.report import machine_line, markdown_table, publish  # noqa: E402

MODELS = ("zero-filled", "sense", "cs")
SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "radial_cine.h5"


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__, threads=2)
    args = parser.parse_args(argv)
    from sample_data.make_sample_data import make_radial_cine

    load = load_average()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        held_out = [
            make_radial_cine(Path(tmp), overwrite=True, seed=s, snr=30.0, name=f"heldout_{s}.h5")[0]
            for s in HELD_OUT_SEEDS
        ]
        for model in MODELS:
            sample = score(model, [SAMPLE], Path(tmp) / model / "sample", "cpu", args.threads)[0]
            flat = score(model, held_out, Path(tmp) / model / "flat", "cpu", args.threads)
            rows.append(
                [
                    f"`{model}`",
                    f"{sample['ssim']:.4f}",
                    f"{sample['nrmse']:.4f}",
                    f"{sample['psnr']:.2f}",
                    f"{sample['seconds']:.2f}",
                    f"{statistics.fmean(r['ssim'] for r in flat):.4f}",
                    f"{statistics.fmean(r['nrmse'] for r in flat):.4f}",
                ]
            )
            print(rows[-1], flush=True)
    header = ["model", "sample SSIM", "sample NRMSE", "sample PSNR (dB)", "s per slice", "held-out SSIM",
              "held-out NRMSE"]  # fmt: skip
    text = "\n\n".join(
        [
            "## classical: zero-filled, sense and cs on the sample and the held-out flat phantoms",
            f"{machine_line()} Command: `python benchmarks/bench_classical.py --threads {args.threads}`. "
            f"Load average at the start: {load:.1f} on 2 cores (times are the model alone per slice, from "
            "run.json; they grow with the load, the quality does not).",
            "Defaults of each model, ESPIRiT maps estimated in the run; held-out: seeds "
            f"{', '.join(map(str, HELD_OUT_SEEDS))} at SNR 30 (the flat phantoms of the IMUNNE benchmarks), "
            "mean over the three.",
            markdown_table(header, rows),
        ]
    )
    publish("classical", text, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

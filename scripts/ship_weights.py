"""Turn a `recon train` run into a model's shipped default weights.

    python scripts/ship_weights.py RUN_DIR [--checkpoint best.pt] [--note TEXT]

Writes into the model's plugin package (``plugins/recon_plugins/<package>/``):

* ``weights.pt``: ``{"format": "recon-weights/1", "model": state_dict, "config": run config}`` (no optimiser
  state; loads with ``weights_only=True``; the run's model config travels with it, so ``recon reconstruct``
  rebuilds the network as it was trained);
* ``MODEL_CARD.md``: the run's model card, headed by how the weights were made and checked.

The plugin then names ``default_weights=("recon_plugins.<package>", "weights.pt")``.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent


def ship(
    run_dir: Path, checkpoint: str = "best.pt", note: str = "", inference: dict[str, object] | None = None
) -> Path:
    """Write weights.pt and MODEL_CARD.md of ``run_dir`` into its model's plugin package.

    ``inference`` replaces model settings that only affect reconstruction (e.g. an iteration count); the
    card lists them.
    """
    state = torch.load(run_dir / checkpoint, map_location="cpu", weights_only=True)
    config = state["config"]
    if inference:
        config = {**config, "model_config": {**config["model_config"], **inference}}
        extra = ", ".join(f"`{k}={v}`" for k, v in inference.items())
        note = (note + "\n\n" if note else "") + f"Reconstruction settings changed from the run's: {extra}."
    model = config["model"]
    package = REPO / "plugins" / "recon_plugins" / model.replace("-", "_")
    if not package.is_dir():
        raise SystemExit(f"{package}: no plugin package for model '{model}'")
    weights = package / "weights.pt"
    payload = {"format": "recon-weights/1", "model": state["model"], "config": config}
    torch.save(payload, weights)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    card = (run_dir / "MODEL_CARD.md").read_text()
    best = state.get("best") or {}
    header = [
        f"# Default weights of `{model}`",
        "",
        f"Shipped as `recon_plugins/{package.name}/weights.pt` (sha256 `{digest[:16]}...`), from "
        f"`{checkpoint}` of a `recon train` run at step {state.get('step')}"
        + (f" (best validation NRMSE {best['val_nrmse']:.4f} at step {best['step']})" if best else "")
        + ". `recon reconstruct SCAN --model "
        + model
        + "` uses them when no `--weights` is given. Their measured quality against the other models is in "
        'docs/benchmarks.md (section "IMUNNE quality").',
    ]
    if note:
        header += ["", note]
    (package / "MODEL_CARD.md").write_text(
        "\n".join(header) + "\n\n" + card.replace("# Model card", "## Run", 1)
    )
    return weights


def _value(text: str) -> object:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--checkpoint", default="best.pt")
    parser.add_argument("--note", default="")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a reconstruction setting to store with the weights (int, float or bool)",
    )
    args = parser.parse_args(argv)
    inference = {k: _value(v) for k, _, v in (item.partition("=") for item in args.set)}
    print(ship(args.run_dir, args.checkpoint, args.note, inference))
    return 0


if __name__ == "__main__":
    sys.exit(main())

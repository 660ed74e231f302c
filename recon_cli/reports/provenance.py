"""Where a reconstruction came from: the run record ``recon reconstruct`` wrote beside the image.

``recon reconstruct`` writes ``{stem}.h5`` / ``{stem}.nii.gz`` and ``{stem}.run.json`` (input, model,
resolved config, weights, versions, date) into one folder. The report copies the parts that say how the
image was made, and every seed found anywhere in the record, so a number can be traced to a model and
config. Without a run record, an ``.h5`` image's own ``model``/``config`` attributes are used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from recon_cli.errors import first_line

RECORD_KEYS = ("input", "model", "config", "weights", "coils", "device", "date", "versions")
_IMAGE_SUFFIXES = (".nii.gz", ".nii", ".h5", ".hdf5")


def run_record_path(image: Path | str) -> Path:
    """The run record that belongs to an image file: ``dir/stem.h5`` -> ``dir/stem.run.json``."""
    image = Path(image)
    name = image.name
    stem = next((name[: -len(s)] for s in _IMAGE_SUFFIXES if name.lower().endswith(s)), image.stem)
    return image.with_name(f"{stem}.run.json")


def read_provenance(image: Path | str) -> dict[str, Any] | None:
    """Model, config, weights, versions and seeds of the run that wrote ``image``, or None if unknown.

    Never raises for a broken record: the problem is reported under ``"error"`` instead, since the
    metrics do not depend on it.

    Returns:
        ``{"record": path or None, "source": ..., "model": ..., "config": {...}, "seeds": {...}, ...}``.
    """
    image = Path(image)
    record = run_record_path(image)
    if record.is_file():
        try:
            data = json.loads(record.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            return {"record": str(record), "source": "run record", "error": f"unreadable: {first_line(exc)}"}
        if not isinstance(data, dict):
            return {"record": str(record), "source": "run record", "error": "not a JSON object"}
        found = {key: data[key] for key in RECORD_KEYS if key in data}
        return {"record": str(record), "source": "run record", **found, "seeds": find_seeds(data)}
    if image.suffix.lower() in (".h5", ".hdf5"):
        return _h5_attributes(image)
    return None


def find_seeds(value: Any, prefix: str = "") -> dict[str, Any]:
    """Every entry whose key contains "seed", by dotted path: ``{"config.seed": 0, "sampling.seed": 3}``."""
    found: dict[str, Any] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if "seed" in str(key).lower() and not isinstance(item, dict):
                found[path] = item
            else:
                found.update(find_seeds(item, path))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.update(find_seeds(item, f"{prefix}[{index}]"))
    return found


def _h5_attributes(image: Path) -> dict[str, Any] | None:
    import h5py

    try:
        with h5py.File(image, "r") as f:
            attrs = {key: f.attrs[key] for key in ("model", "config") if key in f.attrs}
    except OSError:
        return None
    if not attrs:
        return None
    found: dict[str, Any] = {}
    for key, value in attrs.items():
        text = value.decode() if isinstance(value, bytes) else str(value)
        try:
            found[key] = json.loads(text) if key == "config" else text
        except ValueError:
            found[key] = text
    return {"record": None, "source": "image file attributes", **found, "seeds": find_seeds(found)}

"""Write benchmark results into docs/benchmarks.md, one marked section per benchmark.

Each benchmark script owns a section between ``<!-- begin:NAME -->`` and ``<!-- end:NAME -->``; rerunning
it replaces only that section, so the file collects the latest run of every benchmark.
"""

from __future__ import annotations

import platform
import re
import time
from pathlib import Path

import torch

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
_TITLE = "# Benchmarks\n\nFigures from `benchmarks/` scripts; each section says how it was produced.\n"


def machine_line() -> str:
    """One line naming the machine, threads and date of a run."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"Run {time.strftime('%Y-%m-%d')} on {platform.machine()} with {torch.get_num_threads()} "
        f"CPU threads, {gpu}, torch {torch.__version__}."
    )


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def update_section(name: str, markdown: str, doc: Path = DOC) -> Path:
    """Replace (or append) the section ``name`` of docs/benchmarks.md with ``markdown``."""
    text = doc.read_text() if doc.exists() else _TITLE
    block = f"<!-- begin:{name} -->\n{markdown.strip()}\n<!-- end:{name} -->"
    pattern = re.compile(rf"<!-- begin:{re.escape(name)} -->.*?<!-- end:{re.escape(name)} -->", re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
    return doc


def publish(name: str, markdown: str, *, write: bool = True) -> None:
    """Print a benchmark's section and, unless ``write`` is False, store it in docs/benchmarks.md."""
    print(markdown)
    if write:
        print(f"wrote {update_section(name, markdown)}")

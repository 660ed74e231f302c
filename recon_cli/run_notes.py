"""The console notes of one reconstruction: a solver that did not converge, a coil compression."""

from __future__ import annotations

from typing import Any


def unconverged_notes(model: str, config: Any, solver_log: list[dict[str, Any]]) -> list[str]:
    """One line for each slice whose solver stopped at its maximum before reaching its tolerance; with
    tolerance 0 (a fixed-depth model, no convergence test) one line saying so."""
    tol = getattr(config, "tol", None)
    if tol == 0 and solver_log:
        counts = sorted({int(entry["iterations"]) for entry in solver_log})
        return [
            f"{model} ran a fixed {'/'.join(map(str, counts))} iterations per slice "
            "(tolerance 0: fixed depth, no convergence test)"
        ]
    return [
        f"{model} stopped at its maximum of {entry['iterations']} iterations on slice "
        f"{entry['slice']} (relative change {entry['relative_change']:.2g}, tolerance {tol:g})"
        for entry in solver_log
        if entry.get("converged") is False
    ]


def compression_note(model: str, record: dict[str, float | int]) -> str:
    """The console line saying what ``model_compression`` did."""
    return (
        f"{model} reconstructed {record['coils']} coils compressed to {record['virtual_coils']} virtual "
        f"coils ({100 * record['energy']:.2f}% of the k-space energy; --set virtual_coils=0: all coils)"
    )

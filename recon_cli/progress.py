"""Progress inside one reconstruction: iterative solvers say how far they are; a caller may listen.

Solvers call ``iteration(done, total)`` once per iteration. Nothing happens unless a caller installed a
listener with ``listening(callback)`` (the CLI does, to show iteration, elapsed time and an estimate).
The listener lives in a context variable, so threads and nested calls do not see each other's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

Listener = Callable[[int, int], None]

_listener: ContextVar[Listener | None] = ContextVar("recon_progress_listener", default=None)


def iteration(done: int, total: int) -> None:
    """Report that ``done`` of at most ``total`` iterations have run."""
    listener = _listener.get()
    if listener is not None:
        listener(done, total)


@contextlib.contextmanager
def listening(callback: Listener | None) -> Iterator[None]:
    """Send the iterations reported inside this block to ``callback`` (None: to nobody)."""
    token = _listener.set(callback)
    try:
        yield
    finally:
        _listener.reset(token)

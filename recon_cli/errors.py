"""Error types. Library code raises these; only the CLI turns them into exit codes."""

from __future__ import annotations


class ReconError(Exception):
    """Base class for errors a user can act on. ``exit_code`` follows DESIGN.md section 5."""

    exit_code = 1


class UsageError(ReconError):
    """Bad combination of options or arguments."""

    exit_code = 2


class InputDataError(ReconError):
    """An input file is missing, unreadable or holds data recon cannot use."""

    exit_code = 3

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class OutputExistsError(ReconError):
    """An output would overwrite an existing file without ``--overwrite``."""

    exit_code = 2

    def __init__(self, path: object) -> None:
        self.path = str(path)
        super().__init__(f"{self.path}: already exists (use --overwrite to replace it)")


class ModelError(ReconError):
    """Unknown model, bad model config, or a model that cannot handle this data."""

    exit_code = 4


class OutOfMemoryError(ReconError):
    """Ran out of host or device memory."""

    exit_code = 5


class OutputWriteError(ReconError):
    """An output could not be written: no space left, no permission, a file where a folder must go."""

    exit_code = 6

    def __init__(self, path: object, error: OSError) -> None:
        self.path = str(path)
        reason = error.strerror or type(error).__name__
        where = f" ({error.filename})" if error.filename and str(error.filename) != self.path else ""
        super().__init__(f"{self.path}: cannot write output: {reason}{where}; nothing was written")


def first_line(exc: BaseException, limit: int | None = 160) -> str:
    """The first line of ``exc``'s message, cut to ``limit`` characters (None: whole); its type's name
    when the message is empty (the one form every error message quotes an exception in)."""
    lines = str(exc).splitlines()
    return lines[0][:limit] if lines else type(exc).__name__


def memory_error(exc: BaseException, prefix: str) -> OutOfMemoryError | None:
    """The OutOfMemoryError for an allocation failure (numpy, torch on CPU or CUDA), else None.

    The message names the size that was asked for where the library says it, and the knobs to turn.
    """
    import re

    text = str(exc)
    is_oom = isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError"
    if not is_oom and not (isinstance(exc, RuntimeError) and "can't allocate memory" in text):
        return None
    size = ""
    match = re.search(r"allocate (\d+) bytes", text) or re.search(r"allocate ([\d.]+ ?[KMGT]i?B)", text)
    if match:
        amount = match.group(1)
        size = f" (needed {int(amount) / 2**30:.2f} GiB more)" if amount.isdigit() else f" (needed {amount})"
    return OutOfMemoryError(
        f"{prefix}{size}; try --device cpu, a smaller model config, or fewer frames/coils (coil compression)"
    )

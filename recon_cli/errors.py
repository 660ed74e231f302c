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

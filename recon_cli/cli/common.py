"""Pieces every command shares: error handling, input expansion, consoles, option parsing."""

from __future__ import annotations

import dataclasses
import functools
import glob
import os
import traceback
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from recon_cli.errors import ReconError, UsageError, first_line, memory_error

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

EXIT_INTERNAL = 1
EXIT_OOM = 5

# options several commands declare alike (one copy of their flag and help)
DeviceOption = Annotated[str, typer.Option("--device", help="auto, cpu or cuda:N.")]
OverwriteOutputsOption = Annotated[bool, typer.Option("--overwrite", help="Replace existing outputs.")]


def debug_enabled() -> bool:
    return os.environ.get("RECON_DEBUG", "") not in ("", "0")


def fail(message: str, code: int) -> typer.Exit:
    """Print one error line to stderr and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def handle_errors(func: F) -> F:
    """Turn library errors into one line on stderr and the exit codes of DESIGN.md section 5."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not debug_enabled():
            warnings.showwarning = show_warning_line
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except ReconError as exc:
            if debug_enabled():
                traceback.print_exc()
            raise fail(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except Exception as exc:  # anything else is a bug in recon: say so, briefly
            oom = memory_error(exc, "out of memory")
            if oom is not None:
                raise fail(str(oom), EXIT_OOM) from None
            if debug_enabled():
                traceback.print_exc()
            line = first_line(exc, None) if str(exc).splitlines() else ""
            raise fail(
                f"internal error ({type(exc).__name__}: {line}); rerun with --debug for details",
                EXIT_INTERNAL,
            ) from None

    return wrapper  # type: ignore[return-value]


def show_warning_line(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` for users: one line, "warning: message", no source file or code line."""
    text = " ".join(str(message).split())
    err_console.print(f"[yellow]warning:[/] {escape(text)}", highlight=False, soft_wrap=True)


def expand_inputs(patterns: Iterable[str]) -> list[Path]:
    """Paths and globs (quoted globs are expanded here) to a list of paths, order kept, duplicates dropped.

    A pattern that matches nothing is kept as given, so the reader reports it as missing.
    """
    paths: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else []
        for item in matches or [pattern]:
            path = Path(item)
            if path not in paths:
                paths.append(path)
    return paths


def parse_formats(text: str, allowed: Iterable[str]) -> tuple[str, ...]:
    """ "nifti,dicom" -> ("nifti", "dicom"), checked against ``allowed``."""
    allowed = tuple(allowed)
    formats = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    bad = [f for f in formats if f not in allowed]
    if bad or not formats:
        raise UsageError(
            f"--format: unknown format(s) {', '.join(bad) or '(none)'}; choose from {', '.join(allowed)}"
        )
    return formats


def parse_settings(config_file: Path | None, settings: list[str] | None) -> dict[str, Any]:
    """Model config overrides: YAML file first, then ``--set key=value`` pairs (CLI wins)."""
    values: dict[str, Any] = {}
    if config_file is not None:
        import yaml

        from recon_cli.errors import InputDataError

        if not config_file.is_file():
            raise InputDataError(config_file, "no such config file")
        try:
            loaded = yaml.safe_load(config_file.read_text()) or {}
        except yaml.YAMLError as exc:
            raise InputDataError(config_file, f"not valid YAML: {first_line(exc, None)}") from None
        if not isinstance(loaded, dict):
            raise InputDataError(config_file, "config must be a mapping of key: value")
        values.update(loaded)
    for item in settings or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set expects key=value, got '{item}'")
        values[key.strip().replace("-", "_")] = value.strip()
    return values


def field_defaults(cls: type[Any]) -> dict[str, Any]:
    """The defaults of dataclass ``cls``'s fields, by name: the library's one copy, for options' defaults.

    For requests with required fields (nothing to make ``cls()`` from); fields without a default are left
    out.
    """
    defaults: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        if item.default is not dataclasses.MISSING:
            defaults[item.name] = item.default
        elif item.default_factory is not dataclasses.MISSING:
            defaults[item.name] = item.default_factory()
    return defaults


def parse_size(text: str, option: str) -> tuple[int, int]:
    """Parse ``H,W`` (or ``HxW``) into two positive ints; ``UsageError`` naming ``option`` otherwise."""
    parts = text.lower().replace("x", ",").split(",")
    try:
        size = tuple(int(p) for p in parts)
    except ValueError:
        size = ()
    if len(size) != 2 or min(size) < 1:
        raise UsageError(f"{option} expects two positive integers H,W; got '{text}'")
    return size[0], size[1]

"""Atomic output: write to a temporary file beside the target, then rename over it.

Nothing on disk is replaced unless the caller said ``overwrite=True``; an interrupted write leaves the
old file (or no file) in place, never a half-written one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from recon_cli.errors import OutputExistsError


def check_writable(path: Path, overwrite: bool) -> None:
    """Raise ``OutputExistsError`` if ``path`` exists and ``overwrite`` is False."""
    if path.exists() and not overwrite:
        raise OutputExistsError(path)


@contextlib.contextmanager
def atomic_path(path: Path | str, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it to ``path``.

    The temporary name keeps the target's suffixes (so libraries that look at the extension, such as
    nibabel's ``.nii.gz``, behave) and starts with a dot so shell globs skip it.
    """
    path = Path(path)
    check_writable(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; outputs get the usual permissions
    try:
        yield tmp
        if not overwrite and path.exists():  # appeared while we were writing
            raise OutputExistsError(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()

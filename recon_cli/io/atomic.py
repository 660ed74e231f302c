"""Atomic output: write to a temporary file (or folder) beside the target, then rename it into place.

Nothing on disk is replaced unless the caller said ``overwrite=True``, and no input is ever replaced
(``refuse_inputs``); an interrupted write leaves the old file or folder (or none) in place, never a
half-written one, and ``atomic_folder`` makes a whole set of outputs appear in one step.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import glob
import os
import secrets
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from recon_cli.errors import OutputExistsError, UsageError


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


def refuse_inputs(outputs: Iterable[Path | str], inputs: Iterable[Path | str | None]) -> None:
    """Raise ``UsageError`` (exit 2) if writing any of ``outputs`` could replace or delete an input.

    Whatever the flags: an output that is an input (same path once symlinks are followed, or the same
    file through a hard link) or a folder that holds an input is refused before anything is read.
    """
    sources = [Path(p) for p in inputs if p is not None]
    for out in map(Path, outputs):
        target = _resolved(out)
        for source in sources:
            real = _resolved(source)
            if target == real or _same_file(out, source) or target in real.parents:
                raise UsageError(
                    f"{out}: this output would replace the input {source}; choose another --out "
                    "(inputs are never overwritten, whatever the flags)"
                )


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop: compare the path as given
        return path.absolute()


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


# --- one folder of outputs that appears whole -------------------------------------------------------------

_PARTIAL = ".recon-partial"
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2


@contextlib.contextmanager
def atomic_folder(folder: Path | str, overwrite: bool = False) -> Iterator[Path]:
    """Yield a hidden temporary folder beside ``folder``; on success it becomes ``folder`` in one step.

    Everything written into the yielded folder appears together under ``folder``, or nothing does: a
    fresh folder is renamed into place; with ``overwrite`` an existing folder is swapped with the new one
    by one atomic exchange (Linux ``renameat2``), so a reader — or a kill -9 at any moment — sees the
    complete old set or the complete new set, never a mix. Where the exchange is not available the old
    folder is first moved aside under a hidden name that the next run puts back if it was left there.
    The temporary names carry this host and process id; the next run removes those whose process is gone.

    Raises:
        OutputExistsError: ``folder`` exists (as anything but an empty folder) and ``overwrite`` is False.
        UsageError: ``folder`` exists and is not a folder.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder}: exists and is not a folder; remove it or choose another --out")
    if not overwrite and occupied(folder):
        raise OutputExistsError(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    clean_partial(folder)
    tmp = folder.parent / f".{folder.name}.{_owner_tag()}.{secrets.token_hex(4)}{_PARTIAL}"
    tmp.mkdir()
    try:
        yield tmp
        _swap_in(tmp, folder, overwrite)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def clean_partial(folder: Path | str) -> list[Path]:
    """Remove what killed runs left beside ``folder``; put back an old set a killed swap left aside.

    Only entries made on this host by a process that no longer runs are touched. Returns what was removed.
    """
    folder = Path(folder)
    removed: list[Path] = []
    host = _host()
    for entry in folder.parent.glob(f".{glob.escape(folder.name)}.*{_PARTIAL}*"):
        parts = entry.name[len(folder.name) + 2 :].split(".")
        owner = parts[0].rsplit("-", 1) if parts else []
        if len(owner) != 2 or owner[0] != host or not owner[1].isdigit() or _alive(int(owner[1])):
            continue
        if entry.name.endswith(f"{_PARTIAL}-old") and not folder.exists():
            os.rename(entry, folder)  # a swap was killed between its two renames: the old set comes back
            continue
        shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _host() -> str:
    return socket.gethostname().replace(".", "_") or "host"


def _owner_tag() -> str:
    return f"{_host()}-{os.getpid()}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def occupied(folder: Path) -> bool:
    """Whether ``folder`` exists as anything but an empty directory."""
    return folder.exists() and (not folder.is_dir() or any(folder.iterdir()))


def _swap_in(tmp: Path, folder: Path, overwrite: bool) -> None:
    if not occupied(folder):
        if folder.is_dir():
            folder.rmdir()  # an empty folder counts as absent
        if _renameat2(tmp, folder, _RENAME_NOREPLACE) is None:
            try:
                os.rename(tmp, folder)
            except OSError:
                raise OutputExistsError(folder) from None
        return
    if not overwrite:
        raise OutputExistsError(folder)
    if _renameat2(tmp, folder, _RENAME_EXCHANGE) is None:
        aside = tmp.with_name(tmp.name + "-old")
        os.rename(folder, aside)
        os.rename(tmp, folder)
        shutil.rmtree(aside, ignore_errors=True)
        return
    shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old set


def _renameat2(src: Path, dst: Path, flags: int) -> bool | None:
    """Linux renameat2(src, dst, flags): True on success, None where unsupported; errors raise.

    Raises:
        OutputExistsError: RENAME_NOREPLACE and ``dst`` appeared meanwhile.
    """
    func = _libc_renameat2()
    if func is None:
        return None
    at_fdcwd = -100
    if func(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):  # kernel or filesystem without it
        return None
    if err in (errno.EEXIST, errno.ENOTEMPTY):
        raise OutputExistsError(dst)
    raise OSError(err, os.strerror(err), str(dst))


@functools.cache
def _libc_renameat2() -> Any:
    if sys.platform != "linux":
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.renameat2
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func

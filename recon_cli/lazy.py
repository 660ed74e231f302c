"""Packages whose names load on first use, so importing them (or a light submodule) imports no torch."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package``: ``name`` comes from ``package.<exports[name]>``.

    The value is stored in the package's namespace once loaded, so later look-ups are plain attribute
    reads, and a submodule that shares the name (``recon_cli.sampling.spiral`` binds itself to the
    package's ``spiral`` when imported) cannot shadow the function from then on.

    Usage, in a package's ``__init__.py``: ``__getattr__ = lazy_exports(__name__, {"name": "submodule"})``.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__

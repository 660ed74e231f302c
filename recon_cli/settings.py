"""Typed settings from loose input: a value (often text from the command line or YAML) to its type, and
a config dataclass from its defaults plus such values (``resolve_settings``, the one resolver that model
configs and the training sections share)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def coerce_setting(value: Any, default: Any) -> Any:
    """Convert ``value`` to the type of ``default``.

    Booleans accept 1/0, true/false, yes/no, on/off; tuples and lists accept comma-separated text and
    convert items to the type of the default's first item; ints accept "1e3" but not 2.5. A default of
    None accepts anything. Floats must be finite (NaN and infinity are refused).

    Raises:
        ValueError: the value cannot be read as that type (callers name the setting in their error).
    """
    kind = type(default)
    if default is None or (
        isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
    ):
        if kind is float and not math.isfinite(value):
            raise ValueError(value)
        return value
    if kind is bool:
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ValueError(value)
    if kind in (tuple, list):
        items = value if isinstance(value, list | tuple) else str(value).split(",")
        inner = type(default[0]) if default else str
        return kind(coerce_setting(v.strip() if isinstance(v, str) else v, inner()) for v in items)
    if kind is int:
        number = float(value)
        if not number.is_integer():
            raise ValueError(value)
        return int(number)
    try:
        result = kind(value)
    except TypeError as exc:
        raise ValueError(value) from exc
    if kind is float and not math.isfinite(result):
        raise ValueError(value)  # NaN and infinity are never meaningful settings
    return result


def expected(default: Any) -> str:
    """What a setting of this default's type accepts, for error messages."""
    return "a finite number" if isinstance(default, float) else type(default).__name__


def resolve_settings(
    cls: type[Any],
    overrides: Mapping[str, Any] | None,
    *,
    error: Callable[[str], Exception],
    unknown: str,
    key: Callable[[str], str],
) -> Any:
    """``cls()`` (a dataclass: its defaults) with ``overrides`` converted to each field's default's type.

    Args:
        cls: The config dataclass; every field has a default.
        overrides: Field name -> value (text or typed), e.g. from ``--config`` and ``--set``.
        error: Makes the exception to raise from a message (``ModelError``, ``UsageError``, ...).
        unknown: What the keys are called, plural, in "unknown {unknown} a, b; known: ...".
        key: How a key is named in "{key(name)} expects int, got 'x'".

    Raises:
        ``error(...)``: unknown keys (all of them named, with the known ones) or a value that does not
        convert; anything ``cls``'s own checks (``__post_init__``) raise.
    """
    overrides = dict(overrides or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown_keys = sorted(set(overrides) - names)
    if unknown_keys:
        raise error(f"unknown {unknown} {', '.join(unknown_keys)}; known: {', '.join(sorted(names))}")
    defaults = cls()
    values = {}
    for name, value in overrides.items():
        default = getattr(defaults, name)
        try:
            values[name] = coerce_setting(value, default)
        except ValueError:
            raise error(f"{key(name)} expects {expected(default)}, got {value!r}") from None
    return dataclasses.replace(defaults, **values)

"""Typed settings from loose input: a value (often text from the command line or YAML) to its type."""

from __future__ import annotations

import math
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

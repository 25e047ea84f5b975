"""Natural order of factor codes: ``xyp_var1, xyp_var2, xyp_var10`` (not ``1, 10, 2``)."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["natural_key", "natural_order"]

_DIGITS = re.compile(r"([0-9]+)")
_ORDERS: dict[tuple[str, ...], tuple[str, ...] | None] = {}


def natural_key(code: str) -> tuple[tuple[int | str, ...], str]:
    """Sort key: runs of digits compare as numbers (``m3`` < ``m12``), the rest as text."""
    parts = _DIGITS.split(code)
    # split() alternates text, digits, text …: odd places are digits, so an int is only ever
    # compared with an int. The code itself breaks ties (``a01`` vs ``a1``).
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), code


def natural_order(codes: Iterable[str]) -> tuple[str, ...] | None:
    """``codes`` in natural order, or None when they already are (memoised per key tuple: a
    provider sends the same keys in the same order answer after answer)."""
    keys = tuple(codes)
    try:
        return _ORDERS[keys]
    except KeyError:
        pass
    ordered = tuple(sorted(keys, key=natural_key))
    found = None if ordered == keys else ordered
    if len(_ORDERS) >= 64:
        _ORDERS.clear()
    _ORDERS[keys] = found
    return found

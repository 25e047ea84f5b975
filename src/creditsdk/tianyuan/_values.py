"""The JRZQ9E2A value types: [`Range`][] (a decoded bucket) and [`Factor`][] (one factor).

They depend on nothing else in the package, so the catalog and decoder (`factors`) and the
report (`models`) both build on them and the imports run one way:
``models → factors → _values``.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import attrs

__all__ = [
    "BOUNDS",
    "FACTOR_STATUSES",
    "Factor",
    "FactorStatus",
    "FactorValue",
    "Number",
    "Range",
]

Number = int | float
FactorStatus = Literal["decoded", "no_record", "not_hit", "no_table", "unrecognized", "absent"]
FACTOR_STATUSES: frozenset[str] = frozenset(
    {"decoded", "no_record", "not_hit", "no_table", "unrecognized", "absent"}
)
BOUNDS = ("()", "[)", "(]", "[]")


def _fmt(x: Number | None, inf: str) -> str:
    if x is None:
        return inf
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


@attrs.frozen(slots=True)
class Range:
    """An interval a bucket code stands for, from a bucket table.

    ``low``/``high`` are ``None`` when unbounded; ``inclusivity`` is one of ``"()"``, ``"[)"``,
    ``"(]"``, ``"[]"`` (which ends are included); ``unit`` e.g. ``"institutions"``, ``"yuan"``.
    """

    low: Number | None
    high: Number | None
    inclusivity: str = "[)"
    unit: str | None = None
    label: str = attrs.field(default="")

    def __attrs_post_init__(self) -> None:
        if not self.label:
            text = (
                f"{self.inclusivity[0]}{_fmt(self.low, '-∞')}, "
                f"{_fmt(self.high, '+∞')}{self.inclusivity[1]}"
            )
            object.__setattr__(self, "label", text)

    def __contains__(self, x: object) -> bool:
        if not isinstance(x, (int, float)) or isinstance(x, bool) or math.isnan(x):
            return False
        if self.low is not None and (
            x < self.low or (x == self.low and self.inclusivity[0] == "(")
        ):
            return False
        return not (
            self.high is not None
            and (x > self.high or (x == self.high and self.inclusivity[1] == ")"))
        )

    def __str__(self) -> str:
        return self.label + (f" {self.unit}" if self.unit else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "low": self.low,
            "high": self.high,
            "inclusivity": self.inclusivity,
            "unit": self.unit,
            "label": self.label,
        }


FactorValue = Range | bool | float | int | None


@attrs.frozen(slots=True)
class Factor:
    """One JRZQ9E2A factor: the raw string as received and what it decodes to.

    ``label`` is the Chinese label (``None`` for a key the catalog does not know), ``label_en``
    the English one, ``kind`` the catalog kind (``"unknown"`` for uncatalogued keys),
    ``provenance`` where the catalog entry comes from (``"seed-002"``, ``"protocols"`` …).
    """

    code: str
    raw: str | None
    value: FactorValue
    status: FactorStatus
    label: str | None = None
    label_en: str | None = None
    kind: str = "unknown"
    provenance: str | None = None

    @property
    def has_record(self) -> bool:
        """True unless the provider sent ``""`` (or nothing) for this factor."""
        return self.status not in ("no_record", "absent")

    def display(self) -> str:
        """Human text for the value: the interval, flag, score, or why there is none."""
        if self.status == "decoded":
            if isinstance(self.value, bool):
                return "yes" if self.value else "no"
            return str(self.value)
        if self.status == "no_table":
            return f"code {self.raw} (no table)"
        if self.status == "unrecognized":
            return f"{self.raw!r} (unrecognized)"
        return self.status.replace("_", " ")

    def to_dict(self) -> dict[str, Any]:
        value: Any = self.value.to_dict() if isinstance(self.value, Range) else self.value
        return {
            "code": self.code,
            "raw": self.raw,
            "value": value,
            "status": self.status,
            "label": self.label,
            "label_en": self.label_en,
            "kind": self.kind,
            "provenance": self.provenance,
        }

"""What the evaluation knows about a factor (no numpy here: importable without the extra)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["Bucket", "FactorSpec"]


@attrs.frozen(slots=True)
class Bucket:
    """One bucket of a provider's table, as listed in the run's ``schema.json``."""

    code: int
    low: float | None = None
    high: float | None = None
    low_closed: bool = False
    high_closed: bool = False
    label: str = ""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Bucket:
        def end(x: Any) -> float | None:
            return None if x is None else float(x)

        return cls(
            code=int(d["code"]),
            low=end(d.get("low")),
            high=end(d.get("high")),
            low_closed=bool(d.get("low_closed", False)),
            high_closed=bool(d.get("high_closed", False)),
            label=str(d.get("label") or ""),
        )


@attrs.frozen(slots=True)
class FactorSpec:
    """What the core needs to know about one factor.

    ``column`` holds its ordinal value: the bucket code (bucket kinds), 0/1 (``flag``) or a number
    (score / value kinds); null = no record. ``buckets`` is the provider's table (may be empty).
    """

    name: str
    column: str
    kind: str
    code: str = ""
    source: str = ""
    label: str = ""
    buckets: tuple[Bucket, ...] = ()
    core: bool = False

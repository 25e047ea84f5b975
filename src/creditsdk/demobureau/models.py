"""The demo bureau's answer."""

from __future__ import annotations

import attrs

__all__ = ["DemoRange", "DemoScoreResult"]


@attrs.frozen
class DemoRange:
    low: int | None
    high: int | None


@attrs.frozen(repr=False)
class DemoScoreResult:
    transaction_id: str
    score: int | None
    institutions: DemoRange | None
    overdue: bool | None

    @property
    def has_data(self) -> bool:
        return self.score is not None

    def __repr__(self) -> str:
        return f"DemoScoreResult(transaction_id={self.transaction_id!r}, score={self.score!r})"

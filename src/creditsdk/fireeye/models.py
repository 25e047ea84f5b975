"""FireEye results: what a transaction check and a model score tell you."""

from __future__ import annotations

import attrs

__all__ = ["FireEyeScore", "TransactionCheck"]

#: ``TransactionCheck.reason`` values.
REASON_MISMATCH = "details do not match"
REASON_NO_SUCH_TRANSACTION = "no such transaction"


@attrs.frozen(slots=True)
class TransactionCheck:
    """Answer of a transaction authentication (交易认证).

    ``matched`` is True when UnionPay found the transaction and it agrees with what was sent.
    Otherwise ``reason`` says why: ``"details do not match"`` (``data`` 0) or
    ``"no such transaction"`` (code 0003). ``code`` and ``message`` are the provider's own
    (``"0000"``/``"Success"``, ``"0003"``/…). ``card`` is the card number, masked.
    """

    matched: bool
    code: str
    message: str
    reason: str | None = None
    card: str = ""

    @property
    def transaction_found(self) -> bool:
        """False only when UnionPay said it has no such transaction (0003)."""
        return self.reason != REASON_NO_SUCH_TRANSACTION

    def to_dict(self) -> dict[str, str | bool | None]:
        return {
            "matched": self.matched,
            "reason": self.reason,
            "code": self.code,
            "message": self.message,
            "card": self.card,
        }

    def __repr__(self) -> str:
        why = "" if self.reason is None else f", reason={self.reason!r}"
        return (
            f"TransactionCheck(matched={self.matched}{why}, code={self.code!r}, card={self.card!r})"
        )


@attrs.frozen(slots=True)
class FireEyeScore:
    """Answer of the UnionPay model score (模型评分): ``score`` is an int in 300..1000, or
    ``None`` when the card is not hit (the provider answered ``-1``; see `hit`)."""

    score: int | None
    code: str = "0000"
    message: str = "Success"
    card: str = ""

    @property
    def hit(self) -> bool:
        """False when the provider has no score for this card (answered ``-1``)."""
        return self.score is not None

    def to_dict(self) -> dict[str, str | int | None]:
        return {"score": self.score, "code": self.code, "message": self.message, "card": self.card}

    def __repr__(self) -> str:
        return f"FireEyeScore(score={self.score}, card={self.card!r})"

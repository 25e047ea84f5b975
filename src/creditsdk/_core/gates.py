"""Gates: rules a call must pass before each attempt, and the one typed outcome they are told.

A gate is synchronous and does no I/O, so one gate serves the sync and the async clients: the
call generator asks it before every attempt, and it answers with seconds to wait first (``0.0``:
go now; the executor does the waiting) or refuses by raising a
[`CreditSDKError`][creditsdk.errors.CreditSDKError] — nothing is sent then. Once the call is
over, every gate that admitted an attempt is told its `Outcome`, exactly once.
"""

from __future__ import annotations

import enum
from typing import Protocol

import attrs

from ..errors import CreditSDKError

__all__ = ["Gate", "Outcome", "OutcomeKind"]


class OutcomeKind(enum.Enum):
    """How a call ended, as far as billing is concerned."""

    #: The provider answered: a result, or an error it gave (``Outcome.error``).
    ANSWERED = "answered"
    #: Nothing the provider could have processed: refused before sending, could not connect, a
    #: gateway's 429/503, a proxy's error page.
    NOT_SENT = "not_sent"
    #: The request may have been processed (and billed) without a usable answer.
    MAYBE_BILLED = "maybe_billed"
    #: Cancelled (task cancel, Ctrl-C) while under way.
    CANCELLED = "cancelled"


@attrs.frozen
class Outcome:
    """The one outcome of a call: ``result`` when answered without error, else ``error``
    (``None`` for a cancellation). ``attempts`` counts the attempts the gates admitted."""

    kind: OutcomeKind
    attempts: int
    result: object = attrs.field(default=None, repr=False)
    error: CreditSDKError | None = None
    sent: bool = False  # did any attempt start sending?


class Gate(Protocol):
    """Asked before each attempt of a call, told the outcome once."""

    def admit(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt`` (1-based) goes out, or raise a
        ``CreditSDKError`` to refuse it (nothing is sent; the call ends with that error)."""

    def settle(self, outcome: Outcome) -> None:
        """The call is over. Called once, only if `admit` admitted at least one attempt."""

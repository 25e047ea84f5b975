"""CardGuard: keeps a client from getting a card locked by UnionPay's check limits.

UnionPay locks a card after 3 failed transaction checks in a row, or more than 10 checks in a
day -- UnionPay's day, in Beijing time (UTC+8), whatever this machine's zone: a UTC host would
otherwise start a new day at 08:00 Beijing. The guard counts, per card and per Beijing day, in
memory, and refuses (before any I/O) any
check that could trigger a lock. Checks still in flight count as possible failures, so
concurrent calls cannot overshoot. Thread-safe; shared by the sync and async clients.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import threading
from collections.abc import Callable

import attrs

from .._core.clock import beijing_date, utc_now
from .._core.gates import Outcome, OutcomeKind
from .._core.redact import mask_card
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidInputError,
    ProductNotEnabledError,
)

__all__ = ["CardGate", "CardGuard", "CardGuardError"]


class CardGuardError(InvalidInputError):
    """The card guard refused a transaction check to keep the card from being locked.

    ``card`` is the masked card number; ``limit`` is ``"daily"`` or ``"consecutive_failures"``.
    Raised before any I/O (``field="card_no"``, ``rule="card_guard"``): nothing was sent or billed.
    """

    def __init__(self, message: str, *, card: str, limit: str) -> None:
        super().__init__(message, field="card_no", rule="card_guard", provider="fireeye")
        self.card = card
        self.limit = limit


def _at_least(minimum: int) -> Callable[[object, attrs.Attribute[int], int], None]:
    def check(_inst: object, attr: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigurationError(
                f"CardGuard.{attr.name} must be an integer >= {minimum}, not {value!r}"
            )

    return check


@attrs.define
class _CardDay:
    day: _dt.date
    checks: int = 0  # checks sent (or in flight) today
    failures: int = 0  # failed checks in a row, settled ones
    in_flight: int = 0


class _Ticket:
    """One admitted check; settle it exactly once."""

    __slots__ = ("_done", "_guard", "_key")

    def __init__(self, guard: CardGuard, key: str) -> None:
        self._guard = guard
        self._key = key
        self._done = False

    def answered(self, matched: bool) -> None:
        """The provider checked: a match resets the failure run, anything else extends it."""
        self._settle("matched" if matched else "failed")

    def not_checked(self) -> None:
        """Nothing reached the check (refused credentials or product, could not connect)."""
        self._settle("not_checked")

    def unknown(self) -> None:
        """No usable answer, but the check may have happened: counts for the day only."""
        self._settle("unknown")

    def _settle(self, outcome: str) -> None:
        if not self._done:
            self._done = True
            self._guard._settle(self._key, outcome)


@attrs.define(eq=False)
class CardGuard:
    """Client-side limits per card, matching UnionPay's lock rules.

    ``max_per_day``: checks of one card UnionPay tolerates per day (it locks on the next one);
    the guard refuses check number ``max_per_day + 1`` of a day.
    ``max_consecutive_failures``: UnionPay locks the card when this many checks in a row fail;
    the guard refuses a check that, should it fail, would complete such a run (so with 3 it
    allows two failures in a row, then refuses). A matched check resets the run. Both counters
    start afresh each day in Beijing time (UTC+8), UnionPay's day, on any host.

    ``clock()`` gives the time (inject one in tests): an aware datetime in any zone, a naive
    one read as UTC, or a ``date`` taken as Beijing's date.
    """

    max_per_day: int = attrs.field(default=10, validator=_at_least(1))
    max_consecutive_failures: int = attrs.field(default=3, validator=_at_least(2))
    clock: Callable[[], _dt.datetime | _dt.date] = attrs.field(default=utc_now, repr=False)
    _cards: dict[str, _CardDay] = attrs.field(factory=dict, init=False, repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False, repr=False)

    @staticmethod
    def _key(card_no: str) -> str:
        # Only a digest is kept in memory, never the card number.
        # UTF-8, not ASCII: the guard must never raise UnicodeEncodeError, whatever it is given
        # (the clients hand it normalised ASCII cards; direct callers may not).
        return hashlib.sha256(card_no.encode("utf-8", "surrogatepass")).hexdigest()

    def _today(self) -> _dt.date:
        return beijing_date(self.clock())

    def _entry(self, key: str, today: _dt.date) -> _CardDay:
        entry = self._cards.get(key)
        if entry is None or entry.day != today:
            in_flight = entry.in_flight if entry is not None else 0
            entry = _CardDay(today, checks=in_flight, in_flight=in_flight)
            self._cards[key] = entry
        return entry

    def gate(self, card_no: str) -> CardGate:
        """The gate of one check of ``card_no``: admitted by the call before its first attempt,
        settled with the call's outcome (see `creditsdk._core.gates`)."""
        return CardGate(self, card_no)

    def admit(self, card_no: str) -> _Ticket:
        """Reserve one check of ``card_no`` or raise [`CardGuardError`][]."""
        key = self._key(card_no)
        today = self._today()
        with self._lock:
            for stale in [k for k, e in self._cards.items() if e.day != today and not e.in_flight]:
                del self._cards[stale]
            entry = self._entry(key, today)
            if entry.checks >= self.max_per_day:
                raise CardGuardError(
                    f"card {mask_card(card_no)} has had {entry.checks} checks today; UnionPay "
                    f"locks a card after {self.max_per_day} a day, so this one was not sent",
                    card=mask_card(card_no),
                    limit="daily",
                )
            if entry.failures + entry.in_flight + 1 >= self.max_consecutive_failures:
                raise CardGuardError(
                    f"card {mask_card(card_no)} has {entry.failures} failed checks in a row"
                    + (f" and {entry.in_flight} in flight" if entry.in_flight else "")
                    + f"; UnionPay locks a card after {self.max_consecutive_failures}, so this "
                    "one was not sent",
                    card=mask_card(card_no),
                    limit="consecutive_failures",
                )
            entry.checks += 1
            entry.in_flight += 1
        return _Ticket(self, key)

    def _settle(self, key: str, outcome: str) -> None:
        with self._lock:
            entry = self._entry(key, self._today())
            entry.in_flight = max(0, entry.in_flight - 1)
            if outcome == "not_checked":
                entry.checks = max(0, entry.checks - 1)
            elif outcome == "failed":
                entry.failures += 1
            elif outcome == "matched":
                entry.failures = 0

    def status(self, card_no: str) -> tuple[int, int]:
        """``(checks today, failures in a row)`` of a card."""
        with self._lock:
            entry = self._cards.get(self._key(card_no))
            if entry is None or entry.day != self._today():
                return (0, 0)
            return (entry.checks, entry.failures)

    def reset(self, card_no: str | None = None) -> None:
        """Forget one card's counters (or every card's), e.g. after UnionPay unlocked it."""
        with self._lock:
            if card_no is None:
                self._cards.clear()
            else:
                self._cards.pop(self._key(card_no), None)


class CardGate:
    """One transaction check of one card, as a gate of the call.

    The first attempt reserves the check (or raises [`CardGuardError`][]: nothing is sent);
    a retry, which the core only makes when the provider cannot have processed the attempt,
    reuses the reservation. The outcome settles it: a result matched or not, a check that
    never happened (not sent, refused credentials or product), or one that may have.
    """

    __slots__ = ("_card", "_guard", "_ticket")

    def __init__(self, guard: CardGuard, card_no: str) -> None:
        self._guard = guard
        self._card = card_no
        self._ticket: _Ticket | None = None

    def admit(self, attempt: int) -> float:
        if self._ticket is None:
            self._ticket = self._guard.admit(self._card)
        return 0.0

    def settle(self, outcome: Outcome) -> None:
        ticket, self._ticket = self._ticket, None
        if ticket is None:
            return
        error = outcome.error
        if outcome.kind is OutcomeKind.ANSWERED and error is None:
            ticket.answered(bool(getattr(outcome.result, "matched", False)))
        elif outcome.kind is OutcomeKind.NOT_SENT or isinstance(
            error, (AuthenticationError, ProductNotEnabledError, ConfigurationError)
        ):
            ticket.not_checked()  # refused or never delivered: the card was not checked
        else:
            ticket.unknown()

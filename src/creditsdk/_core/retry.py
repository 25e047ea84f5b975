"""RetryPolicy: how often and how long to wait — and the billing-safe rules for *whether*."""

from __future__ import annotations

import datetime as _dt
import email.utils
import random
from collections.abc import Callable

import attrs

from ..errors import ConfigurationError

__all__ = ["RetryEvent", "RetryPolicy", "parse_retry_after"]


@attrs.frozen
class RetryEvent:
    """Passed to ``RetryPolicy.on_retry`` before each wait. ``reason`` is short and masked."""

    provider: str
    operation: str
    attempt: int  # the attempt that just failed, 1-based
    delay: float  # seconds we are about to wait
    reason: str


def _positive_int(_i: object, a: attrs.Attribute[int], v: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ConfigurationError(f"RetryPolicy.{a.name} must be an integer >= 1, not {v!r}")


def _non_negative(_i: object, a: attrs.Attribute[float], v: float) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        raise ConfigurationError(f"RetryPolicy.{a.name} must be a number >= 0, not {v!r}")


def _fraction(_i: object, a: attrs.Attribute[float], v: float) -> None:
    _non_negative(_i, a, v)
    if v > 1:
        raise ConfigurationError(f"RetryPolicy.{a.name} must be between 0 and 1, not {v!r}")


@attrs.frozen
class RetryPolicy:
    """Exponential backoff with jitter, Retry-After aware.

    ``max_attempts`` counts every attempt (3 = the first try and up to two retries). The wait
    before retry *n* is ``min(max_backoff, initial_backoff * multiplier**(n-1))`` reduced by up to
    ``jitter`` (a fraction) at random. A ``Retry-After`` from the server replaces that wait; one
    longer than ``max_retry_after`` is not waited out: the call fails with ``RateLimitedError``.

    Whatever the policy says, a billed operation that is not idempotent is never retried once the
    provider may have processed it (see docs/retries.md).
    """

    max_attempts: int = attrs.field(default=3, validator=_positive_int)
    initial_backoff: float = attrs.field(default=0.5, validator=_non_negative)
    max_backoff: float = attrs.field(default=8.0, validator=_non_negative)
    multiplier: float = attrs.field(default=2.0, validator=_non_negative)
    jitter: float = attrs.field(default=0.25, validator=_fraction)
    max_retry_after: float = attrs.field(default=60.0, validator=_non_negative)
    on_retry: Callable[[RetryEvent], object] | None = attrs.field(default=None, eq=False)

    @classmethod
    def no_retries(cls) -> RetryPolicy:
        """A policy that makes exactly one attempt."""
        return cls(max_attempts=1)

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based), jitter included."""
        base = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        if self.jitter:
            r = (rng or random).random()
            base *= 1.0 - self.jitter * r
        return base


def parse_retry_after(value: str | None, *, now: _dt.datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date. ``None`` if absent/garbled."""
    if value is None:
        return None
    v = value.strip()
    if not v:
        return None
    try:
        seconds = float(v)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")):
            return None
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(v)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:  # pragma: no cover - older Pythons return None
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    current = now or _dt.datetime.now(_dt.timezone.utc)
    return max(0.0, (when - current).total_seconds())

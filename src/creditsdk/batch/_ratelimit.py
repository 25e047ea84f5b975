"""A token bucket: at most ``rate`` calls a second, bursts of at most ``burst``.

Every HTTP attempt of a batch takes a token: the runner takes the first attempt's itself,
before it commits the row as being sent (so an abort while waiting leaves the row unsent), and
the bucket's gate (`TokenBucket.gate`) takes one for each later attempt inside the call.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

from .._core.gates import Outcome

__all__ = ["TokenBucket"]


class TokenBucket:
    """``await bucket.acquire()`` waits until a call may go out.

    The bucket holds up to ``burst`` tokens and refills at ``rate`` tokens a second; callers
    are served first come, first served (`reserve` hands out tokens in order, each due a
    ``1/rate`` after the previous one once the bucket is empty). ``clock`` and ``sleep`` are
    injectable for tests. Thread-safe.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0 calls per second, not {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, not {burst!r}")
        self.rate = float(rate)
        self.burst = int(burst)
        self._clock = clock
        self._sleep = sleep
        # Start with one token, not a full bucket: a restarted batch must not open with a burst
        # on top of the previous run's last second.
        self._tokens = 1.0
        self._last = clock()
        self._lock = threading.Lock()
        self.acquired = 0

    def reserve(self) -> float:
        """Take the next token: seconds until it is due (``0.0``: now). Never blocks."""
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1.0
            self.acquired += 1
            # Tolerance: with large clock values, refills of a few ULPs would never add up.
            if self._tokens >= -1e-9:
                return 0.0
            return -self._tokens / self.rate

    async def acquire(self) -> None:
        """Take a token, waiting until it is due."""
        wait = self.reserve()
        if wait > 0:
            await self._sleep(wait)

    def gate(self, *, first_attempt_paid: bool = False) -> BucketGate:
        """A gate of the call (`creditsdk._core.gates`) that takes a token before each attempt
        — except the first with ``first_attempt_paid`` (the caller took it with `acquire`)."""
        return BucketGate(self, first_attempt_paid)


class BucketGate:
    """Every attempt of a call takes a token of the bucket; the call waits until it is due."""

    def __init__(self, bucket: TokenBucket, first_attempt_paid: bool) -> None:
        self.bucket = bucket
        self.first_attempt_paid = first_attempt_paid

    def admit(self, attempt: int) -> float:
        if attempt == 1 and self.first_attempt_paid:
            return 0.0
        return self.bucket.reserve()

    def settle(self, outcome: Outcome) -> None:
        """A token spent is spent, whatever the outcome."""

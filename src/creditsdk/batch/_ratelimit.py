"""A token bucket for asyncio: at most ``rate`` calls a second, bursts of at most ``burst``."""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable

import httpx

__all__ = ["TokenBucket"]

# Set by the runner when it has already taken the token for a call's first HTTP attempt, so the
# request hook does not take a second one; retries (later attempts) take their own.
_prepaid: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar(
    "creditsdk_batch_prepaid", default=None
)


class TokenBucket:
    """``await bucket.acquire()`` waits until a call may go out.

    The bucket holds up to ``burst`` tokens and refills at ``rate`` tokens a second; waiters
    are served first come, first served. ``clock`` and ``sleep`` are injectable for tests.
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
        self._lock = asyncio.Lock()
        self.acquired = 0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
        self._last = now

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                self._refill()
                # Tolerance: with large clock values, refills of a few ULPs would never add up.
                if self._tokens >= 1.0 - 1e-9:
                    self._tokens = max(0.0, self._tokens - 1.0)
                    self.acquired += 1
                    return
                await self._sleep((1.0 - self._tokens) / self.rate)

    async def prepay(self) -> None:
        """Take the token for the current task's next HTTP request (see [`request_hook`][])."""
        await self.acquire()
        _prepaid.set([True])

    async def request_hook(self, request: httpx.Request) -> None:
        """httpx ``request`` event hook: every HTTP attempt, retries included, takes a token."""
        holder = _prepaid.get()
        if holder is not None and holder[0]:
            holder[0] = False
            return
        await self.acquire()

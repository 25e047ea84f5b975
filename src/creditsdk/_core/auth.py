"""Credentials an Operation needs, obtained by running another Operation (a token fetch).

Like ``httpx.Auth.auth_flow``: before an attempt the call asks for the token of the
Operation's `TokenAuth`; the client's `TokenCache` hands out the cached one while it is fresh,
else runs ``TokenAuth.fetch()`` — one fetch in flight per client and key, however many threads
or tasks ask at once. An answer ``TokenAuth.rejected`` recognises (e.g. HTTP 401) drops that
token; the call fetches a new one and sends again, once.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

import attrs

from .redact import register_secret
from .wire import Request, Response

if TYPE_CHECKING:
    from .operation import Operation

__all__ = ["Token", "TokenAuth", "TokenCache"]


@attrs.frozen
class Token:
    """A credential and how long it lasts (seconds from when its fetch began; None: until the
    provider rejects it). The value never shows in a repr."""

    value: str = attrs.field(repr=False)
    expires_in: float | None = None


def _unauthorized(response: Response) -> bool:
    return response.status_code == 401


@attrs.frozen(eq=False)
class TokenAuth:
    """What an Operation needs to be authorised.

    ``key``: one cached token per client and key (e.g. the app id and scope). ``fetch``: builds
    the Operation that obtains a `Token`. ``apply``: the request with the token on it (a header,
    a signed parameter). ``rejected``: does this answer say the token is no good? ``margin``:
    refresh this many seconds before the token expires.
    """

    key: Hashable
    fetch: Callable[[], Operation[Token]]
    apply: Callable[[Request, Token], Request]
    rejected: Callable[[Response], bool] = _unauthorized
    margin: float = 0.0


@attrs.define
class _Slot:
    token: Token
    expires_at: float | None


class TokenCache:
    """The tokens of one client, by ``TokenAuth.key``; ``clock`` is the client's (monotonic)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._slots: dict[Hashable, _Slot] = {}
        self._lock = threading.Lock()
        self._fetch_locks: dict[Hashable, threading.Lock] = {}
        self._async_locks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[Hashable, asyncio.Lock]
        ] = weakref.WeakKeyDictionary()
        self.fetches = 0  # how many fetches ran (tests, diagnostics)

    def now(self) -> float:
        return self._clock()

    def fresh(self, auth: TokenAuth) -> Token | None:
        """The cached token, unless missing or (about to be) expired."""
        with self._lock:
            slot = self._slots.get(auth.key)
        if slot is None:
            return None
        if slot.expires_at is not None and self._clock() >= slot.expires_at - auth.margin:
            return None
        return slot.token

    def store(self, auth: TokenAuth, token: Token, fetch_began: float) -> None:
        register_secret(
            token.value, ephemeral=True
        )  # masked by value wherever a string leaves the SDK
        expires_at = None if token.expires_in is None else fetch_began + token.expires_in
        with self._lock:
            self._slots[auth.key] = _Slot(token, expires_at)
            self.fetches += 1

    def drop(self, auth: TokenAuth, stale: Token) -> None:
        """Forget ``stale`` — only if it is still the cached one (a concurrent call may already
        have replaced it: then that newer token is used, not fetched again)."""
        with self._lock:
            slot = self._slots.get(auth.key)
            if slot is not None and slot.token is stale:
                del self._slots[auth.key]

    def fetch_lock(self, auth: TokenAuth) -> threading.Lock:
        with self._lock:
            return self._fetch_locks.setdefault(auth.key, threading.Lock())

    def async_fetch_lock(self, auth: TokenAuth) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._lock:
            locks = self._async_locks.setdefault(loop, {})
            return locks.setdefault(auth.key, asyncio.Lock())

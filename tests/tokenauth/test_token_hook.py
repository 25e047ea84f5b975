"""The token hook: a provider that needs a token gets it from the core, once, and fresh.

A test-only provider (tests/tokenauth/provider.py) declares the token its lookup needs; the
core fetches it by running the provider's token Operation, caches it per client, refreshes it
on expiry (injected clock) and once on a rejected-token answer, with one fetch in flight for
concurrent tasks and threads.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from creditsdk import MemoryAuditSink, RetryPolicy
from creditsdk._core.auth import Token, TokenCache
from creditsdk.errors import AuthenticationError

from .provider import AsyncTokenClient, Config, TokenClient, TokenServer

CONFIG = Config("client-42", "s3cret-Client-Secret")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_fifty_concurrent_async_calls_fetch_one_token() -> None:
    server = TokenServer(CONFIG)
    async with AsyncTokenClient(CONFIG, http_client=server.async_client()) as client:
        results = await asyncio.gather(*(client.lookup(f"r{i}") for i in range(50)))
    assert [r.transaction_id for r in results] == [f"T-r{i}" for i in range(50)]
    assert server.token_requests == 1
    assert set(server.lookups) == {"tok-1-Zq8xVw3rT6"}
    assert len(server.lookups) == 50


class CountingCache(TokenCache):
    """Counts the callers that found no fresh token (those that may go and fetch one)."""

    def __init__(self, clock: Any) -> None:
        super().__init__(clock)
        self.misses = 0
        self.changed = threading.Condition()

    def fresh(self, auth: Any) -> Token | None:
        token = super().fresh(auth)
        if token is None:
            with self.changed:
                self.misses += 1
                self.changed.notify_all()
        return token


def test_concurrent_threads_fetch_one_token() -> None:
    threads = 16
    server = TokenServer(CONFIG)
    with TokenClient(CONFIG, http_client=server.client()) as client:
        cache = client._transport.tokens = CountingCache(client._transport._clock)

        def hold() -> None:
            # The token answer waits until every thread has found the cache empty: they all
            # want a token at once. Only one of them may be fetching it.
            with cache.changed:
                assert cache.changed.wait_for(lambda: cache.misses >= threads, timeout=20)

        server.before_token = hold
        with ThreadPoolExecutor(threads) as pool:
            got = list(pool.map(lambda i: client.lookup(f"r{i}").transaction_id, range(threads)))
    assert got == [f"T-r{i}" for i in range(threads)]
    assert server.token_requests == 1
    assert len(server.lookups) == threads


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_an_expired_token_is_refreshed_once(asynchronous: bool) -> None:
    server = TokenServer(CONFIG, expires_in=60.0)
    clock = Clock()

    async def lookups(n: int) -> None:
        if asynchronous:
            await asyncio.gather(*(aclient.lookup("r") for _ in range(n)))
        else:
            for _ in range(n):
                client.lookup("r")

    client = TokenClient(CONFIG, http_client=server.client(), clock=clock)
    aclient = AsyncTokenClient(CONFIG, http_client=server.async_client(), clock=clock)
    await lookups(3)
    clock.now += 59.0
    await lookups(3)
    assert server.token_requests == 1  # still fresh
    clock.now += 1.0  # expired now
    await lookups(5)
    assert server.token_requests == 2
    assert server.lookups[-5:] == ["tok-2-Zq8xVw3rT6"] * 5
    assert server.lookups[:6] == ["tok-1-Zq8xVw3rT6"] * 6
    client.close()
    await aclient.aclose()


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_a_rejected_token_is_renewed_once_then_the_call_succeeds(asynchronous: bool) -> None:
    server = TokenServer(CONFIG)
    audit = MemoryAuditSink()
    if asynchronous:
        aclient = AsyncTokenClient(CONFIG, http_client=server.async_client(), audit=audit)
        await aclient.lookup("a")
        server.revoke()  # e.g. the provider rotated its keys
        results = await asyncio.gather(*(aclient.lookup("b") for _ in range(10)))
        assert {r.transaction_id for r in results} == {"T-b"}
    else:
        client = TokenClient(CONFIG, http_client=server.client(), audit=audit)
        client.lookup("a")
        server.revoke()
        assert client.lookup("b").transaction_id == "T-b"
    assert server.token_requests == 2  # one refresh, however many calls saw the 401
    assert server.lookups[-1] == "tok-2-Zq8xVw3rT6"
    # The resend is an attempt of the same call: one audit event per call, success.
    assert {e.outcome for e in audit.events} == {"success"}


async def test_a_token_rejected_again_is_an_authentication_error_after_one_refresh() -> None:
    server = TokenServer(CONFIG)
    server.reject_all = True
    client = TokenClient(CONFIG, http_client=server.client(), retry=RetryPolicy(max_attempts=5))
    with pytest.raises(AuthenticationError) as info:
        client.lookup("x")
    assert server.token_requests == 2
    assert len(server.lookups) == 2
    assert info.value.attempts == 2
    assert info.value.provider == "tokenbureau"


def test_a_failed_token_fetch_fails_the_call_before_anything_is_sent() -> None:
    server = TokenServer(Config("client-42", "wrong-secret-value"))
    audit = MemoryAuditSink()
    client = TokenClient(CONFIG, http_client=server.client(), audit=audit)
    with pytest.raises(AuthenticationError, match="bad client credentials"):
        client.lookup("x")
    assert server.lookups == []  # the billed lookup never went out
    assert audit.events == []
    assert client._transport.tokens.fetches == 0


async def test_a_token_never_shows_in_logs_audit_or_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = TokenServer(CONFIG)
    audit = MemoryAuditSink()
    client = TokenClient(CONFIG, http_client=server.client(), audit=audit)
    client.lookup("a")
    server.reject_all = True  # the provider's 401 quotes the token it refuses
    with pytest.raises(AuthenticationError) as info:
        client.lookup("b")
    issued = [f"tok-{n}-Zq8xVw3rT6" for n in (1, 2)]
    shown = [
        caplog.text,
        str(info.value),
        repr(info.value),
        info.value.message,
        *map(str, info.value.args),
        *(repr(e) for e in audit.events),
        *(str(e.to_dict()) if hasattr(e, "to_dict") else "" for e in audit.events),
        repr(client._transport.tokens.fresh(client_op_auth())),
    ]
    for text in shown:
        for token in issued:
            assert token not in text
        assert CONFIG.client_secret not in text
    assert "not valid" in info.value.message  # the message itself is kept, token masked


def client_op_auth():  # type: ignore[no-untyped-def]
    from .provider import lookup_operation

    return lookup_operation(CONFIG, "x").auth

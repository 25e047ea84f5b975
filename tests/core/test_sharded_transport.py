"""ShardedAsyncTransport: requests spread over small pools, released, connections reused."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest

from creditsdk import ShardedAsyncTransport
from creditsdk._core.transport import AsyncTransport
from creditsdk.sandbox import Sandbox


async def _round(http: httpx.AsyncClient, url: str, n: int) -> list[int]:
    answers = await asyncio.gather(*(http.post(url, content=b"{}") for _ in range(n)))
    return [a.status_code for a in answers]


def test_concurrent_requests_use_several_pools_and_reuse_their_connections() -> None:
    transport = ShardedAsyncTransport(shards=8, connections_per_shard=2)
    # The server holds each request 20 ms, so 12 requests really are in flight together.
    with Sandbox(providers=["tianyuan"], latency=0.02) as sb:
        url = sb.base_url + "/api/v1/JRZQ9E2A"

        async def go() -> tuple[list[int], int, list[int]]:
            async with httpx.AsyncClient(transport=transport) as http:
                first = await _round(http, url, 12)
                opened = sb.connections_accepted
                second = await _round(http, url, 12)
                return first + second, opened, list(transport._in_flight)

        statuses, opened, in_flight = asyncio.run(go())
        assert statuses == [200] * 24  # the provider's JSON error (no Access-Id), over HTTP 200
        assert 6 <= opened <= 12  # spread: at least one connection per busy pool
        assert sb.connections_accepted == opened  # the second round reused them all
        assert in_flight == [0] * 8  # every response released its pool


def test_async_clients_own_a_sharded_transport_and_callers_keep_theirs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [k for k in os.environ if k.lower().endswith("_proxy")]:
        monkeypatch.delenv(name)
    owned = AsyncTransport(provider="x")
    assert isinstance(owned.http_client._transport, ShardedAsyncTransport)
    mine = httpx.AsyncClient()
    assert AsyncTransport(provider="x", http_client=mine).http_client is mine
    asyncio.run(owned.aclose())
    asyncio.run(mine.aclose())


def test_proxy_in_the_environment_keeps_httpx_proxy_routing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # httpx ignores HTTPS_PROXY for a client given its own transport: with a proxy configured
    # the async client must route like the sync one, so it keeps httpx's own transport.
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    transport = AsyncTransport(provider="x")
    assert not isinstance(transport.http_client._transport, ShardedAsyncTransport)
    proxied = transport.http_client._transport_for_url(httpx.URL("https://provider.example/"))
    assert proxied is not transport.http_client._transport  # the proxy mount answers
    asyncio.run(transport.aclose())

"""ShardedAsyncTransport: the async client's default connection pool, in shards."""

from __future__ import annotations

import urllib.request
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

__all__ = ["ShardedAsyncTransport", "default_async_client"]


class _ReleasingStream(httpx.AsyncByteStream):
    """The response body of a sharded pool; tells the shard when the exchange is over."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._release is not None:
                self._release()
                self._release = None


class ShardedAsyncTransport(httpx.AsyncBaseTransport):
    """An httpx async transport that spreads requests over several small connection pools.

    httpcore's pool re-scans every queued request against every connection whenever a request
    starts or ends, so its cost grows with the square of the concurrency: at 200 concurrent
    requests on one pool that scan was ~80 % of the client's CPU (benchmarks/RESULTS.md). Many
    small pools keep every scan short. Each request goes to the pool with the fewest requests in
    flight (ties: the first, so idle keep-alive connections are reused).

    ``shards × connections_per_shard`` is the connection limit (default 64 × 4 = 256). One SSL
    context is shared by every pool.
    """

    def __init__(
        self, *, verify: Any = True, shards: int = 64, connections_per_shard: int = 4
    ) -> None:
        import ssl

        context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify)
        limits = httpx.Limits(
            max_connections=connections_per_shard,
            max_keepalive_connections=connections_per_shard,
        )
        self._pools = [
            httpx.AsyncHTTPTransport(verify=context, limits=limits) for _ in range(shards)
        ]
        self._in_flight = [0] * shards

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        loads = self._in_flight
        i = loads.index(min(loads))
        loads[i] += 1

        def release() -> None:
            loads[i] -= 1

        try:
            response = await self._pools[i].handle_async_request(request)
        except BaseException:
            release()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_ReleasingStream(response.stream, release),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


def default_async_client(timeout: httpx.Timeout, verify: Any) -> httpx.AsyncClient:
    """The sharded pool, unless the environment names a proxy.

    httpx ignores ``HTTP(S)_PROXY`` for a client given its own transport, so with a proxy in the
    environment the plain client is used: it routes like the sync client does.
    """
    if urllib.request.getproxies():
        return httpx.AsyncClient(timeout=timeout, verify=verify)
    return httpx.AsyncClient(timeout=timeout, transport=ShardedAsyncTransport(verify=verify))

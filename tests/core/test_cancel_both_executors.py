"""Cancelling an async call at each stage, under both async executors (httpx and aiohttp), on
real loopback sockets: while the connection is being set up (nothing of the request sent: no
audit event, nothing billed), and once the server has the whole request (it may bill: exactly
one ``cancelled`` event, maybe billed). Either way the executor stays usable: the next call on
it succeeds. Synchronised on what the server has read (asyncio.Events), never on sleeps.

(Known, upstream: under httpx, the TCP socket of a connection cancelled in its TLS handshake is
closed only when it is garbage-collected (a ResourceWarning under -W error; encode/httpcore#443
describes the same orphaned socket for a failed handshake). aiohttp closes it at once.)"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs
import pytest

from creditsdk import MemoryAuditSink, RetryPolicy
from creditsdk._core.executors import AioHttpTransport, AsyncTransport
from creditsdk._core.wire import Request

from .._rawhttp import read_request
from .conftest import make_op

pytest.importorskip("aiohttp")

ONE = RetryPolicy.no_retries()
OK = json.dumps({"code": 0, "transaction_id": "T9"}).encode()
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _executor(backend: str, audit: MemoryAuditSink) -> Any:
    cls = AsyncTransport if backend == "httpx" else AioHttpTransport
    return cls(provider="fake", audit=audit, retry=ONE, rng=random.Random(1))


async def _serve(handler: Handler) -> AsyncIterator[int]:
    """A loopback server running ``handler``; its connections are closed when it stops."""
    writers: list[asyncio.StreamWriter] = []

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await handler(reader, writer)

    server = await asyncio.start_server(tracked, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()


async def _answer_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        b"Content-Length: " + str(len(OK)).encode() + b"\r\n\r\n" + OK
    )
    await writer.drain()
    writer.close()


def _op(url: str) -> Any:
    def build() -> Request:
        return Request("POST", url, body=b'{"q":1}')

    return attrs.evolve(make_op(), build_request=build)


async def _then_a_good_call(executor: Any) -> None:
    async for port in _serve(_answer_ok):
        result = await executor.run(_op(f"http://127.0.0.1:{port}/api"))
        assert result["transaction_id"] == "T9"


async def _cancel_once(executor: Any, scheme: str, until: bytes) -> None:
    """One call to a server that reads until ``until`` has arrived (or one byte, if empty),
    then says nothing; the call is cancelled as soon as the server has read it."""
    got = asyncio.Event()

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await (reader.readuntil(until) if until else reader.read(1))
        got.set()
        await asyncio.Event().wait()

    async for port in _serve(mute):
        task = asyncio.ensure_future(executor.run(_op(f"{scheme}://127.0.0.1:{port}/api")))
        await got.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.mark.parametrize("backend", ["httpx", "aiohttp"])
async def test_cancelled_while_connecting_sends_nothing_and_bills_nothing(backend: str) -> None:
    """The server takes the TCP connection and the first byte of the TLS ClientHello, then says
    nothing: the client is still setting the connection up when the call is cancelled."""
    audit = MemoryAuditSink()
    executor = _executor(backend, audit)
    try:
        await _cancel_once(executor, "https", b"")
        assert audit.events == []
        await _then_a_good_call(executor)
        assert [e.outcome for e in audit.events] == ["success"]
    finally:
        await executor.aclose()


@pytest.mark.parametrize("backend", ["httpx", "aiohttp"])
async def test_cancelled_after_the_server_has_the_request_is_one_maybe_billed_event(
    backend: str,
) -> None:
    audit = MemoryAuditSink()
    executor = _executor(backend, audit)
    try:
        await _cancel_once(executor, "http", b'{"q":1}')  # the whole request, body included
        assert [(e.outcome, e.maybe_billed, e.error_type) for e in audit.events] == [
            ("cancelled", True, "CancelledError")
        ]
        await _then_a_good_call(executor)
        assert [e.outcome for e in audit.events] == ["cancelled", "success"]
    finally:
        await executor.aclose()

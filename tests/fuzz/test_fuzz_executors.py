"""Fuzz: the two async executors (httpx, aiohttp) given the same raw answer off a socket —
any status, header fields (repeated, any case), body, Content-Encoding (gzip, zlib, raw
deflate, several gzip members, garbage, unknown) and framing (Content-Length, chunked,
close-delimited, cut short) — end the same way: the same `wire.Response` (status, every
header field in order, body), or the same error type, message and ``maybe_billed``.

The answers are well-formed HTTP/1.1 apart from the cut: the target is the SDK's own reading
(decoding, the size cap, headers, classification), not where two parsers' leniency differs.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
import zlib
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from creditsdk import RetryPolicy
from creditsdk._core.operation import Operation
from creditsdk._core.wire import Request, Response
from creditsdk.errors import CreditSDKError

from .._rawhttp import read_request

pytest.importorskip("aiohttp")

from creditsdk._core.executors import AioHttpTransport, AsyncTransport

EXAMPLES = 150
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
LIMIT = 4096  # max_response_bytes: some bodies (and some inflated ones) pass it


@attrs.define
class Answer:
    raw: bytes = b""
    close: bool = False


class ThreadedServer:
    """Answers every request with ``answer.raw`` (then closes, if ``answer.close``)."""

    def __init__(self) -> None:
        self.answer = Answer()
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await read_request(reader)
                answer = self.answer
                writer.write(answer.raw)
                await writer.drain()
                if answer.close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()
        server.close()
        self.loop.run_until_complete(server.wait_closed())
        self.loop.close()

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadedServer]:
    with ThreadedServer() as s:
        yield s


TOKEN = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1)
VALUE = st.text("abcdefghijklmnopqrstuvwxyz0123456789 ;=,/+*-_.:", max_size=40).map(str.strip)
STATUSES = st.sampled_from([200, 201, 302, 400, 401, 404, 429, 500, 502, 503, 504])
ENCODINGS = st.sampled_from(
    ["", "identity", "gzip", "GZIP", "x-gzip", "deflate", "raw-deflate", "gzip2", "garbage", "br"]
)
FRAMINGS = st.sampled_from(["length", "chunked", "close", "short", "short-chunked"])


def _encode(body: bytes, encoding: str) -> tuple[bytes, str]:
    if encoding in ("gzip", "GZIP", "x-gzip"):
        return gzip.compress(body), encoding
    if encoding == "gzip2":  # two members: readers concatenate them
        half = len(body) // 2
        return gzip.compress(body[:half]) + gzip.compress(body[half:]), "gzip"
    if encoding == "deflate":
        return zlib.compress(body), "deflate"
    if encoding == "raw-deflate":
        z = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return z.compress(body) + z.flush(), "deflate"
    if encoding == "garbage":
        return b"\x1f\x8b" + body, "gzip"
    return body, encoding


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    status = draw(STATUSES)
    body = draw(
        st.one_of(
            st.binary(max_size=300),
            st.integers(0, 3 * LIMIT).map(lambda n: b"{" * n),  # inflates past the cap
        )
    )
    wire, encoding = _encode(body, draw(ENCODINGS))
    fields = draw(st.lists(st.tuples(TOKEN, VALUE), max_size=6))
    fields = [
        (k, v)
        for k, v in fields
        if k.lower() not in ("content-length", "transfer-encoding", "connection")
        and k.lower() != "content-encoding"
    ]
    if encoding:
        fields.append(("Content-Encoding", encoding))
    framing = draw(FRAMINGS)
    close = framing in ("close", "short", "short-chunked")
    if framing in ("length", "short"):
        fields.append(
            (
                "Content-Length",
                str(len(wire) + (draw(st.integers(1, 50)) if framing == "short" else 0)),
            )
        )
        payload = wire
    elif framing == "close":
        payload = wire
    else:
        fields.append(("Transfer-Encoding", "chunked"))
        size = draw(st.integers(1, 64))
        chunks = [wire[i : i + size] for i in range(0, len(wire), size)]
        payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)
        if framing == "chunked":
            payload += b"0\r\n\r\n"
    if close:
        fields.append(("Connection", "close"))
    head = f"HTTP/1.1 {status} Whatever\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields)
    return Answer(head.encode() + b"\r\n" + payload, close)


def _op(url: str) -> Operation[Response]:
    return Operation(
        provider="fake",
        name="QUERY",
        build_request=lambda: Request("POST", url, (("Content-Type", "a/b"),), b"{}"),
        parse_response=lambda r: r,
        billed=True,
        idempotent=False,
        is_provider_answer=lambda r: True,  # every status goes to the parser as is
    )


async def _outcome(executor: Any, url: str) -> tuple[Any, ...]:
    try:
        got: Response = await executor.run(_op(url))
    except CreditSDKError as exc:
        return ("error", type(exc).__name__, str(exc), getattr(exc, "maybe_billed", None))
    finally:
        await executor.aclose()
    return ("answer", got.status_code, got.headers.multi_items(), got.content)


@FUZZ
@given(answer=answers())
def test_both_async_executors_end_a_call_the_same_way(
    server: ThreadedServer, answer: Answer
) -> None:
    server.answer = answer
    url = f"http://127.0.0.1:{server.port}/api/q?x=1"
    options: dict[str, Any] = {
        "provider": "fake",
        "retry": RetryPolicy.no_retries(),
        "audit": [],
        "max_response_bytes": LIMIT,
    }

    async def both() -> list[tuple[Any, ...]]:
        return [
            await _outcome(AsyncTransport(**options), url),
            await _outcome(AioHttpTransport(**options), url),
        ]

    via_httpx, via_aiohttp = asyncio.run(both())
    event(f"{via_httpx[0]} {via_httpx[1]}")  # --hypothesis-show-statistics: what was covered
    assert via_httpx == via_aiohttp

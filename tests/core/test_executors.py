"""The async executors, httpx and aiohttp, against a raw socket: the same Operation gives the
same bytes on the wire and the same `wire.Response`; choosing one; what errors name."""

from __future__ import annotations

import asyncio
import gc
import gzip
import json
import socket
import warnings
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from creditsdk import MemoryAuditSink, RetryPolicy
from creditsdk._core.executors import (
    AioHttpTransport,
    AsyncTransport,
    SyncTransport,
    async_executor,
    default_backend,
)
from creditsdk._core.operation import Operation
from creditsdk._core.wire import Request, Response
from creditsdk.errors import ConfigurationError, ResponseTooLargeError, TransportError

from .._rawhttp import read_request

aiohttp = pytest.importorskip("aiohttp")

ONCE = RetryPolicy(max_attempts=1)
BACKENDS = ["httpx", "aiohttp"]


class RawServer:
    """Records every request's bytes; answers each with ``answer`` (raw HTTP bytes)."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\nX-A: 2\r\n\r\n{}"
        self.port = 0
        self._server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head, body = await read_request(reader)
                self.requests.append(head + body)
                writer.write(self.answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


@pytest.fixture
async def server() -> AsyncIterator[RawServer]:
    async with RawServer() as s:
        yield s


def op_for(request: Request, *, billed: bool = True) -> Operation[Response]:
    return Operation(
        provider="fake",
        name="QUERY",
        build_request=lambda: request,
        parse_response=lambda r: r,
        billed=billed,
        idempotent=False,
    )


def executor(backend: str, **kw: Any) -> Any:
    kw.setdefault("retry", ONCE)
    kw.setdefault("audit", [])
    if backend == "httpx":
        return AsyncTransport(provider="fake", **kw)
    return AioHttpTransport(provider="fake", **kw)


async def run_on(backend: str, request: Request, **kw: Any) -> Response:
    transport = executor(backend, **kw)
    try:
        result: Response = await transport.run(op_for(request))
        return result
    finally:
        await transport.aclose()


REQUESTS = [
    Request(
        "POST",
        "http://HOST/api/v1/COMB86PM?t=1700000000000&data=a%2Bb%3D%3D",
        (("Access-Id", "abc"), ("Content-Type", "application/json")),
        json.dumps({"data": "x" * 300}).encode(),
    ),
    Request("POST", "http://HOST/gateway.do", (("Content-Type", "x/y;charset=utf-8"),), b""),
    Request("GET", "http://HOST/fireeye/q?data=%7B%22a%22%3A1%7D&sign=Zm9v", ()),
]


@pytest.mark.parametrize("request_", REQUESTS, ids=["post-body", "post-empty", "get-query"])
async def test_both_executors_put_the_same_bytes_on_the_wire(
    server: RawServer, request_: Request
) -> None:
    request = Request(
        request_.method,
        request_.url.replace("HOST", f"127.0.0.1:{server.port}"),
        request_.headers,
        request_.body,
    )
    answers = [await run_on(backend, request) for backend in BACKENDS]
    sent_httpx, sent_aiohttp = server.requests
    assert sent_httpx == sent_aiohttp
    head = sent_httpx.split(b"\r\n")
    assert head[1] == f"Host: 127.0.0.1:{server.port}".encode()
    assert not any(line.lower().startswith(b"user-agent") for line in head)
    # …and the same answer: status, every header field in order, body.
    first, second = answers
    assert first.status_code == second.status_code == 200
    assert first.headers.multi_items() == second.headers.multi_items()
    assert first.headers.get("X-A") == "1, 2"
    assert first.content == second.content == b"{}"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_gzip_answer_is_inflated_and_its_encoding_headers_dropped(
    server: RawServer, backend: str
) -> None:
    body = gzip.compress(b'{"code": 0}')
    server.answer = (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body)
        + body
    )
    got = await run_on(backend, Request("GET", f"http://127.0.0.1:{server.port}/x"))
    assert got.content == b'{"code": 0}'
    assert "Content-Encoding" not in got.headers
    assert "Content-Length" not in got.headers


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_gzip_bomb_is_refused_while_inflating(server: RawServer, backend: str) -> None:
    body = gzip.compress(b"0" * (8 * 1024 * 1024))
    server.answer = (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body)
        + body
    )
    with pytest.raises(ResponseTooLargeError) as caught:
        await run_on(
            backend, Request("POST", f"http://127.0.0.1:{server.port}/x"), max_response_bytes=1000
        )
    assert caught.value.maybe_billed is True


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_redirect_is_handed_to_the_operation_not_followed(
    server: RawServer, backend: str
) -> None:
    server.answer = b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"
    got = await run_on(backend, Request("GET", f"http://127.0.0.1:{server.port}/x"))
    assert got.status_code == 302
    assert len(server.requests) == 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SECRET_URL = "http://127.0.0.1:{port}/api/11010519491231002X?id_card=11010519491231002X"


@pytest.mark.parametrize("backend", ["sync", *BACKENDS])
async def test_could_not_connect_names_the_host_never_the_path_or_query(backend: str) -> None:
    port = _closed_port()
    request = Request("POST", SECRET_URL.format(port=port), body=b"{}")
    audit = MemoryAuditSink()
    if backend == "sync":
        transport = SyncTransport(provider="fake", retry=ONCE, audit=audit)
        with pytest.raises(TransportError) as caught:
            transport.run(op_for(request))
        transport.close()
    else:
        with pytest.raises(TransportError) as caught:
            await run_on(backend, request, audit=audit)
    message = str(caught.value)
    assert f"could not connect to http://127.0.0.1:{port} (ConnectError)" in message
    assert "11010519491231002X" not in message
    assert "/api" not in message
    assert caught.value.maybe_billed is False
    assert audit.events[0].maybe_billed is False


def test_the_default_backend_is_aiohttp_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDITSDK_HTTP_BACKEND", raising=False)
    assert default_backend() == "aiohttp"
    assert type(async_executor(provider="fake")).__name__ == "AioHttpTransport"
    monkeypatch.setenv("CREDITSDK_HTTP_BACKEND", " HTTPX ")
    assert type(async_executor(provider="fake")).__name__ == "AsyncTransport"


def test_an_unknown_backend_is_a_typed_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITSDK_HTTP_BACKEND", "requests")
    with pytest.raises(ConfigurationError, match=r"CREDITSDK_HTTP_BACKEND .*'requests'"):
        async_executor(provider="fake")


async def test_a_callers_http_client_decides_the_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITSDK_HTTP_BACKEND", "aiohttp")
    async with httpx.AsyncClient() as http:
        chosen = async_executor(provider="fake", http_client=http)
        assert isinstance(chosen, AsyncTransport)
        assert chosen.http_client is http
    monkeypatch.setenv("CREDITSDK_HTTP_BACKEND", "httpx")
    async with aiohttp.ClientSession() as session:
        picked = async_executor(provider="fake", http_client=session)
        assert isinstance(picked, AioHttpTransport)
        assert picked.http_client is session
        await picked.aclose()
        assert not session.closed  # the caller's: the caller closes it
    with pytest.raises(ConfigurationError, match=r"aiohttp\.ClientSession"):
        AioHttpTransport(provider="fake", http_client=object())  # type: ignore[arg-type]


async def test_a_callers_session_carries_the_call(server: RawServer) -> None:
    async with aiohttp.ClientSession() as session:
        transport = AioHttpTransport(provider="fake", http_client=session, retry=ONCE, audit=[])
        got = await transport.run(op_for(Request("GET", f"http://127.0.0.1:{server.port}/x")))
        assert got.content == b"{}"
        await transport.aclose()
        assert not session.closed


def _no_unclosed_warnings(run: Callable[[], None]) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run()
        gc.collect()
    # aiohttp's own warnings. (The sockets of a finished event loop's connections cannot be
    # closed from another loop: a client belongs in one loop; docs/concurrency.md says so.)
    assert [str(w.message) for w in caught if "Unclosed" in str(w.message)] == []


def test_an_owned_session_closes_cleanly_and_is_opened_per_event_loop(server_port: int) -> None:
    transport = executor("aiohttp")
    request = Request("GET", f"http://127.0.0.1:{server_port}/x")

    def twice() -> None:
        asyncio.run(transport.run(op_for(request)))  # a client used from two event loops
        first = transport.http_client
        asyncio.run(transport.run(op_for(request)))
        assert transport.http_client is not first
        asyncio.run(transport.aclose())
        assert transport.http_client.closed

    _no_unclosed_warnings(twice)
    with pytest.raises(ConfigurationError, match="closed"):
        asyncio.run(transport.run(op_for(request)))


@pytest.fixture
def server_port() -> Any:
    """A RawServer on a thread of its own (for tests that run several event loops)."""
    import threading

    loop = asyncio.new_event_loop()
    raw = RawServer()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(raw.__aenter__())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(raw.__aexit__())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    yield raw.port
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_truncated_answer_after_sending_is_maybe_billed(
    server: RawServer, backend: str
) -> None:
    server.answer = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{"

    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(server.answer)
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(cut, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        with pytest.raises(TransportError) as caught:
            await run_on(backend, Request("GET", f"http://127.0.0.1:{port}/x"))
    finally:
        srv.close()
        await srv.wait_closed()
    assert caught.value.maybe_billed is True
    assert "connection lost (RemoteProtocolError)" in str(caught.value)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_proxy_in_the_environment_carries_the_call_unless_no_proxy_names_the_host(
    server: RawServer, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY / NO_PROXY are read as httpx reads them (once, when the client is made)."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    target = "http://provider.invalid:8080/api/q?x=1"  # unresolvable: only the proxy can answer
    got = await run_on(backend, Request("POST", target, body=b"{}"))
    assert got.content == b"{}"
    assert server.requests[-1].startswith(b"POST http://provider.invalid:8080/api/q?x=1 HTTP/1.1")
    monkeypatch.setenv("NO_PROXY", "provider.invalid")
    with pytest.raises(TransportError, match=r"could not connect to http://provider\.invalid:8080"):
        await run_on(backend, Request("POST", target, body=b"{}"))


@pytest.fixture
async def tls_server(tmp_path: Any) -> AsyncIterator[tuple[RawServer, str]]:
    """A RawServer behind TLS, its certificate from a throwaway CA (the path is returned)."""
    import ssl

    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_path = str(tmp_path / "ca.pem")
    ca.cert_pem.write_to_path(ca_path)
    raw = RawServer()
    server = await asyncio.start_server(raw._serve, "127.0.0.1", 0, ssl=context)
    raw.port = server.sockets[0].getsockname()[1]
    try:
        yield raw, ca_path
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.filterwarnings("ignore:`verify=<str>` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("backend", BACKENDS)
async def test_tls_trusts_what_verify_names_and_an_untrusted_server_is_never_sent_to(
    tls_server: tuple[RawServer, str], backend: str
) -> None:
    import ssl

    raw, ca_path = tls_server
    request = Request("POST", f"https://127.0.0.1:{raw.port}/x?id=1", body=b"{}")
    assert (await run_on(backend, request, verify=ca_path)).content == b"{}"
    context = ssl.create_default_context(cafile=ca_path)
    assert (await run_on(backend, request, verify=context)).content == b"{}"
    assert len(raw.requests) == 2
    with pytest.raises(TransportError) as caught:
        await run_on(backend, request)  # verify=True: the throwaway CA is not trusted
    assert f"could not connect to https://127.0.0.1:{raw.port} (ConnectError)" in str(caught.value)
    assert caught.value.maybe_billed is False
    assert len(raw.requests) == 2


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
@pytest.mark.parametrize("body", [b"", b"{}", b'{"code": 0, "data": "' + b"x" * 500 + b'"}'])
def test_deflate_is_read_alike_however_the_answer_is_cut(wbits: int, body: bytes) -> None:
    """Zlib-wrapped or raw deflate is told from the first two bytes, even one byte at a time
    (the executor fuzzer found a raw stream cut after its first byte read as a broken zlib)."""
    from creditsdk._core.executors._shared import Reader

    z = zlib.compressobj(wbits=wbits)
    wire = z.compress(body) + z.flush()
    whole = Reader("deflate", 10_000)
    whole.feed(wire)
    bytewise = Reader("deflate", 10_000)
    for i in range(len(wire)):
        bytewise.feed(wire[i : i + 1])
    assert whole.finish() == bytewise.finish() == body


def test_every_async_client_takes_an_aiohttp_session_as_http_client() -> None:
    """``http_client=aiohttp.ClientSession(...)``: each provider's first matrix call runs on it
    against the loopback Sandbox, and the session stays the caller's (open after ``aclose``)."""
    import datetime as dt

    from creditsdk import Applicant, Consent
    from creditsdk._spec import Sample, discover_specs
    from creditsdk.sandbox import Sandbox

    sample = Sample(
        applicant=Applicant(name="张三", id_card="11010519491231002X", mobile="13800138000"),
        consent=Consent(
            reference="AUTH1", purpose="credit_underwriting", granted_at=dt.datetime(2026, 11, 1)
        ),
        card_no="6222020000000000000",
        trans_date=dt.date(2025, 3, 14),
    )
    extra = {
        s.name: f
        for s in discover_specs()
        if not s.in_default_sandbox and (f := s.sandbox_factory()) is not None
    }
    with Sandbox(seed=3, extra_providers=extra) as sb:

        async def each(spec: Any) -> None:
            op = spec.matrix_operations()[0]
            state = op.setup(sb, sample)
            before = len(sb.ledger(spec.name))
            async with aiohttp.ClientSession() as session:
                client = getattr(sb, f"async_{spec.name}_client")(http_client=session, audit=[])
                assert type(client._transport).__name__ == "AioHttpTransport"
                assert client._transport.http_client is session
                await op.call(client, sample, state)
                await client.aclose()
                assert not session.closed
            assert len(sb.ledger(spec.name)) == before + (1 if op.billed else 0)

        for spec in discover_specs():
            asyncio.run(each(spec))

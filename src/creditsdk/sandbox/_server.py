"""A loopback HTTP/1.1 server for the Sandbox: asyncio + a sans-I/O parser, one event loop in
one thread.

Why a bare parser and not an ASGI server: it lets every fault be played on the socket exactly
(a reset, a body cut short, a byte at a time). Two parsers, behind one interface (`_parsers`):
httptools (llhttp, the C parser uvicorn uses) when it is installed (``creditsdk[fast]``) — the
parse was the largest Python cost of the server per request — and h11 otherwise: h11 is
already installed with httpx (httpcore depends on it), so the Sandbox needs no extra
dependency, and it is the reference the httptools path is held to (same events, same refusals,
tests/sandbox/test_parsers.py). ``CREDITSDK_SANDBOX_PARSER=httptools|h11`` pins one. One
`asyncio.Protocol` per connection, callbacks only: a request costs the parse, the provider's
handler and one ``write`` — no thread, no task, no future.

Provider handlers are synchronous CPU work and run inline on the loop. Everything that
*waits* (emulated latency, a ``slow`` answer, a ``drip``) is a loop timer, never a sleep.

Limits, because the Sandbox is also what a user's load test hits: request heads are capped
(`max_header_bytes`, 431), bodies are capped (`max_body`, 413 — a chunk announced past the cap
is refused before it is read), a request must arrive in `header_timeout` / `body_timeout`
(408: slow-loris), idle keep-alive connections close after `idle_timeout`, and at most
`max_connections` are open at once (more are closed on accept).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import ssl
import struct
import threading
from collections.abc import Callable
from typing import Any

from . import _parsers
from ._app import SandboxRequest, SandboxResponse
from ._faults import Delivery
from ._parsers import CLOSED, NEED_DATA, End, Error, Head, Parser

__all__ = ["LoopbackServer"]

Dispatch = Callable[[SandboxRequest], Delivery]

_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    302: "Found",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    411: "Length Required",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_MAX_BODY = 8 * 1024 * 1024
_LINGER_RESET = struct.pack("ii", 1, 0)
_UNSAFE = re.compile(r"[\r\n\0]")

# Where a connection is in its request cycle (what its deadline means).
_IDLE, _HEAD, _BODY, _ANSWERING = range(4)


def _origin_form(target: str) -> tuple[str, str, str | None] | None:
    """``(path, query, authority)`` of a request target; None when it is not one we serve.

    Origin form (``/gateway.do?a=1``) and absolute form (``http://127.0.0.1:8080/gateway.do?a=1``),
    which RFC 9112 §3.2.2 requires a server to accept and which the official
    ``alipay-sdk-python`` sends. The authority comes back so that it can replace ``Host``.
    """
    if target.startswith("/"):
        path, _, query = target.partition("?")
        return path, query, None
    scheme, sep, rest = target.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return None
    end = next((i for i, ch in enumerate(rest) if ch in "/?#"), len(rest))
    authority, tail = rest[:end], rest[end:].partition("#")[0]
    if not authority or "@" in authority:
        return None  # userinfo is forbidden in http(s) targets (RFC 9110 §4.2.4)
    path, _, query = tail.partition("?")
    return path or "/", query, authority


def _error_page(status: int, text: str) -> bytes:
    """A whole ``Connection: close`` answer, written without the parser (which may be in
    ERROR)."""
    body = text.encode("utf-8")
    return (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        "Content-Type: text/plain;charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode("latin-1") + body


_HEADS: dict[tuple[int, tuple[tuple[str, str], ...]], tuple[bytes, bool]] = {}


def _fixed_head(response: SandboxResponse) -> tuple[bytes, bool]:
    """The status line and the response's own headers (each line ending in CRLF), and whether
    they include a Content-Length."""
    lines = [f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Status')}\r\n"]
    has_length = False
    for name, value in response.headers:
        if _UNSAFE.search(name) or _UNSAFE.search(value):
            raise ValueError("header name or value with a line break")  # response splitting
        has_length = has_length or name.lower() == "content-length"
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode("latin-1"), has_length


def _default_max_connections() -> int:
    try:
        import resource  # POSIX only
    except ImportError:  # pragma: no cover - Windows: no descriptor limit to respect
        return 4096
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 4096
    return max(16, min(4096, soft - 64))  # leave descriptors for the rest of the process


class _Connection(asyncio.Protocol):
    """One client connection: the parser (h11 or httptools) reads, the Sandbox answers, faults
    are played here."""

    def __init__(self, server: _Loop) -> None:
        self._server = server
        self._loop = server.loop
        self._parser: Parser = server.parser(server.max_header_bytes)
        self._transport: asyncio.Transport | None = None
        self._peer = ""
        self._request: Head | None = None
        self._keep_alive = True
        self._chunked = False
        self._body: list[bytes] = []
        self._body_size = 0
        self._phase = _IDLE
        self.deadline = self._loop.time() + server.idle_timeout
        self._timer: asyncio.TimerHandle | None = None
        self._write_paused = False
        self._read_paused = False  # paused while answering: a pipelined request waits
        self._closed = False

    # -- asyncio callbacks ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self._peer = str(peer[0]) if peer else ""
        server = self._server
        server.accepted += 1
        if len(server.connections) >= server.max_connections:
            self._closed = True
            transport.abort()  # over the cap: no state is kept for this one
            return
        server.connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        phase = self._phase
        if phase == _IDLE:  # the first bytes of a request: the head must come in time
            self._phase = _HEAD
            self.deadline = self._loop.time() + self._server.header_timeout
        elif phase == _ANSWERING:
            # A pipelined request while we answer: keep it (the parser holds it for the next
            # cycle) and stop reading until the answer is out. Paused only when it happens:
            # pausing on every request costs two epoll calls per request.
            self._pause_reading()
        self._parser.receive(data)
        self._process()

    def eof_received(self) -> bool:
        self._parser.receive_eof()
        if self._phase == _ANSWERING and not self._server.tls:  # (TLS cannot half-close)
            return True  # half-closed by the client: finish the answer, then close
        self._process()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._cancel_timer()
        self._server.connections.discard(self)

    def pause_writing(self) -> None:
        self._write_paused = True  # the client does not read: stop taking requests too
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._transport is not None and not self._closed:
            if not self._read_paused:
                self._transport.resume_reading()
            self._process()

    # -- reading requests ----------------------------------------------------------------------

    def _process(self) -> None:
        parser = self._parser  # (a pipelined request answered inline gets a new one: ours stops)
        while not self._closed and not self._write_paused and self._phase != _ANSWERING:
            event = parser.next_event()
            kind = type(event)
            if kind is bytes:
                assert isinstance(event, bytes)
                self._body.append(event)
                self._body_size += len(event)
                if self._over_cap(0):
                    return
            elif kind is Head:
                assert isinstance(event, Head)
                if not self._start_request(event):
                    return
            elif kind is End:
                assert isinstance(event, End)
                self._keep_alive = event.keep_alive
                self._answer()
            elif event is NEED_DATA:
                if self._chunked:
                    self._over_cap(parser.pending_chunk())
                return
            elif kind is Error:
                assert isinstance(event, Error)
                status = event.status  # 431 for a head past max_header_bytes
                self._refuse(status, "request header fields too large" if status == 431
                             else "bad request")  # fmt: skip
                return
            elif event is CLOSED:
                self._close()
                return
            else:  # PAUSED
                return

    def _start_request(self, event: Head) -> bool:
        self._request = event
        self._phase = _BODY
        self.deadline = self._loop.time() + self._server.body_timeout
        headers = event.headers
        # The parser caps an *incomplete* head; one that arrived whole is measured here (unless
        # it came in one read short enough to be within the cap).
        if not event.within_cap:
            items = event.items
            size = len(event.target) + sum(len(name) + len(value) + 4 for name, value in items)
            if size > self._server.max_header_bytes:
                self._refuse(431, "request header fields too large")
                return False
        self._chunked = "transfer-encoding" in headers
        length = headers.get("content-length")
        if length is not None and int(length) > self._server.max_body:
            self._refuse(413, "body too large")
            return False
        return True

    def _over_cap(self, announced: int) -> bool:
        """Refuse (413) a body past the cap — counting what a chunk announced but did not yet
        deliver, so nothing beyond the cap is ever buffered."""
        if self._body_size + announced <= self._server.max_body:
            return False
        self._refuse(413, "body too large")
        return True

    # -- answering -----------------------------------------------------------------------------

    def _answer(self) -> None:
        event = self._request
        assert event is not None
        self._phase = _ANSWERING
        self.deadline = float("inf")
        target = _origin_form(event.target.decode("latin-1"))
        if target is None:
            self._refuse(400, "bad request target")
            return
        path, query, authority = target
        headers = event.headers
        if authority is not None:
            headers["host"] = authority  # RFC 9112 §3.2.2: the target's authority wins over Host
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        self._body = []
        self._body_size = 0
        request = SandboxRequest(
            method=event.method.decode("ascii"),
            path=path,
            query_string=query,
            headers=headers,
            body=body,
            client=self._peer,
        )
        delay = self._server.latency()
        if delay > 0:  # emulated provider latency: a timer, the loop serves others meanwhile
            self._timer = self._loop.call_later(delay, self._dispatch, request)
        else:
            self._dispatch(request)

    def _dispatch(self, request: SandboxRequest) -> None:
        self._timer = None
        if self._closed:
            return
        try:
            delivery = self._server.dispatch(request)
        except Exception:  # a Sandbox bug must look like a provider 500, not a hang
            delivery = Delivery(SandboxResponse.text("sandbox error", 500))
        response = delivery.response
        action = delivery.action
        if action == "reset" or response is None:
            self.reset()
        elif action == "delay":
            self._timer = self._loop.call_later(delivery.delay, self._send, response)
        elif action == "drip":
            self._send_head(response, close=True)
            self._timer = self._loop.call_later(delivery.delay, self._drip, response, 0,
                                                delivery.delay)  # fmt: skip
        elif action == "truncate":  # announce the whole body, send half of it, hang up
            self._send_head(response, close=True)
            self._write(response.body[: len(response.body) // 2])
            self._close()
        else:
            self._send(response)

    def _head(self, response: SandboxResponse, *, close: bool) -> bytes:
        """The status line and headers. The parser reads requests; answers are framed here (one
        ``Content-Length`` body, nothing else to get wrong) so a request is parsed once and the
        answer is one ``write``."""
        try:
            key = (response.status, tuple(response.headers))
            fixed = _HEADS.get(key)
        except TypeError:  # headers that are not tuples of strings: not kept
            key, fixed = None, None
        if fixed is None:
            fixed = _fixed_head(response)
            if key is not None and len(_HEADS) < 256:  # most answers share a few heads
                _HEADS[key] = fixed
        head, has_length = fixed
        if not has_length:
            head += b"Content-Length: %d\r\n" % len(response.body)
        if close:
            head += b"Connection: close\r\n"
        return head + b"\r\n"

    def _send_head(self, response: SandboxResponse, *, close: bool) -> None:
        try:
            head = self._head(response, close=close)
        except (ValueError, UnicodeEncodeError):
            self._refuse(500, "sandbox error")
            return
        self._write(head)

    def _send(self, response: SandboxResponse) -> None:
        self._timer = None
        if self._closed:
            return
        close = not self._keep_alive  # the client asked to close (or HTTP/1.0, or an upgrade)
        try:
            head = self._head(response, close=close)
        except (ValueError, UnicodeEncodeError):
            self._refuse(500, "sandbox error")
            return
        event = self._request
        body = b"" if event is not None and event.method == b"HEAD" else response.body
        if len(body) < 65536:
            self._write(head + body)  # one write: no Nagle / delayed-ACK stall
        else:
            self._write(head)
            self._write(body)
        self._request = None
        if close:
            self._close()
            return
        # The next request cycle, fed what the client already pipelined.
        leftover, closed = self._parser.next_cycle()
        self._phase = _IDLE
        self.deadline = self._loop.time() + self._server.idle_timeout
        if leftover:
            self._phase = _HEAD
            self.deadline = self._loop.time() + self._server.header_timeout
        if self._read_paused:
            self._read_paused = False
            if self._transport is not None and not self._write_paused:
                self._transport.resume_reading()
        if leftover or closed:
            self._process()

    def _drip(self, response: SandboxResponse, at: int, interval: float) -> None:
        """The body one byte every ``interval`` seconds, then close."""
        self._timer = None
        if self._closed:
            return
        if at >= len(response.body):
            self._close()
            return
        self._write(response.body[at : at + 1])
        self._timer = self._loop.call_later(interval, self._drip, response, at + 1, interval)

    # -- ending connections --------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if data and self._transport is not None and not self._closed:
            self._transport.write(data)

    def _pause_reading(self) -> None:
        if self._transport is not None and not self._read_paused:
            self._read_paused = True
            self._transport.pause_reading()  # a pipelining client waits while we answer

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _refuse(self, status: int, text: str) -> None:
        self._write(_error_page(status, text))
        self._close()

    def _close(self) -> None:
        """Close after what was written is flushed (a FIN)."""
        if self._closed:
            return
        self._closed = True
        self._cancel_timer()
        if self._transport is not None:
            self._transport.close()

    def reset(self) -> None:
        """Abort with a TCP RST (SO_LINGER 0), writing nothing more."""
        self._closed = True
        self._cancel_timer()
        transport = self._transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        transport.abort()

    def expire(self, now: float) -> None:
        """Called by the sweeper once `deadline` has passed."""
        if self._phase == _IDLE:
            self._close()  # an idle keep-alive connection: just close it
        else:
            self._refuse(408, "request timeout")  # slow-loris: the request took too long

    def shutdown(self) -> None:
        """The server is stopping: an answer in progress is reset, an idle connection closed."""
        if self._phase == _ANSWERING or self._server.tls:
            self.reset()  # TLS: no close_notify exchange to wait for
        else:
            self._close()


class _Loop:
    """The state the connections share, owned by the loop thread."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        dispatch: Dispatch,
        latency: Callable[[], float],
        *,
        tls: bool,
        max_body: int,
        max_header_bytes: int,
        header_timeout: float,
        body_timeout: float,
        idle_timeout: float,
        max_connections: int,
        parser: Callable[[int], Parser],
    ) -> None:
        self.loop = loop
        self.parser = parser
        self.dispatch = dispatch
        self.latency = latency
        self.tls = tls
        self.max_body = max_body
        self.max_header_bytes = max_header_bytes
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.connections: set[_Connection] = set()
        self.accepted = 0

    def sweep(self) -> None:
        now = self.loop.time()
        for conn in [c for c in self.connections if c.deadline <= now]:
            conn.expire(now)


class LoopbackServer:
    """Serves ``dispatch`` on an asyncio loop in one background thread; ``start()``/``stop()``.

    ``latency()`` seconds are waited (on a timer) before each request is dispatched.
    """

    def __init__(
        self,
        dispatch: Dispatch,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        latency: Callable[[], float] = lambda: 0.0,
        max_body: int = _MAX_BODY,
        max_header_bytes: int = 16 * 1024,
        header_timeout: float = 10.0,
        body_timeout: float = 60.0,
        idle_timeout: float = 60.0,
        max_connections: int | None = None,
        parser: str | None = None,
    ) -> None:
        self._dispatch = dispatch
        # httptools when importable, else h11 (or as CREDITSDK_SANDBOX_PARSER / ``parser`` says):
        # a ConfigurationError is raised here, not in the server's thread.
        self.parser_name, self._parser = _parsers.choose(parser)
        self._host = host
        self._port = port
        self._ssl_context = ssl_context
        self._latency = latency
        self._limits: dict[str, Any] = {
            "max_body": max_body,
            "max_header_bytes": max_header_bytes,
            "header_timeout": header_timeout,
            "body_timeout": body_timeout,
            "idle_timeout": idle_timeout,
            "max_connections": max_connections or _default_max_connections(),
        }
        self._state: _Loop | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._address: tuple[str, int] = (host, port)
        self._sweep_every = max(0.01, min(1.0, header_timeout / 4, body_timeout / 4,
                                          idle_timeout / 4))  # fmt: skip

    @property
    def connections_accepted(self) -> int:
        return self._state.accepted if self._state is not None else 0

    @property
    def open_connections(self) -> int:
        """Connections open right now (read from another thread: a snapshot)."""
        return len(self._state.connections) if self._state is not None else 0

    @property
    def address(self) -> tuple[str, int]:
        return self._address

    def start(self) -> None:
        """Bind and serve; returns once the port is open (raises what binding raised)."""
        self._thread = threading.Thread(target=self._run, name="creditsdk-sandbox", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # binding failed: start() re-raises it
            if not self._ready.is_set():
                self._error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_quiet)  # never print tracebacks that may carry data
        self._loop = loop
        self._stop = asyncio.Event()
        state = _Loop(loop, self._dispatch, self._latency, tls=self._ssl_context is not None,
                      parser=self._parser, **self._limits)  # fmt: skip
        self._state = state
        server = await loop.create_server(
            lambda: _Connection(state),
            self._host,
            self._port,
            ssl=self._ssl_context,
            ssl_handshake_timeout=10.0 if self._ssl_context is not None else None,
            backlog=1024,
            reuse_address=True,
        )
        host, port = server.sockets[0].getsockname()[:2]
        self._address = (str(host), int(port))
        self._ready.set()
        sweeper = loop.create_task(self._sweep(state))
        try:
            await self._stop.wait()
        finally:
            sweeper.cancel()
            server.close()
            for conn in list(state.connections):
                conn.shutdown()
            await server.wait_closed()
            for _ in range(100):  # let the closed transports report connection_lost
                if not state.connections:
                    break
                await asyncio.sleep(0.01)
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper

    async def _sweep(self, state: _Loop) -> None:
        while True:
            await asyncio.sleep(self._sweep_every)
            state.sweep()


def _quiet(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Errors on a connection (a failed TLS handshake, a client gone) are the client's story."""

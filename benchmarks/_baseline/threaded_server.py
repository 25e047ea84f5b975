"""A frozen copy of the Sandbox's threaded server at commit 3b18631 (the baseline of issue 17's
"Sandbox CPU per request" row). Only its imports changed; do not improve it.

A loopback HTTP/1.1 server (stdlib, one thread per connection) for the Sandbox.

Why the standard library and not an ASGI server: no extra runtime dependency for users who only
want to try the SDK, and a thread per keep-alive connection comfortably holds the 200 concurrent
connections the benchmarks use. Each answer is written with one ``sendall`` and Nagle is off, so
keep-alive requests do not stall on delayed ACKs.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from creditsdk.sandbox._app import SandboxRequest, SandboxResponse
from creditsdk.sandbox._faults import Delivery

__all__ = ["LoopbackServer"]

Dispatch = Callable[[SandboxRequest], Delivery]

_REASONS = {
    200: "OK",
    302: "Found",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_MAX_BODY = 8 * 1024 * 1024


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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 60  # idle keep-alive connections are closed after this
    server: _Server

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # never print requests: query strings carry personal data

    def _handle(self) -> None:
        length_header = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunked = self._read_chunked()
            if chunked is None:
                return  # refused (413 or 400) and the connection closed
            body = chunked
        elif length_header is not None:
            try:
                length = int(length_header)
            except ValueError:
                self._send(SandboxResponse.text("bad Content-Length", 400))
                return
            if length > _MAX_BODY:
                self._send(SandboxResponse.text("body too large", 413))
                self.close_connection = True
                return
            body = self.rfile.read(length)
        else:
            body = b""
        target = _origin_form(self.path)
        if target is None:
            self._send(SandboxResponse.text("bad request target", 400))
            self.close_connection = True
            return
        path, query, authority = target
        headers = {k.lower(): v for k, v in self.headers.items()}
        if authority is not None:
            headers["host"] = authority  # RFC 9112 §3.2.2: the target's authority wins over Host
        request = SandboxRequest(
            method=self.command,
            path=path,
            query_string=query,
            headers=headers,
            body=body,
            client=self.client_address[0],
        )
        delivery = self.server.dispatch(request)
        if delivery.action == "reset" or delivery.response is None:
            self._reset()
            return
        if delivery.action == "delay" and self.server.stopping.wait(delivery.delay):
            self._reset()  # the sandbox is stopping: do not keep the client (or stop()) waiting
            return
        if delivery.action == "drip":
            self._drip(delivery.response, delivery.delay)
            return
        self._send(delivery.response, truncate=delivery.action == "truncate")

    def _reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0), writing nothing."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # the socket closes for real only once its makefile() is closed
        with contextlib.suppress(OSError):
            self.connection.close()

    def _read_chunked(self) -> bytes | None:
        """The body of a chunked request, capped like a Content-Length one: a chunk that would
        take it past ``_MAX_BODY`` is refused (413) before it is read, and the connection is
        closed, so nothing beyond the cap is ever buffered. None when refused."""
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip() or b"0", 16)
            except ValueError:
                size = -1
            if size < 0:
                self.close_connection = True
                self._send(SandboxResponse.text("bad chunk size", 400))
                return None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > _MAX_BODY:
                self.close_connection = True
                self._send(SandboxResponse.text("body too large", 413))
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _drip(self, response: SandboxResponse, interval: float) -> None:
        """The head at once, then the body one byte every ``interval`` seconds, until done,
        the client hangs up or the sandbox stops."""
        self.close_connection = True
        self.wfile.write(self._head(response))
        for i in range(len(response.body)):
            if self.server.stopping.wait(interval):
                self._reset()
                return
            try:
                self.wfile.write(response.body[i : i + 1])
            except OSError:
                return

    def _head(self, response: SandboxResponse) -> bytes:
        reason = _REASONS.get(response.status, "Status")
        lines = [f"HTTP/1.1 {response.status} {reason}"]
        names = {k.lower() for k, _ in response.headers}
        lines.extend(f"{k}: {v}" for k, v in response.headers)
        if "content-length" not in names:
            lines.append(f"Content-Length: {len(response.body)}")
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, response: SandboxResponse, *, truncate: bool = False) -> None:
        head = self._head(response)
        if truncate:  # announce the whole body, send half of it, hang up
            self.close_connection = True
            self.wfile.write(head + response.body[: len(response.body) // 2])
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(head + response.body)  # one send: no Nagle/delayed-ACK stall

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        dispatch: Dispatch,
        ssl_context: ssl.SSLContext | None,
        latency: Callable[[], float],
    ) -> None:
        self._dispatch = dispatch
        self._ssl_context = ssl_context
        self._latency = latency
        self._connections: set[socket.socket] = set()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.accepted = 0
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        self.accepted += 1  # only the serving thread accepts: no lock needed
        if self._ssl_context is not None:
            sock = self._ssl_context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False
            )
        return sock, addr

    def dispatch(self, request: SandboxRequest) -> Delivery:
        delay = self._latency()
        if delay > 0:
            time.sleep(delay)  # emulated provider latency, per request
        return self._dispatch(request)

    def track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def close_connections(self) -> None:
        with self._lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up mid-request is normal; never print tracebacks with data


class LoopbackServer:
    """Runs `_Server` in a background thread; ``start()``/``stop()``."""

    def __init__(
        self,
        dispatch: Dispatch,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        latency: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self._server = _Server((host, port), dispatch, ssl_context, latency)
        self._thread: threading.Thread | None = None

    @property
    def connections_accepted(self) -> int:
        return self._server.accepted

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="creditsdk-sandbox",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

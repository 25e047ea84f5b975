"""The loopback server on its own (asyncio + h11 or httptools): framing, limits, faults on the
socket, shutdown.

Each test drives a `LoopbackServer` with a dispatch function and a plain socket, and asserts on
the bytes; every test runs under both request parsers (tests/sandbox/conftest.py). Timeouts
are set small and waited for by reading the socket (the server's action ends the read), never
by sleeping.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from creditsdk.sandbox import SandboxRequest, SandboxResponse
from creditsdk.sandbox._faults import Delivery
from creditsdk.sandbox._server import LoopbackServer

Seen = list[SandboxRequest]

pytestmark = pytest.mark.usefixtures("sandbox_parser")


def echo(seen: Seen) -> Callable[[SandboxRequest], Delivery]:
    def dispatch(request: SandboxRequest) -> Delivery:
        seen.append(request)
        if request.path == "/reset":
            return Delivery(None, "reset")
        if request.path == "/truncate":
            return Delivery(SandboxResponse(200, b"0123456789"), "truncate")
        if request.path == "/slow":
            return Delivery(SandboxResponse(200, b"late"), "delay", 30.0)
        if request.path == "/drip":
            return Delivery(SandboxResponse(200, b"abcde"), "drip", 0.001)
        if request.path == "/split":
            return Delivery(SandboxResponse(200, b"", (("Location", "/x\r\nSet-Cookie: a=b"),)))
        return Delivery(SandboxResponse(200, b"%s %s %d" % (
            request.method.encode(), request.path.encode(), len(request.body))))  # fmt: skip

    return dispatch


@pytest.fixture
def served(sandbox_parser: str) -> Iterator[tuple[LoopbackServer, Seen]]:
    seen: Seen = []
    server = LoopbackServer(
        echo(seen), header_timeout=0.3, body_timeout=0.3, idle_timeout=0.3, max_connections=4
    )
    assert server.parser_name == sandbox_parser  # the one the environment asked for
    server.start()
    try:
        yield server, seen
    finally:
        server.stop()


def connect(server: LoopbackServer) -> socket.socket:
    return socket.create_connection(server.address, timeout=30)


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while piece := sock.recv(65536):
        chunks.append(piece)
    return b"".join(chunks)


_pending: dict[int, bytes] = {}  # bytes read past one answer, per socket (pipelining)


def read_answer(sock: socket.socket) -> tuple[bytes, bytes]:
    """One Content-Length answer: (head, body)."""
    data = _pending.pop(sock.fileno(), b"")
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        assert piece, data
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(int(x.split(b":")[1]) for x in lines if x.lower().startswith(b"content-length:"))
    while len(body) < length:
        piece = sock.recv(65536)
        assert piece
        body += piece
    body, rest = body[:length], body[length:]
    if rest:
        _pending[sock.fileno()] = rest
    return head, body


def ending(sock: socket.socket) -> str:
    """How the server ended the connection: "reset", "closed" (a FIN) or "data" (it answered)."""
    try:
        return "data" if read_all(sock) else "closed"
    except ConnectionResetError:
        return "reset"


def get(path: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()


def test_pipelined_requests_are_answered_in_order_on_one_connection(
    served: tuple[LoopbackServer, Seen],
) -> None:
    server, seen = served
    with connect(server) as sock:
        body = b"x" * 10
        sock.sendall(
            get("/a")
            + b"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n" + body
            + b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\n\r\n"
            + get("/d", "Connection: close\r\n")
        )  # fmt: skip
        answers = [read_answer(sock) for _ in range(4)]
        assert sock.recv(10) == b""  # closed after the answer to Connection: close
    assert [b for _, b in answers] == [b"GET /a 0", b"POST /b 10", b"POST /c 7", b"GET /d 0"]
    assert answers[0][0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Connection: close" in answers[3][0]
    assert seen[2].body == b"abcdefg"
    assert server.connections_accepted == 1


def test_head_has_no_body_and_keeps_the_connection(served: tuple[LoopbackServer, Seen]) -> None:
    server, _ = served
    with connect(server) as sock:
        sock.sendall(b"HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n" + get("/after"))
        data = b""
        while data.count(b"\r\n\r\n") < 2 or not data.endswith(b"GET /after 0"):
            data += sock.recv(65536)
    first, second = data.split(b"HTTP/1.1 200 OK")[1:]
    assert first.endswith(b"Content-Length: 9\r\n\r\n")  # announces "HEAD /h 0", sends nothing
    assert second.endswith(b"GET /after 0")


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\n\r\n", b"400"),  # HTTP/1.1 without Host
        (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n", b"400"),
        (b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\n", b"431"),  # a head past the cap
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: " + b"v" * 20_000 + b"\r\n\r\n", b"431"),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999\r\n\r\n", b"413"),
        (b"GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", b"400"),
    ],
)
def test_bad_requests_are_refused_and_closed(
    served: tuple[LoopbackServer, Seen], request_bytes: bytes, status: bytes
) -> None:
    server, seen = served
    with connect(server) as sock:
        sock.sendall(request_bytes)
        answer = read_all(sock)
    assert answer.split(b" ")[1] == status
    assert b"Connection: close" in answer
    assert seen == []


def test_slow_loris_head_gets_408(served: tuple[LoopbackServer, Seen]) -> None:
    server, seen = served
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: h\r\nX-Slow: ")  # and never the rest
        answer = read_all(sock)  # ends when the server gives up on the head
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert seen == []


def test_a_body_that_never_ends_gets_408(served: tuple[LoopbackServer, Seen]) -> None:
    server, seen = served
    with connect(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\npartial")
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert seen == []


def test_idle_keep_alive_connections_are_closed(served: tuple[LoopbackServer, Seen]) -> None:
    server, _ = served
    with connect(server) as sock:
        sock.sendall(get("/once"))
        assert read_answer(sock)[1] == b"GET /once 0"
        assert sock.recv(10) == b""  # closed by the server once idle for idle_timeout


def test_connections_past_the_cap_are_closed_on_accept(
    served: tuple[LoopbackServer, Seen],
) -> None:
    server, seen = served
    held = [connect(server) for _ in range(4)]
    try:
        for sock in held:  # each answered once: all four are registered
            sock.sendall(get("/held"))
            read_answer(sock)
        with connect(server) as extra:
            with contextlib.suppress(ConnectionResetError):  # refused before the send ended
                extra.sendall(get("/extra"))
            assert ending(extra) in ("reset", "closed")
        assert [r.path for r in seen] == ["/held"] * 4
    finally:
        for sock in held:
            sock.close()


def test_reset_is_a_real_rst(served: tuple[LoopbackServer, Seen]) -> None:
    server, seen = served
    with connect(server) as sock:
        sock.sendall(get("/reset"))
        with pytest.raises(ConnectionResetError):
            sock.recv(10)
    assert [r.path for r in seen] == ["/reset"]  # processed first: it was dispatched


def test_truncated_answer_announces_more_than_it_sends(
    served: tuple[LoopbackServer, Seen],
) -> None:
    server, _ = served
    with connect(server) as sock:
        sock.sendall(get("/truncate"))
        answer = read_all(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"Content-Length: 10" in head
    assert body == b"01234"


def test_drip_sends_the_body_byte_by_byte_then_closes(
    served: tuple[LoopbackServer, Seen],
) -> None:
    server, _ = served
    with connect(server) as sock:
        sock.sendall(get("/drip"))
        answer = read_all(sock)
    assert answer.endswith(b"\r\n\r\nabcde")


def test_a_slow_answer_does_not_block_others_and_is_reset_on_stop() -> None:
    seen: Seen = []
    server = LoopbackServer(echo(seen))
    server.start()
    slow = connect(server)
    try:
        slow.sendall(get("/slow"))  # answers after 30 s: a loop timer, not a sleep
        with connect(server) as other:
            other.sendall(get("/fast"))
            assert read_answer(other)[1] == b"GET /fast 0"  # the loop was free meanwhile
        assert [r.path for r in seen] == ["/slow", "/fast"]
        server.stop()
        assert ending(slow) == "reset"
    finally:
        slow.close()
        server.stop()


def test_header_injection_in_an_answer_becomes_a_500(served: tuple[LoopbackServer, Seen]) -> None:
    server, _ = served
    with connect(server) as sock:
        sock.sendall(get("/split"))
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 500 ")
    assert b"Set-Cookie" not in answer


def test_stop_leaves_no_thread_socket_or_connection() -> None:
    before = {t.ident for t in threading.enumerate()}
    server = LoopbackServer(echo([]))
    server.start()
    idle = connect(server)
    idle.sendall(get("/x"))
    read_answer(idle)
    address = server.address
    server.stop()
    try:
        assert idle.recv(10) == b""  # the idle keep-alive connection was closed
    finally:
        idle.close()
    assert server.open_connections == 0
    assert {t.ident for t in threading.enumerate()} <= before
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=5).close()


def test_a_handler_exception_is_a_500_not_a_hang() -> None:
    def broken(request: SandboxRequest) -> Any:
        raise RuntimeError("bug")

    server = LoopbackServer(broken)
    server.start()
    try:
        with connect(server) as sock:
            sock.sendall(get("/"))
            head, body = read_answer(sock)
        assert head.startswith(b"HTTP/1.1 500 ")
        assert body == b"sandbox error"
    finally:
        server.stop()


def test_faults_are_played_over_tls_too() -> None:
    pytest.importorskip("trustme")
    import ssl

    import trustme

    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    server = LoopbackServer(echo([]), ssl_context=server_context)
    server.start()

    def over_tls(path: str) -> bytes:
        raw_sock = connect(server)
        with client_context.wrap_socket(raw_sock, server_hostname="127.0.0.1") as sock:
            sock.sendall(get(path, "Connection: close\r\n"))
            return read_all(sock)

    def ends_in_rst(path: str) -> bool:
        """The TCP socket under TLS is reset (the ssl module reports a reset as a ragged EOF,
        so read the descriptor itself)."""
        raw_sock = connect(server)
        with client_context.wrap_socket(raw_sock, server_hostname="127.0.0.1") as sock:
            sock.sendall(get(path))
            while select.select([sock], [], [], 30)[0]:
                try:
                    if not os.read(sock.fileno(), 65536):
                        return False  # a FIN
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    return True
        return False

    try:
        assert ends_in_rst("/reset")
        truncated = over_tls("/truncate")
        assert truncated.endswith(b"Content-Length: 10\r\nConnection: close\r\n\r\n01234")
        assert over_tls("/fine").startswith(b"HTTP/1.1 200 OK\r\n")
    finally:
        server.stop()

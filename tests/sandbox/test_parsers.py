"""The two request parsers (h11, httptools) give the server the same requests and the same refusals.

Two levels: the parsers themselves, fed the same bytes whole, split at every position and a byte
at a time (their event streams must be equal: heads, bodies, keep-alive, errors, what a chunk
announced); and a `LoopbackServer` under each, on a socket (the `SandboxRequest`s dispatched and
the statuses answered must be equal). The few inputs where llhttp and h11 disagree and no check
of ours can make them agree are listed in ``KNOWN_DIFFERENCES`` and asserted as they are, so a
change in either parser shows here. Then how ``CREDITSDK_SANDBOX_PARSER`` is read.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from creditsdk.errors import ConfigurationError
from creditsdk.sandbox import SandboxRequest, SandboxResponse, _parsers
from creditsdk.sandbox._faults import Delivery
from creditsdk.sandbox._parsers import CLOSED, NEED_DATA, End, Error, Head, Parser
from creditsdk.sandbox._server import LoopbackServer

pytest.importorskip("httptools")

H = b"Host: h\r\n"
AFTER = b"GET /after HTTP/1.1\r\n" + H + b"\r\n"

CASES: dict[str, bytes] = {
    "content-length": b"POST /a?x=1&y=%20 HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n\r\nabc",
    "chunked": b"POST /c HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nTrailer-X: 1\r\n\r\n",
    "chunked-upper-case": b"POST /c HTTP/1.1\r\n" + H + b"Transfer-Encoding: CHUNKED\r\n\r\n"
    b"A\r\n0123456789\r\n0\r\n\r\n",
    "chunked-and-length": b"POST /t HTTP/1.1\r\n" + H
    + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n1\r\nx\r\n0\r\n\r\n",
    "pipelined": b"GET /1 HTTP/1.1\r\n" + H + b"\r\n" + b"GET /2?q HTTP/1.1\r\n" + H + b"\r\n"
    b"POST /3 HTTP/1.1\r\n" + H + b"Content-Length: 2\r\n\r\nhi"
    b"POST /4 HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    + AFTER,
    "odd-spacing-and-case": b"GET /s HTTP/1.1\r\nHOST:h\r\nx-A:   spaced value  \r\n"
    b"X-Tab:\tt\t\r\nX-Empty:\r\nCONTENT-length: 0\r\n\r\n",
    "repeated-header": b"GET /d HTTP/1.1\r\n" + H + b"X-A: 1\r\nx-a: 2\r\n\r\n",
    "obs-text-value": b"GET /o HTTP/1.1\r\n" + H + b"X-A: caf\xe9\r\n\r\n",
    "absolute-form": b"GET http://example.com:81/p?q=2 HTTP/1.1\r\n" + H + b"\r\n",
    "head": b"HEAD /h HTTP/1.1\r\n" + H + b"\r\n" + AFTER,
    "expect-100": b"POST /e HTTP/1.1\r\n" + H
    + b"Expect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
    "http-1.0": b"GET /old HTTP/1.0\r\n\r\n" + AFTER,
    "http-1.0-keep-alive": b"GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + AFTER,
    "http-1.2": b"GET /v HTTP/1.2\r\n" + H + b"\r\n" + AFTER,
    "connection-close": b"GET /c HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n" + AFTER,
    "close-among-tokens": b"GET /c HTTP/1.1\r\n" + H + b"Connection: keep-alive, Close\r\n\r\n"
    + AFTER,
    "upgrade": b"GET /u HTTP/1.1\r\n" + H + b"Connection: upgrade\r\nUpgrade: websocket\r\n\r\n"
    + AFTER,
    "upgrade-header-only": b"GET /u HTTP/1.1\r\n" + H + b"Upgrade: websocket\r\n\r\n" + AFTER,
    # refused
    "not-http": b"NOT HTTP AT ALL\r\n\r\n",
    "no-host": b"GET / HTTP/1.1\r\n\r\n",
    "two-hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "bad-content-length": b"GET / HTTP/1.1\r\n" + H + b"Content-Length: x\r\n\r\n",
    "negative-content-length": b"GET / HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n",
    "conflicting-content-lengths": b"POST / HTTP/1.1\r\n" + H
    + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "huge-content-length": b"POST / HTTP/1.1\r\n" + H
    + b"Content-Length: " + b"9" * 24 + b"\r\n\r\n",
    "content-length-past-cap": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 99999999999\r\n\r\n",
    "transfer-encoding-gzip": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\n",
    "gzip-then-chunked": b"POST / HTTP/1.1\r\n" + H
    + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    "two-transfer-encodings": b"POST / HTTP/1.1\r\n" + H
    + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "space-before-colon": b"GET / HTTP/1.1\r\n" + H + b"X-A : 1\r\n\r\n",
    "bad-header-name": b"GET / HTTP/1.1\r\n" + H + b"X(A): 1\r\n\r\n",
    "nul-in-value": b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n",
    "bad-chunk-size": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
    "non-ascii-target": b"GET /caf\xe9 HTTP/1.1\r\n" + H + b"\r\n",
    "userinfo-target": b"GET http://u@h/ HTTP/1.1\r\n" + H + b"\r\n",
    "asterisk-target": b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\n",
    "connect": b"CONNECT h:443 HTTP/1.1\r\n" + H + b"\r\n",
    "head-past-cap": b"GET / HTTP/1.1\r\n" + H + b"X: " + b"v" * 20_000 + b"\r\n\r\n",
    "target-past-cap": b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\n",
    "chunk-announced-past-cap": b"POST / HTTP/1.1\r\n" + H
    + b"Transfer-Encoding: chunked\r\n\r\n800001\r\n",
    "body-cut-short": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 10\r\n\r\nabc",
    "head-cut-short": b"GET / HTTP/1.1\r\n" + H,
    "good-then-bad": b"GET /ok HTTP/1.1\r\n" + H + b"\r\nNOT HTTP\r\n\r\n",
}  # fmt: skip

# (h11's status or None for "answered", httptools' likewise): llhttp is stricter about these
# (RFC 9112 lets a server refuse them; llhttp has no leniency that accepts only these), and
# follows RFC 9112 §2.2 on an empty line before a request where h11 refuses it.
KNOWN_DIFFERENCES: dict[str, tuple[bytes, tuple[int | None, int | None]]] = {
    "repeated-equal-content-length": (
        b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 2\r\nContent-Length: 2\r\n\r\nab",
        (None, 400),
    ),
    "content-length-list": (
        b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 1, 1\r\n\r\nx",
        (None, 400),
    ),
    "obs-fold": (b"GET / HTTP/1.1\r\n" + H + b"X-A: a\r\n b\r\n\r\n", (None, 400)),
    "bare-lf": (b"GET /lf HTTP/1.1\nHost: h\n\n", (None, 400)),
    "unknown-method": (b"FROB / HTTP/1.1\r\n" + H + b"\r\n", (None, 400)),
    "lower-case-method": (b"get / HTTP/1.1\r\n" + H + b"\r\n", (None, 400)),
    "empty-line-first": (b"\r\nGET /x HTTP/1.1\r\n" + H + b"\r\n", (400, None)),
}

CAP = 8 * 1024 * 1024


def _factory(name: str) -> Callable[[int], Parser]:
    chosen, factory = _parsers.choose(name)
    assert chosen == name
    return factory


def _events(name: str, pieces: list[bytes], max_header_bytes: int = 16 * 1024) -> list[object]:
    """Drive a parser as the server does (answering each request at once) and note the events;
    body pieces are joined (how the bytes were split may split them differently)."""
    parser = _factory(name)(max_header_bytes)
    out: list[object] = []
    chunked = False
    done = False

    def drain() -> None:
        nonlocal chunked, done
        while not done:
            event = parser.next_event()
            if isinstance(event, Head):
                chunked = "transfer-encoding" in event.headers
                size = len(event.target) + sum(len(n) + len(v) + 4 for n, v in event.items)
                if size > max_header_bytes:  # the server's check (which within_cap may skip)
                    assert not event.within_cap
                    out.append(("error", 431))
                    done = True
                    return
                out.append(("head", event.method, event.target, event.http_version, size,
                            event.headers))  # fmt: skip
            elif isinstance(event, bytes):
                if out and isinstance(out[-1], bytearray):
                    out[-1] += event
                else:
                    out.append(bytearray(event))
            elif isinstance(event, End):
                out.append(("end", event.keep_alive))
                if not event.keep_alive:
                    done = True
                    return
                out.append(("next", parser.next_cycle()[1]))
                chunked = False
            elif isinstance(event, Error):
                out.append(("error", event.status))
                done = True
            elif event is CLOSED:
                out.append("closed")
                done = True
            else:
                if event is NEED_DATA and chunked:
                    pending = parser.pending_chunk()
                    if pending > CAP:  # the server refuses here (413), before the data
                        out.append(("announced past the cap", pending))
                        done = True
                return

    for piece in pieces:
        if done:
            break
        parser.receive(piece)
        drain()
    if not done:
        parser.receive_eof()
        drain()
    return out


def _splits(raw: bytes) -> list[list[bytes]]:
    ways = [[raw]]
    if len(raw) <= 400:
        ways += [[raw[:i], raw[i:]] for i in range(1, len(raw))]
    if len(raw) <= 4000:
        ways.append([raw[i : i + 1] for i in range(len(raw))])
    return ways


@pytest.mark.parametrize("name", list(CASES))
def test_the_parsers_give_the_same_events_however_the_bytes_are_split(name: str) -> None:
    raw = CASES[name]
    whole = _events("h11", [raw])
    assert whole  # every case produces something
    for pieces in _splits(raw):
        assert _events("httptools", pieces) == whole, [len(p) for p in pieces]
        if len(pieces) > 2:
            assert _events("h11", pieces) == whole


def _compact_head(headers: int) -> bytes:
    return b"GET /c HTTP/1.1\r\n" + H + b"".join(b"a%d:b\r\n" % i for i in range(headers)) + b"\r\n"


@pytest.mark.parametrize("cap_offset", [-1, 0, 1])
def test_the_cap_on_a_whole_head_is_the_same_at_its_edge(cap_offset: int) -> None:
    """Compact headers ("a1:b") measure a byte more each than they take on the wire: a head
    that fits the cap in bytes can still measure past it, under both parsers alike."""
    raw = _compact_head(60)
    measured = len(b"/c") + 4 + 5 + sum(len(b"a%d" % i) + 1 + 4 for i in range(60))
    assert measured > len(raw)
    cap = measured + cap_offset
    whole = _events("h11", [raw], max_header_bytes=cap)
    assert (whole[0] == ("error", 431)) == (cap_offset < 0)
    for pieces in ([raw], [raw[:50], raw[50:]]):
        assert _events("httptools", pieces, max_header_bytes=cap) == whole


def _serve(parser: str, raw: bytes) -> tuple[list[bytes], list[tuple[object, ...]]]:
    """What a server under ``parser`` answered (the statuses) and dispatched, for ``raw``."""
    seen: list[SandboxRequest] = []

    def dispatch(request: SandboxRequest) -> Delivery:
        seen.append(request)
        return Delivery(SandboxResponse(200, b"ok"))

    server = LoopbackServer(dispatch, parser=parser)
    assert server.parser_name == parser
    server.start()
    try:
        with socket.create_connection(server.address, timeout=30) as sock:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)  # the server answers, then sees the end
            data = b""
            while piece := sock.recv(65536):
                data += piece
    finally:
        server.stop()
    statuses = [line.split(b" ")[1] for line in data.split(b"\r\n") if line.startswith(b"HTTP/1.")]
    requests = [(r.method, r.path, r.query_string, r.headers, r.body) for r in seen]
    return statuses, requests


@pytest.mark.parametrize("name", list(CASES))
def test_a_server_under_either_parser_dispatches_and_answers_the_same(name: str) -> None:
    h11_result = _serve("h11", CASES[name])
    assert h11_result[0]  # always an answer: a refusal or the dispatched requests'
    assert _serve("httptools", CASES[name]) == h11_result


def test_the_cases_cover_what_the_brief_names() -> None:
    statuses = {status for name in CASES for status in _serve("h11", CASES[name])[0]}
    assert statuses == {b"200", b"400", b"413", b"431", b"501"}
    pipelined = _serve("httptools", CASES["pipelined"])[1]
    assert [(r[0], r[1], r[4]) for r in pipelined] == [
        ("GET", "/1", b""), ("GET", "/2", b""), ("POST", "/3", b"hi"), ("POST", "/4", b"ok"),
        ("GET", "/after", b""),
    ]  # fmt: skip
    odd = _serve("httptools", CASES["odd-spacing-and-case"])[1][0][3]
    assert odd == {"host": "h", "x-a": "spaced value", "x-tab": "t", "x-empty": "",
                   "content-length": "0"}  # fmt: skip


@pytest.mark.parametrize("name", list(KNOWN_DIFFERENCES))
def test_known_differences_are_as_documented(name: str) -> None:
    raw, (h11_status, httptools_status) = KNOWN_DIFFERENCES[name]
    for parser, status in (("h11", h11_status), ("httptools", httptools_status)):
        statuses, requests = _serve(parser, raw)
        if status is None:
            assert statuses[0] == b"200", parser
            assert requests
        else:
            assert statuses == [str(status).encode()], parser
            assert requests == []


def test_an_upgrade_request_with_a_body_is_answered_and_closed_under_both() -> None:
    """The one difference in what is dispatched: for llhttp the bytes after an upgrade
    request's head belong to the new protocol, so its body is not read; h11 reads it. Both
    answer the request and close (no protocol switch is served)."""
    raw = (b"POST /u HTTP/1.1\r\n" + H + b"Connection: upgrade\r\nUpgrade: x\r\n"
           b"Content-Length: 3\r\n\r\nabc" + AFTER)  # fmt: skip
    (h11_statuses, h11_seen), (ht_statuses, ht_seen) = _serve("h11", raw), _serve("httptools", raw)
    assert h11_statuses == ht_statuses == [b"200"]
    assert [r[1] for r in h11_seen] == [r[1] for r in ht_seen] == ["/u"]
    assert (h11_seen[0][4], ht_seen[0][4]) == (b"abc", b"")


# -- CREDITSDK_SANDBOX_PARSER ------------------------------------------------------------------


def _no_httptools() -> object:
    raise ImportError("No module named 'httptools'")


def test_httptools_asked_for_but_not_installed_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_parsers, "_import_httptools", _no_httptools)
    monkeypatch.setenv("CREDITSDK_SANDBOX_PARSER", "httptools")
    with pytest.raises(ConfigurationError) as caught:
        LoopbackServer(lambda request: Delivery(None, "reset"))
    message = str(caught.value)
    assert "CREDITSDK_SANDBOX_PARSER" in message
    assert "pip install 'creditsdk[fast]'" in message


def test_unset_falls_back_to_h11_without_httptools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_parsers, "_import_httptools", _no_httptools)
    monkeypatch.delenv("CREDITSDK_SANDBOX_PARSER", raising=False)
    assert _parsers.choose()[0] == "h11"
    monkeypatch.setenv("CREDITSDK_SANDBOX_PARSER", "")
    assert _parsers.choose()[0] == "h11"


def test_unset_prefers_httptools_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDITSDK_SANDBOX_PARSER", raising=False)
    assert LoopbackServer(lambda request: Delivery(None, "reset")).parser_name == "httptools"


@pytest.mark.parametrize("value", ["h11", "H11", " httptools "])
def test_the_names_are_read_case_and_space_insensitively(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CREDITSDK_SANDBOX_PARSER", value)
    assert _parsers.choose()[0] == value.strip().lower()


@pytest.mark.parametrize("value", ["llhttp", "uvloop", "h2"])
def test_an_unknown_parser_is_refused_with_the_choices(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CREDITSDK_SANDBOX_PARSER", value)
    with pytest.raises(ConfigurationError) as caught:
        LoopbackServer(lambda request: Delivery(None, "reset"))
    message = str(caught.value)
    assert "CREDITSDK_SANDBOX_PARSER" in message
    assert "'httptools', 'h11' or unset" in message

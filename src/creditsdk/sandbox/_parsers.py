"""The loopback server's two request parsers, behind one small pull interface.

``_H11Parser`` wraps h11 (pure Python, always installed: the reference). ``_HttptoolsParser``
wraps httptools (llhttp, the C parser uvicorn uses: the fast path when it is installed) and adds
what h11 checks and llhttp does not (Host on HTTP/1.1, Transfer-Encoding other than chunked, the
cap on an incomplete head), so that both give the server the same events for the same bytes:

* `Head` — method, target, HTTP version, the raw header list and the lower-cased header dict;
* ``bytes`` — a piece of the body;
* `End` — the end of the request, and whether the client keeps the connection open;
* `Error` — the request is malformed: the status to answer (400, 431, 501) and stop;
* `NEED_DATA` / `PAUSED` / `CLOSED` — wait for bytes; a request is being answered; the client
  closed its end between requests.

The server takes events until it answers, then calls ``next_cycle()`` for the next request
(bytes the client already pipelined are kept for it). ``CREDITSDK_SANDBOX_PARSER`` chooses:
``httptools``, ``h11``, or unset: httptools when importable, else h11.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import h11

from ..errors import ConfigurationError

__all__ = ["CLOSED", "NEED_DATA", "PAUSED", "End", "Error", "Event", "Head", "Parser", "choose"]

ENV = "CREDITSDK_SANDBOX_PARSER"


class Head:
    """A request head. ``headers`` maps lower-cased names to values (the last one wins);
    ``within_cap``: the whole head is known to measure no more than ``max_header_bytes`` (it
    came in one read short enough), so the server need not measure it."""

    __slots__ = ("headers", "http_version", "items", "method", "target", "within_cap")

    def __init__(
        self,
        method: bytes,
        target: bytes,
        http_version: bytes,
        items: list[tuple[bytes, bytes]],
        headers: dict[str, str],
        within_cap: bool = False,
    ) -> None:
        self.method = method
        self.target = target
        self.http_version = http_version
        self.items = items
        self.headers = headers
        self.within_cap = within_cap


class End:
    __slots__ = ("keep_alive",)

    def __init__(self, keep_alive: bool) -> None:
        self.keep_alive = keep_alive


class Error:
    __slots__ = ("status",)

    def __init__(self, status: int) -> None:
        self.status = status


class _Signal:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NEED_DATA = _Signal("NEED_DATA")
PAUSED = _Signal("PAUSED")
CLOSED = _Signal("CLOSED")
_TAIL = 1024  # bytes of a chunked body kept to read a chunk's size line from
_END_KEEP = End(True)
_END_CLOSE = End(False)

Event = Head | bytes | End | Error | _Signal


class Parser(Protocol):
    name: str

    def receive(self, data: bytes) -> None: ...

    def receive_eof(self) -> None: ...

    def next_event(self) -> Event: ...

    def pending_chunk(self) -> int: ...

    def next_cycle(self) -> tuple[bool, bool]: ...


def _header_dict(items: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in items}


# -- h11 ---------------------------------------------------------------------------------------


class _H11Parser:
    """h11, one ``h11.Connection`` per request (fed what the client pipelined)."""

    name = "h11"
    __slots__ = ("_conn", "_max")

    def __init__(self, max_header_bytes: int) -> None:
        self._max = max_header_bytes
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=max_header_bytes)

    def receive(self, data: bytes) -> None:
        self._conn.receive_data(data)

    def receive_eof(self) -> None:
        with contextlib.suppress(h11.RemoteProtocolError):  # already closed, or in ERROR
            self._conn.receive_data(b"")

    def next_event(self) -> Event:
        conn = self._conn
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            return Error(exc.error_status_hint)  # 431 for a head past max_header_bytes
        if event is h11.NEED_DATA:
            return NEED_DATA
        kind = type(event)
        if kind is h11.Data:
            assert isinstance(event, h11.Data)
            return bytes(event.data)
        if kind is h11.Request:
            assert isinstance(event, h11.Request)
            # h11 validated the head; raw_items() is a plain list (cheaper than iterating).
            items = event.headers.raw_items()
            return Head(event.method, event.target, event.http_version, items, _header_dict(items))
        if kind is h11.EndOfMessage:
            # DONE unless the client asked to close, spoke HTTP/1.0 or proposed an upgrade
            return _END_KEEP if conn.their_state is h11.DONE else _END_CLOSE
        if kind is h11.ConnectionClosed:
            return CLOSED
        return PAUSED

    def pending_chunk(self) -> int:
        """Bytes the chunk being read has announced and not yet delivered.

        h11 exposes no public way to see a chunk's size before its data arrives; without it a
        client could announce a 1 GiB chunk and the cap would only see it byte by byte. Read
        defensively: if h11's internals change, this is 0 and the cap still applies to the data.
        """
        pending = getattr(getattr(self._conn, "_reader", None), "_bytes_in_chunk", 0)
        return pending if isinstance(pending, int) else 0

    def next_cycle(self) -> tuple[bool, bool]:
        leftover, closed = self._conn.trailing_data
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self._max)
        if leftover:
            self._conn.receive_data(leftover)
        if closed:
            self._conn.receive_data(b"")
        return bool(leftover), closed


# -- httptools ---------------------------------------------------------------------------------


class _Stop(Exception):
    """Raised from a callback to stop llhttp: the error is already queued."""


def _import_httptools() -> Any:
    import httptools  # no type stubs: used through a narrow Any

    return httptools


class _HttptoolsParser:
    """httptools (llhttp). One parser for the connection; llhttp parses eagerly, so events are
    queued, and bytes that arrive while a request is answered are held until ``next_cycle``
    (as h11 holds them), so a pipelining client is read no further ahead than under h11.

    What h11 accepts and llhttp refuses (400), with no leniency of llhttp's to accept only
    that: a repeated or comma-listed equal Content-Length, obs-fold, a bare LF as line end, a
    method llhttp does not know (or in lower case). And llhttp skips an empty line before a
    request line (RFC 9112 §2.2), which h11 refuses; and it does not read the body of an upgrade
    request (``Connection: upgrade`` with ``Upgrade``: what follows the head is the new
    protocol's), which is dispatched with an empty body where h11 reads it (both close after the
    answer). tests/sandbox/test_parsers.py keeps the list."""

    name = "httptools"

    def __init__(self, max_header_bytes: int, module: Any) -> None:
        self._module = module
        self._max = max_header_bytes
        self._parser = module.HttpRequestParser(self)
        # As h11 does: Transfer-Encoding with Content-Length (chunked wins), any HTTP/x.y.
        self._parser.set_dangerous_leniencies(lenient_chunked_length=True, lenient_version=True)
        self._events: deque[Event] = deque()
        self._url: list[bytes] = []
        self._items: list[tuple[bytes, bytes]] = []
        self._head_raw = 0  # bytes of a head that has not ended yet (h11's incomplete event)
        self._in_message = False
        self._head_done = False
        self._ended_in_feed = False
        self._begun_in_feed = False
        self._feeding = 0  # the length of the bytes being fed
        self._chunked = False
        self._chunk_open = False
        self._chunk_new = False
        self._chunk_size = 0
        self._chunk_got = 0
        self._tail = b""
        self._paused = False
        self._held: list[bytes] = []
        self._eof = False
        self._stopped = False
        self._keep = True

    # -- the interface ---------------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        if self._stopped:
            return
        if self._paused:
            self._held.append(data)
            return
        self._feed(data)

    def receive_eof(self) -> None:
        if self._stopped:
            return
        if self._paused:
            self._eof = True
            return
        self._stopped = True
        if self._in_message:
            self._events.append(Error(400))  # h11: "peer unexpectedly closed connection"
        else:
            self._events.append(CLOSED)

    def next_event(self) -> Event:
        if self._paused:
            return PAUSED
        if self._events:
            event = self._events.popleft()
            if type(event) is End:
                self._paused = True
            return event
        return NEED_DATA

    def pending_chunk(self) -> int:
        if not self._chunk_open:
            return 0
        return max(0, self._chunk_size - self._chunk_got)

    def next_cycle(self) -> tuple[bool, bool]:
        self._paused = False
        held, self._held = self._held, []
        for data in held:
            self.receive(data)
        leftover = bool(held) or bool(self._events) or self._in_message
        closed = self._eof
        if closed:
            self._eof = False
            self.receive_eof()
        return leftover, closed

    # -- feeding llhttp --------------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        self._ended_in_feed = False
        self._begun_in_feed = False
        self._feeding = len(data)
        self._chunk_new = False
        module = self._module
        try:
            self._parser.feed_data(data)
        except module.HttpParserUpgrade:
            # An upgrade (or CONNECT) request: answered, then closed (h11 pauses there too).
            self._stopped = True
        except module.HttpParserError as exc:
            if not self._stopped:  # (stopped: a check of ours already queued the error)
                # h11 answers 501 to a Transfer-Encoding it does not implement; llhttp's
                # reason is the only sign of which error it is.
                self._fail(501 if "Transfer-Encoding" in str(exc) else 400)
            return
        if self._stopped:
            return
        if self._in_message and not self._head_done:
            # A head still incomplete: h11 refuses it past the cap (431). Its bytes are all of
            # this feed, or (begun after a request that ended here) at least what llhttp read.
            if self._ended_in_feed:
                self._head_raw = sum(map(len, self._url)) + sum(
                    len(name) + len(value) + 4 for name, value in self._items
                )
            else:
                self._head_raw += len(data)
            if self._head_raw > self._max:
                self._fail(431)
                return
        if self._chunked:  # the last bytes of a chunked body, where a size line may begin
            if self._chunk_new and self._chunk_open:
                self._chunk_size = _announced(self._tail, data, self._chunk_got)
            self._tail = data[-_TAIL:] if len(data) >= _TAIL else (self._tail + data)[-_TAIL:]

    def _fail(self, status: int) -> None:
        self._events.append(Error(status))
        self._stopped = True

    def _check(self, status: int) -> None:
        self._fail(status)
        raise _Stop

    # -- llhttp's callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._in_message = True
        self._begun_in_feed = True
        self._head_done = False
        self._url = []
        self._items = []
        self._head_raw = 0
        self._chunked = False
        self._tail = b""

    def on_url(self, url: bytes) -> None:
        self._url.append(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        # (a whole head past the cap is refused by the server, as under h11; an incomplete
        # one in _feed.) A chunked body's trailers are dropped, as h11 drops them.
        if not self._head_done:
            self._items.append((name, value.strip(b" \t")))

    def on_headers_complete(self) -> None:
        self._head_done = True
        parser = self._parser
        items = self._items
        headers = _header_dict(items)
        version = parser.get_http_version().encode("ascii")
        method = parser.get_method()
        # What h11 checks and llhttp does not (h11's normalize_and_validate and Request).
        if len(headers) != len(items):  # a name repeated: the rare, slow path
            names = [name.lower() for name, _ in items]
            if names.count(b"host") > 1:
                self._check(400)
            if names.count(b"transfer-encoding") > 1:
                self._check(501)
        if version == b"1.1" and "host" not in headers:
            self._check(400)
        encoding = headers.get("transfer-encoding")
        if encoding is not None:
            if encoding.lower() != "chunked":
                self._check(501)
            headers["transfer-encoding"] = "chunked"  # h11 normalises it so
            self._chunked = True
        # h11's keep-alive rule: HTTP/1.1 or later, no "close" token, no upgrade proposal.
        connection = headers.get("connection")
        self._keep = (
            version >= b"1.1"
            and method != b"CONNECT"
            and (connection is None or "close" not in connection.lower()
                 or "close" not in _tokens(connection))
            and ("upgrade" not in headers or not _tokens(headers["upgrade"]))
        )  # fmt: skip
        # The server's measure (target + each name and value + 4) exceeds the raw head by at
        # most one byte a header ("a:b\r\n" is 5 bytes, measured 6): bounded by the read.
        within_cap = self._begun_in_feed and self._feeding + len(items) <= self._max
        self._events.append(Head(method, b"".join(self._url), version, items, headers, within_cap))

    def on_body(self, body: bytes) -> None:
        if self._chunked:
            self._chunk_got += len(body)
        self._events.append(body)

    def on_chunk_header(self) -> None:
        self._chunk_open = True
        self._chunk_new = True
        self._chunk_got = 0
        self._chunk_size = 0

    def on_chunk_complete(self) -> None:
        self._chunk_open = False

    def on_message_complete(self) -> None:
        self._in_message = False
        self._head_done = False
        self._ended_in_feed = True
        self._chunk_open = False
        self._events.append(_END_KEEP if self._keep else _END_CLOSE)


def _tokens(value: str) -> list[str]:
    return [token for token in (t.strip() for t in value.lower().split(",")) if token]


def _announced(tail: bytes, data: bytes, got: int) -> int:
    """The size a chunk's size line announced: llhttp read the line and does not tell the
    number. The line ends ``got`` bytes before the end of ``data`` (it may have begun in
    ``tail``, the last bytes fed before). Read defensively: 0 if it cannot be read (a size line
    longer than the tail), and the cap still applies to the data as it arrives."""
    end = len(data) - got
    before = data[max(0, end - _TAIL) : end]
    if end < _TAIL:
        before = tail + before
    line = before[before.rfind(b"\n", 0, len(before) - 1) + 1 :]
    try:
        return int(line.split(b";", 1)[0].strip(), 16)
    except ValueError:
        return 0


# -- choosing ----------------------------------------------------------------------------------


def choose(wanted: str | None = None) -> tuple[str, Callable[[int], Parser]]:
    """The parser's name and its factory ``(max_header_bytes) -> Parser``: ``wanted``, or else
    ``CREDITSDK_SANDBOX_PARSER`` (``httptools``, ``h11``; unset: httptools when importable)."""
    if wanted is None:
        wanted = os.environ.get(ENV, "")
    wanted = wanted.strip().lower()
    if wanted not in ("", "h11", "httptools"):
        raise ConfigurationError(
            f"{ENV} must be 'httptools', 'h11' or unset (unset: httptools when installed)"
        )
    if wanted == "h11":
        return "h11", _H11Parser
    try:
        module = _import_httptools()
    except ImportError:
        if wanted == "httptools":
            raise ConfigurationError(
                f"{ENV}=httptools but httptools is not installed: "
                "pip install 'creditsdk[fast]' (or unset it to use h11)"
            ) from None
        return "h11", _H11Parser

    def factory(max_header_bytes: int) -> Parser:
        return _HttptoolsParser(max_header_bytes, module)

    return "httptools", factory

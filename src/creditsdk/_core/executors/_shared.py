"""What every executor shares, written once: settings, the deadline, the size cap, the body
reader, the billing-safe meaning of a transport failure, and the async run loop.

Nothing here imports an HTTP library: `_httpx` and `_aiohttp` only translate their library's
objects and exceptions into the names used here, so both follow exactly the same rules.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import zlib
from collections.abc import AsyncIterable, Awaitable, Callable, Generator, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from ...errors import ConfigurationError, CreditSDKError, ResponseIntegrityError, TransportError
from ..auth import Token, TokenCache
from ..call import Cancelled, GetToken, Send, Sleep, drive
from ..config import (
    DEFAULT_TIMEOUT,
    NOT_GIVEN,
    NotGiven,
    TimeoutArg,
    configure_logging_from_env,
    resolve_timeout,
)
from ..consent import AuditSink, normalize_sinks
from ..gates import Gate
from ..operation import Operation
from ..policy import Failure, Processed, lost
from ..redact import install_log_filters
from ..retry import RetryPolicy
from ..wire import Request
from ._limits import DEFAULT_MAX_RESPONSE_BYTES, check_max_bytes

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "AsyncExecutor",
    "Progress",
    "TransportBase",
    "Undecodable",
    "attempt_deadline",
    "check_max_bytes",
    "origin",
]

T = TypeVar("T")
log = logging.getLogger("creditsdk")

#: Headers that describe the encoded body: the executors hand the Operation a decoded one.
_DROPPED_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class TooLarge(Exception):
    """Raised by a reader once the decoded answer passes the cap."""


class DeadlineHit(Exception):
    """Raised by an executor when the attempt's deadline passes."""


class Undecodable(Exception):
    """The answer's Content-Encoding is unknown or its bytes do not inflate."""


# -- the wire ------------------------------------------------------------------------------------


def wire_headers(request: Request) -> list[tuple[str, str]]:
    """The header fields both executors send after ``Host``, in this order: the Operation's,
    then ``Content-Length`` (for a body, or a body method without one). Both libraries then add
    only ``Host`` in front, so the same Operation gives the same bytes on the wire."""
    headers = list(request.headers)
    if (request.body or request.method in _BODY_METHODS) and not any(
        k.lower() == "content-length" for k, _ in headers
    ):
        headers.append(("Content-Length", str(len(request.body))))
    return headers


def _decode_header_bytes(raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    pairs = list(raw)
    for encoding in ("ascii", "utf-8"):  # as httpx guesses: then ISO-8859-1, which never fails
        try:
            return [(k.decode(encoding), v.decode(encoding)) for k, v in pairs]
        except UnicodeDecodeError:
            continue
    return [(k.decode("iso-8859-1"), v.decode("iso-8859-1")) for k, v in pairs]


def answer_headers(raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """An answer's header fields as the Operation sees them: decoded as httpx decodes them,
    without those describing the encoded body (the body handed over is decoded)."""
    return [(k, v) for k, v in _decode_header_bytes(raw) if k.lower() not in _DROPPED_HEADERS]


def origin(url: str) -> str:
    """``scheme://host:port`` of ``url``: what an error may name (never the path or query)."""
    from ..config import url_parts

    parts = url_parts(url)
    if parts is None or not parts.hostname:
        return "the provider"
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}:{port}" if port else f"{scheme}://{host}"


# -- the body ------------------------------------------------------------------------------------


class Reader:
    """Collects an answer's body as it arrives, decoding gzip/deflate itself so that the cap
    counts *decoded* bytes and is enforced while inflating (a 1 MB gzip bomb is refused after
    ``limit`` bytes of output, not after inflating it all)."""

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        self._limit = limit
        self._size = 0
        self._parts: list[bytes] = []
        encoding = (content_encoding or "").strip().lower()
        self._z: Any = None
        self._gzip = encoding in ("gzip", "x-gzip")
        # "deflate" is zlib-wrapped (RFC 9110 §8.4.1.2) or, from some servers, raw (httpx reads
        # both): told apart by the first two bytes, however the answer is cut into chunks.
        self._deflate_head: bytes | None = b"" if encoding == "deflate" else None
        if self._gzip:
            self._z = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding not in ("", "identity", "deflate"):
            raise Undecodable(f"unsupported Content-Encoding {encoding[:20]!r}")

    def _add(self, data: bytes) -> None:
        if not data:
            return
        self._size += len(data)
        if self._size > self._limit:
            raise TooLarge
        self._parts.append(data)

    def _start_deflate(self) -> bytes:
        head = self._deflate_head or b""
        self._deflate_head = None
        wrapped = len(head) >= 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0
        self._z = zlib.decompressobj() if wrapped else zlib.decompressobj(-zlib.MAX_WBITS)
        return head

    def feed(self, raw: bytes) -> None:
        if self._deflate_head is not None:
            self._deflate_head += raw
            if len(self._deflate_head) < 2:
                return
            raw = self._start_deflate()
        if self._z is None:
            self._add(raw)
            return
        data = raw
        while data:
            try:
                out = self._z.decompress(data, self._limit - self._size + 1)
            except zlib.error as exc:
                raise Undecodable(f"answer could not be inflated ({exc})") from exc
            self._add(out)
            data = self._z.unconsumed_tail
            if not data and self._z.eof and self._gzip and self._z.unused_data:
                # Another gzip member follows (RFC 1952 §2.2): readers concatenate them.
                data = self._z.unused_data
                self._z = zlib.decompressobj(zlib.MAX_WBITS | 16)

    def finish(self) -> bytes:
        if self._deflate_head:  # one byte in all: not even a header
            self.feed(self._start_deflate())
        if self._z is not None:
            try:
                self._add(self._z.flush())
            except zlib.error as exc:
                raise Undecodable(f"answer could not be inflated ({exc})") from exc
        return b"".join(self._parts)


def past_deadline(deadline_at: float | None, clock: Callable[[], float]) -> None:
    if deadline_at is not None and clock() > deadline_at:
        raise DeadlineHit


async def read_body(
    chunks: AsyncIterable[bytes],
    content_encoding: str | None,
    limit: int,
    deadline_at: float | None,
    clock: Callable[[], float],
) -> bytes:
    """The decoded body from raw ``chunks``, capped at ``limit``, within ``deadline_at``."""
    reader = Reader(content_encoding, limit)
    async for chunk in chunks:
        reader.feed(chunk)
        past_deadline(deadline_at, clock)
    return reader.finish()


# -- what a failure means ------------------------------------------------------------------------


def transport_failure(kind: str, name: str, url: str) -> Failure:
    """The billing-safe meaning of a failure an HTTP library raised, by ``kind``:

    ``connect`` (nothing reached the provider: refused, connect or pool timeout, TLS),
    ``config`` (a URL the library cannot send to), ``proxy`` (the proxy refused), ``read_timeout``
    / ``timeout`` (sent, no answer in time), ``decode`` (an answer that does not inflate) and
    ``lost`` (the connection broke after sending). ``name`` is the httpx spelling, so messages and
    retry reasons read the same whichever library sent the request.
    """
    if kind == "connect":
        return Failure(
            Processed.NO, name, TransportError(f"could not connect to {origin(url)} ({name})")
        )
    if kind == "config":
        return Failure(Processed.NO, name, ConfigurationError(f"bad base URL ({name})"))
    if kind == "proxy":
        return Failure(Processed.NO, name, TransportError(f"proxy refused ({name})"))
    if kind in ("read_timeout", "timeout"):
        what = "no answer within the read timeout" if kind == "read_timeout" else name
        return Failure(Processed.MAYBE, name, TransportError(what))
    if kind == "decode":
        return Failure(
            Processed.MAYBE, name, ResponseIntegrityError(f"answer could not be decoded ({name})")
        )
    # ReadError, WriteError, RemoteProtocolError, …: the connection broke after we started
    # sending; the provider may have processed the request.
    return Failure(Processed.MAYBE, name, TransportError(f"connection lost ({name})"))


class Progress:
    """How far one attempt got. ``sent``: the library reported that it began writing the
    request. A library (or a caller's transport) that reports nothing is taken to have
    received the request once it was handed over (``handed``): the safe side."""

    __slots__ = ("handed", "reporting", "sent", "status")

    def __init__(self, reporting: bool) -> None:
        self.handed = False
        self.sent = False
        self.reporting = reporting  # will the library tell us when it starts sending?
        self.status: int | None = None

    def started_sending(self) -> bool:
        return self.sent or (self.handed and not self.reporting)


def attempt_deadline(timeout: httpx.Timeout) -> float | None:
    """The whole-attempt deadline for ``timeout``: the largest of its parts (None: none)."""
    parts = [
        t for t in (timeout.connect, timeout.read, timeout.write, timeout.pool) if t is not None
    ]
    return max(parts) if parts else None


def _sinks(audit: object) -> tuple[AuditSink, ...]:
    try:
        return normalize_sinks(audit)
    except TypeError:
        raise ConfigurationError(
            "audit= takes an AuditSink (e.g. creditsdk.MemoryAuditSink() or "
            "creditsdk.JsonlAuditSink(path)), a callable taking an AuditEvent, a list of "
            f"those, or None for the default log; not a {type(audit).__name__}"
        ) from None


def cancel(gen: Generator[Any, Any, Any], exc: BaseException, sent: bool) -> None:
    """Tell the call generator it was cancelled (it audits); the caller then re-raises."""
    try:
        gen.send(Cancelled(type(exc).__name__, sent))
    except StopIteration:
        pass
    except Exception:  # pragma: no cover - auditing must not replace the cancellation
        log.exception("creditsdk: recording a cancelled call failed")


def _uncancel(task: asyncio.Task[Any]) -> int:
    """Withdraw our own cancel request; the number still pending (the caller's) is returned."""
    uncancel = getattr(task, "uncancel", None)  # Python 3.11+
    return int(uncancel()) if uncancel is not None else 0


class TransportBase:
    """The settings every executor holds, and the start of each call."""

    #: "with" or "async with", for the closed-client message.
    _with = "async with"

    def __init__(
        self,
        *,
        provider: str,
        timeout: TimeoutArg | NotGiven,
        retry: RetryPolicy | None,
        audit: object,
        fallback_timeout: httpx.Timeout | None,
        owns_client: bool,
        rng: random.Random | None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        clock: Callable[[], float] = time.monotonic,
        gates: tuple[Gate, ...] = (),
    ) -> None:
        install_log_filters()  # on first use, never at import
        configure_logging_from_env()
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigurationError(f"retry must be a creditsdk.RetryPolicy, not {retry!r}")
        self.provider = provider
        # A caller-owned client's own timeout is the default; ours is finite either way.
        self.timeout = resolve_timeout(timeout, fallback_timeout or DEFAULT_TIMEOUT)
        self._owns_client = owns_client
        self.retry = retry or RetryPolicy()
        self.sinks = _sinks(audit)
        self._rng = rng or random.Random()
        self.max_response_bytes = check_max_bytes(max_response_bytes)
        self._clock = clock
        self._closed = False
        self.gates = tuple(gates)
        self.tokens = TokenCache(clock)

    def _check_open(self, library_closed: bool) -> None:
        if self._closed or library_closed:
            whose = "client" if self._closed or self._owns_client else "http_client you passed"
            raise ConfigurationError(
                f"the {self.provider} {whose} is closed; create a new client "
                f"(or keep using it inside one `{self._with}` block)",
                provider=self.provider,
            )

    def _start(
        self,
        op: Operation[T],
        timeout: TimeoutArg | NotGiven,
        retry: RetryPolicy | NotGiven,
    ) -> tuple[Generator[Send | Sleep | GetToken, Any, T], httpx.Timeout]:
        policy = self.retry if isinstance(retry, NotGiven) else retry
        if not isinstance(policy, RetryPolicy):
            raise ConfigurationError(f"retry must be a creditsdk.RetryPolicy, not {retry!r}")
        resolved = resolve_timeout(timeout, self.timeout)
        gen = drive(
            op,
            policy,
            attempt_deadline(resolved),
            self.sinks,
            self._rng,
            self.max_response_bytes,
            self.gates,
        )
        return gen, resolved

    def _failure(self, exc: Exception, progress: Progress, command: Send) -> Failure:
        """What an exception an attempt raised means (never re-raised: an outcome)."""
        if isinstance(exc, TooLarge):
            return lost("too_large", sent=True, status=progress.status, limit=command.max_bytes)
        if isinstance(exc, DeadlineHit):
            return lost("deadline", sent=True, status=progress.status, deadline=command.deadline)
        if isinstance(exc, Undecodable):
            return transport_failure("decode", "DecodingError", command.request.url)
        known = self._library_failure(exc, command.request.url)
        if known is not None:
            return known
        return lost("foreign", sent=progress.started_sending(), status=progress.status, cause=exc)

    def _library_failure(self, exc: Exception, url: str) -> Failure | None:
        """The meaning of one of the HTTP library's own exceptions (None: not one of them)."""
        raise NotImplementedError


class AsyncExecutor(TransportBase):
    """The async run loop: the call generator's commands, each attempt under its deadline.

    A library plugs in `_prepare` (the library's request, or a never-sent `Failure`) and
    `_send` (send it, read the capped body, return the `wire.Response`).
    """

    _sleep: Callable[[float], Awaitable[None]]

    def _is_closed(self) -> bool:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError

    def _prepare(self, command: Send, timeouts: Any, progress: Progress) -> Any:
        raise NotImplementedError

    async def _send(
        self, prepared: Any, command: Send, progress: Progress, deadline_at: float | None
    ) -> Any:
        raise NotImplementedError

    def _new_progress(self) -> Progress:
        raise NotImplementedError

    def _timeouts(self, resolved: httpx.Timeout) -> Any:
        return resolved.as_dict()

    async def run(
        self,
        op: Operation[T],
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> T:
        self._check_open(self._is_closed())
        gen, resolved = self._start(op, timeout, retry)
        timeouts = self._timeouts(resolved)
        command = next(gen)
        while True:
            outcome: Any = None
            if type(command) is Send:
                outcome = await self._exchange(gen, command, timeouts)
            elif isinstance(command, Sleep):
                try:
                    await self._sleep(command.seconds)
                except BaseException as exc:  # CancelledError and the like
                    cancel(gen, exc, sent=False)
                    raise
            else:
                assert isinstance(command, GetToken)
                outcome = await self._token(gen, command, timeout, retry)
            try:
                command = gen.send(outcome)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]

    async def _token(
        self,
        gen: Generator[Any, Any, Any],
        command: GetToken,
        timeout: TimeoutArg | NotGiven,
        retry: RetryPolicy | NotGiven,
    ) -> Token | CreditSDKError:
        """The cached token, else one fetch (tasks asking at once wait for it)."""
        cache, auth = self.tokens, command.auth
        try:
            if command.stale is not None:
                cache.drop(auth, command.stale)
            token = cache.fresh(auth)
            if token is not None:
                return token
            async with cache.async_fetch_lock(auth):
                token = cache.fresh(auth)
                if token is None:
                    began = cache.now()
                    token = await self.run(auth.fetch(), timeout=timeout, retry=retry)
                    cache.store(auth, token, began)
            return token
        except CreditSDKError as exc:
            return exc
        except BaseException as exc:
            cancel(gen, exc, sent=False)
            raise

    async def _exchange(self, gen: Generator[Any, Any, Any], command: Send, timeouts: Any) -> Any:
        """One attempt: send, read the answer within the cap, all within the deadline.

        The deadline is a timer that cancels this task (as ``asyncio.timeout`` does), so a
        server trickling bytes, or holding its headers, cannot stretch the attempt.
        """
        progress = self._new_progress()
        prepared = self._prepare(command, timeouts, progress)
        if isinstance(prepared, Failure):
            return prepared
        deadline = command.deadline
        deadline_at = None if deadline is None else self._clock() + deadline
        task = asyncio.current_task()
        expired = False
        timer: asyncio.TimerHandle | None = None
        if deadline is not None and task is not None:

            def expire() -> None:
                nonlocal expired
                expired = True
                task.cancel()

            timer = asyncio.get_running_loop().call_later(deadline, expire)
        try:
            progress.handed = True
            return await self._send(prepared, command, progress, deadline_at)
        except asyncio.CancelledError as exc:
            sent = progress.started_sending()
            if expired and (task is None or _uncancel(task) == 0):
                # our timer, not the caller's cancel
                return lost("deadline", sent=sent, status=progress.status, deadline=deadline)
            cancel(gen, exc, sent)
            raise
        except Exception as exc:
            return self._failure(exc, progress, command)
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: audit, then propagate
            cancel(gen, exc, progress.started_sending())
            raise
        finally:
            if timer is not None:
                timer.cancel()

"""The executors: run the call generator's commands over httpx, sync or async.

They are the only code in the core that knows httpx: a `wire.Request` becomes an
``httpx.Request`` (sent through the client's own or the caller's ``http_client=``, so respx and
``httpx.MockTransport`` work), the answer is read as it streams — decoded and capped by
`_Reader`, within the attempt's deadline — and becomes a `wire.Response`; httpx's exceptions
become `policy.Failure` values saying whether the request could have reached the provider.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import zlib
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

import httpx

from ..errors import ConfigurationError, CreditSDKError, ResponseIntegrityError, TransportError
from .auth import Token, TokenCache
from .call import Cancelled, GetToken, Send, Sleep, drive
from .config import (
    DEFAULT_TIMEOUT,
    NOT_GIVEN,
    NotGiven,
    TimeoutArg,
    configure_logging_from_env,
    resolve_timeout,
)
from .consent import AuditSink, normalize_sinks
from .gates import Gate
from .httplog import note_query
from .operation import Operation
from .policy import Failure, Processed, lost
from .pool import ShardedAsyncTransport, default_async_client
from .redact import install_log_filters
from .retry import RetryPolicy
from .wire import Request, Response

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "AsyncTransport",
    "SyncTransport",
    "as_httpx",
    "attempt_deadline",
]

T = TypeVar("T")
log = logging.getLogger("creditsdk")

#: The largest answer a client reads, in decoded bytes (the largest real answer is ~10 KB).
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024


class _TooLarge(Exception):
    """Raised by a reader once the decoded answer passes the cap."""


class _DeadlineHit(Exception):
    """Raised by an executor when the attempt's deadline passes."""


class _Progress:
    """How far one attempt got, from httpcore's ``trace`` events.

    httpcore reports each step of an exchange; until it reports that it began sending the
    request headers, nothing reached the network (waiting for a connection, connecting, TLS).
    A transport that reports nothing (respx, ``httpx.MockTransport``, the Sandbox's in-process
    transport, a caller's own) is taken to have received the request once it was handed over.
    """

    __slots__ = ("handed", "sent", "traced")

    def __init__(self) -> None:
        self.handed = False
        self.traced = False
        self.sent = False

    def note(self, name: str) -> None:
        self.traced = True
        if name.endswith("send_request_headers.started"):
            self.sent = True

    def trace(self, name: str, info: object) -> None:
        self.note(name)

    async def atrace(self, name: str, info: object) -> None:
        self.note(name)

    def started_sending(self, client: httpx.Client | httpx.AsyncClient, url: httpx.URL) -> bool:
        if self.sent:
            return True
        if not self.handed:
            return False
        return not (self.traced or _reports_progress(client, url))


def _reports_progress(client: httpx.Client | httpx.AsyncClient, url: httpx.URL) -> bool:
    """Does the transport for ``url`` emit httpcore trace events (so silence means unsent)?"""
    try:
        transport = client._transport_for_url(url)
    except Exception:  # a private httpx method: if it changes, assume the worst (sent)
        return False
    return isinstance(
        transport, (httpx.HTTPTransport, httpx.AsyncHTTPTransport, ShardedAsyncTransport)
    )


class _Reader:
    """Collects an answer's body as it arrives, decoding gzip/deflate itself so that the cap
    counts *decoded* bytes and is enforced while inflating (a 1 MB gzip bomb is refused after
    ``limit`` bytes of output, not after inflating it all)."""

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        self._limit = limit
        self._size = 0
        self._parts: list[bytes] = []
        self._raw_deflate_fallback = False
        encoding = (content_encoding or "").strip().lower()
        self._z: Any = None
        self._gzip = encoding in ("gzip", "x-gzip")
        if self._gzip:
            self._z = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            self._z = zlib.decompressobj()
            self._raw_deflate_fallback = True  # some servers send raw deflate, as httpx allows
        elif encoding not in ("", "identity"):
            raise httpx.DecodingError(f"unsupported Content-Encoding {encoding[:20]!r}")

    def _add(self, data: bytes) -> None:
        if not data:
            return
        self._size += len(data)
        if self._size > self._limit:
            raise _TooLarge
        self._parts.append(data)

    def feed(self, raw: bytes) -> None:
        if self._z is None:
            self._add(raw)
            return
        data = raw
        while data:
            try:
                out = self._z.decompress(data, self._limit - self._size + 1)
            except zlib.error as exc:
                if self._raw_deflate_fallback and self._size == 0:
                    self._raw_deflate_fallback = False
                    self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise httpx.DecodingError(f"answer could not be inflated ({exc})") from exc
            self._raw_deflate_fallback = False
            self._add(out)
            data = self._z.unconsumed_tail
            if not data and self._z.eof and self._gzip and self._z.unused_data:
                # Another gzip member follows (RFC 1952 §2.2): readers concatenate them.
                data = self._z.unused_data
                self._z = zlib.decompressobj(zlib.MAX_WBITS | 16)

    def finish(self) -> bytes:
        if self._z is not None:
            try:
                self._add(self._z.flush())
            except zlib.error as exc:
                raise httpx.DecodingError(f"answer could not be inflated ({exc})") from exc
        return b"".join(self._parts)


def _preread_body(response: httpx.Response, limit: int) -> bytes | None:
    """The body of a response that was already read in memory (mocks do that), else None."""
    if not response.is_stream_consumed:
        return None
    try:
        content = response.content
    except httpx.ResponseNotRead:
        return None
    if len(content) > limit:
        raise _TooLarge
    return content


def _read_sync(
    response: httpx.Response, limit: int, deadline_at: float | None, clock: Callable[[], float]
) -> bytes:
    body = _preread_body(response, limit)
    if body is not None:
        return body
    reader = _Reader(response.headers.get("Content-Encoding"), limit)
    for chunk in response.iter_raw():
        reader.feed(chunk)
        if deadline_at is not None and clock() > deadline_at:
            raise _DeadlineHit
    return reader.finish()


async def _read_async(
    response: httpx.Response, limit: int, deadline_at: float | None, clock: Callable[[], float]
) -> bytes:
    body = _preread_body(response, limit)
    if body is not None:
        return body
    reader = _Reader(response.headers.get("Content-Encoding"), limit)
    async for chunk in response.aiter_raw():
        reader.feed(chunk)
        if deadline_at is not None and clock() > deadline_at:
            raise _DeadlineHit
    return reader.finish()


_DROPPED_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def as_httpx(request: Request) -> httpx.Request:
    """The ``httpx.Request`` the executors send for ``request`` (tests read wire bytes off it)."""
    return httpx.Request(
        request.method, request.url, headers=request.headers, content=request.body or None
    )


def _to_httpx(request: Request, timeout: dict[str, Any], trace: object) -> httpx.Request:
    note_query(request.url)
    built = as_httpx(request)
    built.extensions = {"timeout": timeout, "trace": trace}
    return built


def _to_wire(response: httpx.Response, body: bytes, url: str) -> Response:
    """The answer for the Operation's parser: ``body`` is decoded, so the headers that
    described the encoded body are dropped."""
    headers = [
        (k, v) for k, v in response.headers.multi_items() if k.lower() not in _DROPPED_HEADERS
    ]
    return Response(response.status_code, headers, body, url)


def _httpx_failure(exc: httpx.HTTPError | httpx.InvalidURL) -> Failure:
    name = type(exc).__name__
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        # Nothing reached the provider.
        return Failure(Processed.NO, name, TransportError(f"could not connect ({name})"))
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return Failure(Processed.NO, name, ConfigurationError(f"bad base URL ({name})"))
    if isinstance(exc, httpx.ProxyError):
        return Failure(Processed.NO, name, TransportError(f"proxy refused ({name})"))
    if isinstance(exc, httpx.TimeoutException):
        what = "no answer within the read timeout" if isinstance(exc, httpx.ReadTimeout) else name
        return Failure(Processed.MAYBE, name, TransportError(what))
    if isinstance(exc, httpx.DecodingError):
        return Failure(
            Processed.MAYBE,
            name,
            ResponseIntegrityError(f"answer could not be decoded ({name})"),
        )
    # ReadError, WriteError, RemoteProtocolError, …: the connection broke after we started
    # sending; the provider may have processed the request.
    return Failure(Processed.MAYBE, name, TransportError(f"connection lost ({name})"))


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


def check_max_bytes(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(
            f"max_response_bytes must be a whole number of bytes >= 1, not {value!r}"
        )
    return value


def _cancel(gen: Generator[Any, Any, Any], exc: BaseException, sent: bool) -> None:
    """Tell the call generator it was cancelled (it audits); the caller then re-raises."""
    try:
        gen.send(Cancelled(type(exc).__name__, sent))
    except StopIteration:
        pass
    except Exception:  # pragma: no cover - auditing must not replace the cancellation
        log.exception("creditsdk: recording a cancelled call failed")


class _TransportBase:
    def __init__(
        self,
        *,
        provider: str,
        timeout: TimeoutArg | NotGiven,
        retry: RetryPolicy | None,
        audit: object,
        http_client: object,
        client_type: type[httpx.Client] | type[httpx.AsyncClient],
        rng: random.Random | None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        clock: Callable[[], float] = time.monotonic,
        gates: tuple[Gate, ...] = (),
    ) -> None:
        install_log_filters()  # on first use, never at import
        configure_logging_from_env()
        if http_client is not None and not isinstance(http_client, client_type):
            twin, kind = (
                ("AsyncClient", "async") if client_type is httpx.Client else ("Client", "sync")
            )
            raise ConfigurationError(
                f"http_client must be an httpx.{client_type.__name__} "
                f"(an httpx.{twin} goes with the {kind} client)"
            )
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigurationError(f"retry must be a creditsdk.RetryPolicy, not {retry!r}")
        self.provider = provider
        # A caller-owned client's own timeout is the default; ours is finite either way.
        fallback = http_client.timeout if isinstance(http_client, client_type) else DEFAULT_TIMEOUT
        self.timeout = resolve_timeout(timeout, fallback)
        self._owns_client = http_client is None
        self.retry = retry or RetryPolicy()
        self.sinks = _sinks(audit)
        self._rng = rng or random.Random()
        self.max_response_bytes = check_max_bytes(max_response_bytes)
        self._clock = clock
        self._closed = False
        self._with = "with" if client_type is httpx.Client else "async with"
        self.gates = tuple(gates)
        self.tokens = TokenCache(clock)

    def _check_open(self, http_client: httpx.Client | httpx.AsyncClient) -> None:
        if self._closed or http_client.is_closed:
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


class SyncTransport(_TransportBase):
    """Runs Operations over an ``httpx.Client`` (owned, or the caller's via ``http_client=``)."""

    def __init__(
        self,
        *,
        provider: str,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
        audit: object = None,
        verify: Any = True,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        clock: Callable[[], float] = time.monotonic,
        gates: tuple[Gate, ...] = (),
    ) -> None:
        super().__init__(
            provider=provider,
            timeout=timeout,
            retry=retry,
            audit=audit,
            http_client=http_client,
            client_type=httpx.Client,
            rng=rng,
            max_response_bytes=max_response_bytes,
            clock=clock,
            gates=gates,
        )
        self.http_client = http_client or httpx.Client(timeout=self.timeout, verify=verify)
        self._sleep = sleep

    def run(
        self,
        op: Operation[T],
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> T:
        self._check_open(self.http_client)
        gen, resolved = self._start(op, timeout, retry)
        timeouts = resolved.as_dict()
        command = next(gen)
        while True:
            outcome: Any = None
            if isinstance(command, Send):
                outcome = self._exchange(gen, command, timeouts)
            elif isinstance(command, Sleep):
                try:
                    self._sleep(command.seconds)
                except BaseException as exc:  # KeyboardInterrupt and the like
                    _cancel(gen, exc, sent=False)
                    raise
            else:
                outcome = self._token(gen, command, timeout, retry)
            try:
                command = gen.send(outcome)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]

    def _token(
        self,
        gen: Generator[Any, Any, Any],
        command: GetToken,
        timeout: TimeoutArg | NotGiven,
        retry: RetryPolicy | NotGiven,
    ) -> Token | CreditSDKError:
        """The cached token, else one fetch (threads asking at once wait for it)."""
        cache, auth = self.tokens, command.auth
        try:
            if command.stale is not None:
                cache.drop(auth, command.stale)
            token = cache.fresh(auth)
            if token is not None:
                return token
            with cache.fetch_lock(auth):
                token = cache.fresh(auth)
                if token is None:
                    began = cache.now()
                    token = self.run(auth.fetch(), timeout=timeout, retry=retry)
                    cache.store(auth, token, began)
            return token
        except CreditSDKError as exc:
            return exc
        except BaseException as exc:
            _cancel(gen, exc, sent=False)
            raise

    def _exchange(
        self, gen: Generator[Any, Any, Any], command: Send, timeouts: dict[str, Any]
    ) -> Any:
        """One attempt: send, read the answer within the cap and the deadline."""
        clock = self._clock
        progress = _Progress()
        try:
            request = _to_httpx(command.request, timeouts, progress.trace)
        except (httpx.InvalidURL, httpx.HTTPError) as exc:
            return _httpx_failure(exc)
        except ValueError as exc:  # urllib's "Invalid IPv6 URL" and the like: never sent
            return _httpx_failure(httpx.InvalidURL(str(exc)))
        deadline_at = None if command.deadline is None else clock() + command.deadline
        status: int | None = None
        try:
            progress.handed = True
            response = self.http_client.send(request, stream=True)
            status = response.status_code
            try:
                if deadline_at is not None and clock() > deadline_at:
                    raise _DeadlineHit
                body = _read_sync(response, command.max_bytes, deadline_at, clock)
            finally:
                response.close()
            return _to_wire(response, body, command.request.url)
        except httpx.HTTPError as exc:
            return _httpx_failure(exc)
        except _TooLarge:
            return lost("too_large", sent=True, status=status, limit=command.max_bytes)
        except _DeadlineHit:
            return lost("deadline", sent=True, status=status, deadline=command.deadline)
        except Exception as exc:
            sent = progress.started_sending(self.http_client, request.url)
            return lost("foreign", sent=sent, status=status, cause=exc)
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: audit, then propagate
            _cancel(gen, exc, progress.started_sending(self.http_client, request.url))
            raise

    def close(self) -> None:
        self._closed = True
        if self._owns_client:
            self.http_client.close()


class AsyncTransport(_TransportBase):
    """Runs Operations over an ``httpx.AsyncClient``."""

    def __init__(
        self,
        *,
        provider: str,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        audit: object = None,
        verify: Any = True,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        clock: Callable[[], float] = time.monotonic,
        gates: tuple[Gate, ...] = (),
    ) -> None:
        super().__init__(
            provider=provider,
            timeout=timeout,
            retry=retry,
            audit=audit,
            http_client=http_client,
            client_type=httpx.AsyncClient,
            rng=rng,
            max_response_bytes=max_response_bytes,
            clock=clock,
            gates=gates,
        )
        self.http_client = http_client or default_async_client(self.timeout, verify)
        self._sleep = sleep

    async def run(
        self,
        op: Operation[T],
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> T:
        self._check_open(self.http_client)
        gen, resolved = self._start(op, timeout, retry)
        timeouts = resolved.as_dict()
        command = next(gen)
        while True:
            outcome: Any = None
            if isinstance(command, Send):
                outcome = await self._exchange(gen, command, timeouts)
            elif isinstance(command, Sleep):
                try:
                    await self._sleep(command.seconds)
                except BaseException as exc:  # CancelledError and the like
                    _cancel(gen, exc, sent=False)
                    raise
            else:
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
            _cancel(gen, exc, sent=False)
            raise

    async def _exchange(
        self, gen: Generator[Any, Any, Any], command: Send, timeouts: dict[str, Any]
    ) -> Any:
        """One attempt: send, read the answer within the cap, all within the deadline.

        The deadline is a timer that cancels this task (as ``asyncio.timeout`` does), so a
        server trickling bytes, or holding its headers, cannot stretch the attempt.
        """
        clock = self._clock
        progress = _Progress()
        try:
            request = _to_httpx(command.request, timeouts, progress.atrace)
        except (httpx.InvalidURL, httpx.HTTPError) as exc:
            return _httpx_failure(exc)
        except ValueError as exc:  # urllib's "Invalid IPv6 URL" and the like: never sent
            return _httpx_failure(httpx.InvalidURL(str(exc)))
        deadline_at = None if command.deadline is None else clock() + command.deadline
        status: int | None = None
        task = asyncio.current_task()
        expired = False
        timer: asyncio.TimerHandle | None = None
        if command.deadline is not None and task is not None:

            def expire() -> None:
                nonlocal expired
                expired = True
                task.cancel()

            timer = asyncio.get_running_loop().call_later(command.deadline, expire)
        try:
            progress.handed = True
            response = await self.http_client.send(request, stream=True)
            status = response.status_code
            try:
                if deadline_at is not None and clock() > deadline_at:
                    raise _DeadlineHit
                body = await _read_async(response, command.max_bytes, deadline_at, clock)
            finally:
                await response.aclose()
            return _to_wire(response, body, command.request.url)
        except httpx.HTTPError as exc:
            return _httpx_failure(exc)
        except _TooLarge:
            return lost("too_large", sent=True, status=status, limit=command.max_bytes)
        except _DeadlineHit:
            return lost("deadline", sent=True, status=status, deadline=command.deadline)
        except asyncio.CancelledError as exc:
            sent = progress.started_sending(self.http_client, request.url)
            if expired and (task is None or _uncancel(task) == 0):
                # our timer, not the caller's cancel
                return lost("deadline", sent=sent, status=status, deadline=command.deadline)
            _cancel(gen, exc, sent)
            raise
        except Exception as exc:
            sent = progress.started_sending(self.http_client, request.url)
            return lost("foreign", sent=sent, status=status, cause=exc)
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: audit, then propagate
            _cancel(gen, exc, progress.started_sending(self.http_client, request.url))
            raise
        finally:
            if timer is not None:
                timer.cancel()

    async def aclose(self) -> None:
        self._closed = True
        if self._owns_client:
            await self.http_client.aclose()


def _uncancel(task: asyncio.Task[Any]) -> int:
    """Withdraw our own cancel request; the number still pending (the caller's) is returned."""
    uncancel = getattr(task, "uncancel", None)  # Python 3.11+
    return int(uncancel()) if uncancel is not None else 0

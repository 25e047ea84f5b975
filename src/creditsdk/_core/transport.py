"""The only code that sends anything: runs Operations with retries, timeouts, logging and audit.

The retry loop is written once, as a generator (`_drive`) that yields *commands* — "send
this request", "wait this long" — and receives their outcomes. `SyncTransport` and
`AsyncTransport` only execute those commands, so both follow exactly the same rules.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
import urllib.request
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from types import TracebackType
from typing import Any, TypeVar

import attrs
import httpx

from ..errors import (
    ConfigurationError,
    CreditSDKError,
    DeadlineExceededError,
    ProviderError,
    RateLimitedError,
    ResponseIntegrityError,
    ResponseTooLargeError,
    TransportError,
)
from .config import DEFAULT_TIMEOUT, NOT_GIVEN, NotGiven, TimeoutArg, resolve_timeout
from .consent import AuditEvent, AuditSink, emit_all, normalize_sinks
from .operation import Operation
from .redact import mask_name
from .retry import RetryEvent, RetryPolicy, parse_retry_after

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "AsyncClientBase",
    "AsyncTransport",
    "ShardedAsyncTransport",
    "SyncClientBase",
    "SyncTransport",
]

T = TypeVar("T")
log = logging.getLogger("creditsdk")

#: The largest answer a client reads, in decoded bytes (the largest real answer is ~10 KB).
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
#: Statuses that say "not processed": 429 (slow down) and 503 (not accepting work). A 502 or
#: 504 means a gateway forwarded the request and got no (valid) answer back (RFC 9110 §15.6.3,
#: §15.6.5): the provider may have processed it, like any other 5xx page.
_NOT_PROCESSED_STATUSES = frozenset({429, 503})
_GATEWAY_STATUSES = frozenset({502, 504})


class _Processed(enum.Enum):
    NO = "no"  # the provider cannot have processed (or billed) the attempt
    MAYBE = "maybe"  # it may have: the request was sent and the answer was lost


@attrs.frozen
class _Send:
    request: httpx.Request
    deadline: float | None  # seconds for the whole attempt, None for none
    max_bytes: int


@attrs.frozen
class _Sleep:
    seconds: float


class _TooLarge(Exception):
    """Raised by a reader once the decoded answer passes the cap."""


class _DeadlineHit(Exception):
    """Raised by an executor when the attempt's deadline passes."""


@attrs.frozen
class _Lost:
    """An attempt the executor ended without an answer: what happened and was it sent."""

    kind: str  # "deadline" | "too_large" | "foreign"
    sent: bool
    status: int | None = None
    cause: BaseException | None = None


@attrs.frozen
class _Cancelled:
    """The call was cancelled (CancelledError, KeyboardInterrupt …) while running a command."""

    error_type: str
    sent: bool  # had the attempt under way started sending?


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


def _complete(response: httpx.Response, body: bytes) -> httpx.Response:
    """A read response holding ``body`` (decoded), for the Operation's parser."""
    headers = [
        (k, v)
        for k, v in response.headers.multi_items()
        if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    ]
    return httpx.Response(
        response.status_code, headers=headers, content=body, request=response.request
    )


def attempt_deadline(timeout: httpx.Timeout) -> float | None:
    """The whole-attempt deadline for ``timeout``: the largest of its parts (None: none)."""
    parts = [
        t for t in (timeout.connect, timeout.read, timeout.write, timeout.pool) if t is not None
    ]
    return max(parts) if parts else None


@attrs.frozen
class _Failure:
    processed: _Processed
    reason: str  # short, masked: goes into logs and RetryEvent
    error: CreditSDKError  # what to raise if we stop here
    retry_after: float | None = None


def _safe_url(request: httpx.Request) -> str:
    # Never the query string: FireEye and Sesame carry personal data and signatures there.
    return (
        f"{request.url.scheme}://{request.url.netloc.decode('ascii', 'replace')}{request.url.path}"
    )


def _classify_exception(exc: httpx.HTTPError, provider: str) -> _Failure:
    name = type(exc).__name__
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        # Nothing reached the provider.
        return _Failure(
            _Processed.NO, name, TransportError(f"could not connect ({name})", provider=provider)
        )
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return _Failure(
            _Processed.NO, name, ConfigurationError(f"bad base URL ({name})", provider=provider)
        )
    if isinstance(exc, httpx.ProxyError):
        return _Failure(
            _Processed.NO, name, TransportError(f"proxy refused ({name})", provider=provider)
        )
    if isinstance(exc, httpx.TimeoutException):
        what = "no answer within the read timeout" if isinstance(exc, httpx.ReadTimeout) else name
        return _Failure(_Processed.MAYBE, name, TransportError(what, provider=provider))
    if isinstance(exc, httpx.DecodingError):
        return _Failure(
            _Processed.MAYBE,
            name,
            ResponseIntegrityError(f"answer could not be decoded ({name})", provider=provider),
        )
    # ReadError, WriteError, RemoteProtocolError, …: the connection broke after we started
    # sending; the provider may have processed the request.
    return _Failure(
        _Processed.MAYBE, name, TransportError(f"connection lost ({name})", provider=provider)
    )


def _classify_status(op: Operation[Any], response: httpx.Response) -> _Failure | None:
    """Statuses answered by something in front of the provider, not by the provider itself."""
    status = response.status_code
    if status < 400 or op.is_provider_answer(response):
        return None
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return _Failure(
            _Processed.NO,
            "HTTP 429",
            RateLimitedError(
                "rate limited (HTTP 429)",
                provider=op.provider,
                code="429",
                http_status=429,
                retry_after=retry_after,
            ),
            retry_after=retry_after,
        )
    if status in _NOT_PROCESSED_STATUSES:
        # 503 from a gateway or load balancer: it did not take the request on.
        return _Failure(
            _Processed.NO,
            f"HTTP {status}",
            TransportError(
                f"HTTP {status} from a gateway", provider=op.provider, http_status=status
            ),
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if status in _GATEWAY_STATUSES:
        # 502/504: a gateway forwarded the request and gave up on the answer. The provider
        # may have processed (and billed) it.
        return _Failure(
            _Processed.MAYBE,
            f"HTTP {status}",
            TransportError(
                f"HTTP {status} from a gateway after the request went upstream",
                provider=op.provider,
                http_status=status,
            ),
        )
    if status >= 500:
        return _Failure(
            _Processed.MAYBE,
            f"HTTP {status}",
            TransportError(
                f"HTTP {status} server error page", provider=op.provider, http_status=status
            ),
        )
    if status == 404:
        err: CreditSDKError = ConfigurationError(
            f"HTTP 404 for {response.request.url.path}: check the base URL",
            provider=op.provider,
            http_status=404,
        )
    else:
        err = ProviderError(
            f"HTTP {status} without a provider answer",
            provider=op.provider,
            code=str(status),
            http_status=status,
        )
    return _Failure(_Processed.NO, f"HTTP {status}", err)


def _scrub_names(err: CreditSDKError, names: tuple[str, ...]) -> None:
    for name in names:
        if not name:
            continue
        masked = mask_name(name)
        err.message = err.message.replace(name, masked)
        err.args = tuple(a.replace(name, masked) if isinstance(a, str) else a for a in err.args)
        sub_msg = getattr(err, "sub_msg", None)
        if isinstance(sub_msg, str):
            err.sub_msg = sub_msg.replace(name, masked)  # type: ignore[attr-defined]


class _HttpxQueryFilter(logging.Filter):
    """httpx logs every request's full URL at INFO ("HTTP Request: GET https://…?data=…").
    FireEye's GET layout carries the card, ID number, mobile and app key in the query, so on
    the ``httpx`` logger the query of any endpoint creditsdk sent one to is replaced."""

    def __init__(self) -> None:
        super().__init__()
        self._endpoints: set[tuple[bytes, str]] = set()

    def note(self, url: httpx.URL) -> None:
        if url.query:
            self._endpoints.add((url.netloc, url.path))

    def _clean(self, arg: object) -> object:
        if isinstance(arg, httpx.URL) and arg.query and (arg.netloc, arg.path) in self._endpoints:
            return f"{arg.copy_with(query=None)}?<redacted>"
        return arg

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(self._clean(a) for a in record.args)
        return True


_QUERY_FILTER = _HttpxQueryFilter()
_QUERY_FILTER_INSTALLED = False


def _note_query(request: httpx.Request) -> None:
    global _QUERY_FILTER_INSTALLED
    if not request.url.query:
        return
    _QUERY_FILTER.note(request.url)
    if not _QUERY_FILTER_INSTALLED:
        # First, before the masking filter creditsdk._core.redact puts on this logger.
        logging.getLogger("httpx").filters.insert(0, _QUERY_FILTER)
        _QUERY_FILTER_INSTALLED = True


def _finish_error(
    err: CreditSDKError, *, attempts: int, maybe_billed: bool, http_status: int | None
) -> CreditSDKError:
    err.attempts = attempts
    if err.http_status is None:
        err.http_status = http_status
    if isinstance(err, (TransportError, ResponseIntegrityError)):
        err.maybe_billed = maybe_billed
    return err


def _outcome_name(err: BaseException) -> str:
    if isinstance(err, TransportError):
        return "transport_error"
    if isinstance(err, ResponseIntegrityError):
        return "integrity_error"
    if isinstance(err, ProviderError):
        return "provider_error"
    return "error"


def _classify_lost(lost: _Lost, op: Operation[Any], deadline: float | None, limit: int) -> _Failure:
    processed = _Processed.MAYBE if lost.sent else _Processed.NO
    err: CreditSDKError
    if lost.kind == "too_large":
        err = ResponseTooLargeError(
            f"answer larger than {limit} bytes (max_response_bytes); not read further",
            provider=op.provider,
            http_status=lost.status,
            limit=limit,
        )
        return _Failure(_Processed.MAYBE, "answer too large", err)
    if lost.kind == "deadline":
        err = DeadlineExceededError(
            f"no complete answer within the {deadline:g} s deadline of the attempt",
            provider=op.provider,
            http_status=lost.status,
            deadline=deadline,
        )
        return _Failure(processed, "deadline exceeded", err)
    name = type(lost.cause).__name__
    err = TransportError(f"the HTTP client failed unexpectedly ({name})", provider=op.provider)
    err.__cause__ = lost.cause
    return _Failure(processed, name, err)


def _handle_answer(op: Operation[T], response: httpx.Response) -> tuple[_Failure | None, T | None]:
    """The typed result of an answer, or the failure it is. Raises only CreditSDKError."""
    try:
        failure = _classify_status(op, response)
        if failure is not None:
            return failure, None
        return None, op.parse_response(response)
    except RateLimitedError as exc:
        # The provider refused to process: safe to retry after its wait.
        return _Failure(_Processed.NO, "rate limited", exc, exc.retry_after), None
    except CreditSDKError:
        raise
    except Exception as exc:  # a parser must not leak foreign exception types
        # Chained and named, so a bug stays visible; a garbled answer is still an answer.
        raised = ResponseIntegrityError(
            f"answer could not be parsed ({type(exc).__name__})", provider=op.provider
        )
        raise raised from exc


def _drive(
    op: Operation[T],
    policy: RetryPolicy,
    timeout: httpx.Timeout,
    sinks: tuple[AuditSink, ...],
    rng: random.Random,
    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> Generator[_Send | _Sleep, Any, T]:
    """The whole life of one logical call. Yields commands; returns the result or raises.

    An executor answers ``_Send`` with a read ``httpx.Response``, an ``httpx.HTTPError``, a
    `_Lost` or a `_Cancelled` (after which it re-raises the cancellation);
    ``_Sleep`` with None or a `_Cancelled`.
    """
    maybe_processed = False  # did any attempt possibly reach the provider without an answer?
    sent_any = False  # did any attempt start sending? (then a cancellation is audited)
    attempt = 0
    last_status: int | None = None
    deadline = attempt_deadline(timeout)
    while True:
        attempt += 1
        request = op.build_request(attempt)
        request.extensions = {**request.extensions, "timeout": timeout.as_dict()}
        _note_query(request)
        started = time.perf_counter()
        if log.isEnabledFor(logging.DEBUG):  # _safe_url is not free: only when it is shown
            log.debug(
                "%s %s → %s %s (attempt %d)",
                op.provider,
                op.name,
                request.method,
                _safe_url(request),
                attempt,
            )
        outcome = yield _Send(request, deadline, max_bytes)
        if isinstance(outcome, _Cancelled):
            _audit_cancelled(op, sinks, outcome, attempt, sent_any, maybe_processed, last_status)
            return None  # type: ignore[return-value]  # the executor re-raises
        failure: _Failure | None = None
        result: T | None = None
        raised: CreditSDKError | None = None
        if isinstance(outcome, _Lost):
            sent_any = sent_any or outcome.sent
            last_status = outcome.status or last_status
            failure = _classify_lost(outcome, op, deadline, max_bytes)
        elif isinstance(outcome, httpx.HTTPError):
            failure = _classify_exception(outcome, op.provider)
            sent_any = sent_any or failure.processed is _Processed.MAYBE
            log.debug(
                "%s %s ✗ %s after %.0f ms",
                op.provider,
                op.name,
                failure.reason,
                (time.perf_counter() - started) * 1000,
            )
        else:
            response: httpx.Response = outcome
            sent_any = True
            last_status = response.status_code
            log.debug(
                "%s %s ← HTTP %d in %.0f ms",
                op.provider,
                op.name,
                response.status_code,
                (time.perf_counter() - started) * 1000,
            )
            try:
                answer = _handle_answer(op, response)
            except CreditSDKError as exc:
                raised = exc
                if isinstance(raised, ResponseIntegrityError):
                    maybe_processed = True
            else:
                failure, result = answer
        if failure is None and raised is None:
            try:
                outcome_name = op.outcome_of(result)  # type: ignore[arg-type]
                transaction_id = op.transaction_id_of(result)  # type: ignore[arg-type]
            except Exception as exc:  # pragma: no cover - an Operation bug, kept visible
                raised = ResponseIntegrityError(
                    f"answer could not be parsed ({type(exc).__name__})", provider=op.provider
                )
                raised.__cause__ = exc
                maybe_processed = True
            else:
                _audit(
                    op,
                    sinks,
                    outcome=outcome_name,
                    attempts=attempt,
                    maybe_billed=False,
                    transaction_id=transaction_id,
                    http_status=last_status,
                )
                return result  # type: ignore[return-value]
        if failure is not None:
            if failure.processed is _Processed.MAYBE:
                maybe_processed = True
            delay = _retry_delay(op, policy, failure, attempt, rng)
            if delay is not None:
                log.info(
                    "%s %s: attempt %d failed (%s); retrying in %.2f s",
                    op.provider,
                    op.name,
                    attempt,
                    failure.reason,
                    delay,
                )
                if policy.on_retry is not None:
                    policy.on_retry(
                        RetryEvent(op.provider, op.name, attempt, delay, failure.reason)
                    )
                slept = yield _Sleep(delay)
                if isinstance(slept, _Cancelled):
                    _audit_cancelled(
                        op, sinks, slept, attempt, sent_any, maybe_processed, last_status
                    )
                    return None  # type: ignore[return-value]  # the executor re-raises
                continue
            raised = failure.error
        assert raised is not None
        _scrub_names(raised, op.names)
        err = _finish_error(
            raised,
            attempts=attempt,
            maybe_billed=op.billed and maybe_processed,
            http_status=last_status,
        )
        _audit(
            op,
            sinks,
            outcome=_outcome_name(err),
            attempts=attempt,
            maybe_billed=op.billed and maybe_processed,
            transaction_id=err.transaction_id,
            error=err,
            http_status=last_status,
        )
        log.info("%s %s failed: %s", op.provider, op.name, err)
        raise err


def _audit_cancelled(
    op: Operation[Any],
    sinks: tuple[AuditSink, ...],
    cancelled: _Cancelled,
    attempts: int,
    sent_any: bool,
    maybe_processed: bool,
    last_status: int | None,
) -> None:
    """One event for a call cancelled after it started sending; none if nothing was sent."""
    if not (sent_any or cancelled.sent):
        return
    _audit(
        op,
        sinks,
        outcome="cancelled",
        attempts=attempts,
        maybe_billed=op.billed and (maybe_processed or cancelled.sent),
        transaction_id=None,
        http_status=last_status,
        error_type=cancelled.error_type,
    )
    log.info(
        "%s %s cancelled (%s)%s",
        op.provider,
        op.name,
        cancelled.error_type,
        " after the request was sent: maybe billed" if cancelled.sent else "",
    )


def _retry_delay(
    op: Operation[Any],
    policy: RetryPolicy,
    failure: _Failure,
    attempt: int,
    rng: random.Random,
) -> float | None:
    """Seconds to wait before the next attempt, or None to stop: the billing-safe rule."""
    if attempt >= policy.max_attempts:
        return None
    if failure.processed is _Processed.MAYBE and not op.idempotent:
        # The provider may have processed (and billed) it: sending again could bill twice.
        return None
    if isinstance(failure.error, ConfigurationError):
        return None
    if isinstance(failure.error, ProviderError) and not isinstance(failure.error, RateLimitedError):
        return None  # e.g. a proxy's 401: the same request will get the same answer
    if failure.retry_after is not None:
        if failure.retry_after > policy.max_retry_after:
            return None
        return failure.retry_after
    return policy.backoff(attempt, rng)


def _audit(
    op: Operation[Any],
    sinks: tuple[AuditSink, ...],
    *,
    outcome: str,
    attempts: int,
    maybe_billed: bool,
    transaction_id: str | None,
    http_status: int | None,
    error: CreditSDKError | None = None,
    error_type: str | None = None,
) -> None:
    if not op.billed or not sinks:
        return
    emit_all(
        sinks,
        AuditEvent(
            provider=op.provider,
            operation=op.name,
            outcome=outcome,
            attempts=attempts,
            maybe_billed=maybe_billed,
            applicant=op.applicant,
            consent_reference=op.consent.reference if op.consent else None,
            consent_purpose=op.consent.purpose if op.consent else None,
            transaction_id=transaction_id,
            error_code=error.code if error else None,
            error_type=type(error).__name__ if error else error_type,
            http_status=http_status,
        ),
    )


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
    ) -> None:
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
        self.max_response_bytes = _check_max_bytes(max_response_bytes)
        self._clock = clock
        self._closed = False
        self._with = "with" if client_type is httpx.Client else "async with"

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
    ) -> Generator[_Send | _Sleep, Any, T]:
        policy = self.retry if isinstance(retry, NotGiven) else retry
        if not isinstance(policy, RetryPolicy):
            raise ConfigurationError(f"retry must be a creditsdk.RetryPolicy, not {retry!r}")
        return _drive(
            op,
            policy,
            resolve_timeout(timeout, self.timeout),
            self.sinks,
            self._rng,
            self.max_response_bytes,
        )


def _sinks(audit: object) -> tuple[AuditSink, ...]:
    try:
        return normalize_sinks(audit)
    except TypeError:
        raise ConfigurationError(
            "audit= takes an AuditSink (e.g. creditsdk.MemoryAuditSink() or "
            "creditsdk.JsonlAuditSink(path)), a callable taking an AuditEvent, a list of "
            f"those, or None for the default log; not a {type(audit).__name__}"
        ) from None


def _check_max_bytes(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(
            f"max_response_bytes must be a whole number of bytes >= 1, not {value!r}"
        )
    return value


def _cancel(gen: Generator[Any, Any, Any], exc: BaseException, sent: bool) -> None:
    """Tell the call generator it was cancelled (it audits); the caller then re-raises."""
    try:
        gen.send(_Cancelled(type(exc).__name__, sent))
    except StopIteration:
        pass
    except Exception:  # pragma: no cover - auditing must not replace the cancellation
        log.exception("creditsdk: recording a cancelled call failed")


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
        gen = self._start(op, timeout, retry)
        command = next(gen)
        while True:
            outcome: Any = None
            if isinstance(command, _Send):
                outcome = self._exchange(gen, command)
            else:
                try:
                    self._sleep(command.seconds)
                except BaseException as exc:  # KeyboardInterrupt and the like
                    _cancel(gen, exc, sent=False)
                    raise
            try:
                command = gen.send(outcome)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]

    def _exchange(self, gen: Generator[Any, Any, Any], command: _Send) -> Any:
        """One attempt: send, read the answer within the cap and the deadline."""
        request, clock = command.request, self._clock
        progress = _Progress()
        request.extensions = {**request.extensions, "trace": progress.trace}
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
            return _complete(response, body)
        except httpx.HTTPError as exc:
            return exc
        except _TooLarge:
            return _Lost("too_large", True, status)
        except _DeadlineHit:
            return _Lost("deadline", True, status)
        except Exception as exc:
            sent = progress.started_sending(self.http_client, request.url)
            return _Lost("foreign", sent, status, exc)
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: audit, then propagate
            _cancel(gen, exc, progress.started_sending(self.http_client, request.url))
            raise

    def close(self) -> None:
        self._closed = True
        if self._owns_client:
            self.http_client.close()


class _ReleasingStream(httpx.AsyncByteStream):
    """The response body of a sharded pool; tells the shard when the exchange is over."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._release is not None:
                self._release()
                self._release = None


class ShardedAsyncTransport(httpx.AsyncBaseTransport):
    """An httpx async transport that spreads requests over several small connection pools.

    httpcore's pool re-scans every queued request against every connection whenever a request
    starts or ends, so its cost grows with the square of the concurrency: at 200 concurrent
    requests on one pool that scan was ~80 % of the client's CPU (benchmarks/RESULTS.md). Many
    small pools keep every scan short. Each request goes to the pool with the fewest requests in
    flight (ties: the first, so idle keep-alive connections are reused).

    ``shards × connections_per_shard`` is the connection limit (default 64 × 4 = 256). One SSL
    context is shared by every pool.
    """

    def __init__(
        self, *, verify: Any = True, shards: int = 64, connections_per_shard: int = 4
    ) -> None:
        import ssl

        context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify)
        limits = httpx.Limits(
            max_connections=connections_per_shard,
            max_keepalive_connections=connections_per_shard,
        )
        self._pools = [
            httpx.AsyncHTTPTransport(verify=context, limits=limits) for _ in range(shards)
        ]
        self._in_flight = [0] * shards

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        loads = self._in_flight
        i = loads.index(min(loads))
        loads[i] += 1

        def release() -> None:
            loads[i] -= 1

        try:
            response = await self._pools[i].handle_async_request(request)
        except BaseException:
            release()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_ReleasingStream(response.stream, release),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


def _default_async_client(timeout: httpx.Timeout, verify: Any) -> httpx.AsyncClient:
    """The sharded pool, unless the environment names a proxy.

    httpx ignores ``HTTP(S)_PROXY`` for a client given its own transport, so with a proxy in the
    environment the plain client is used: it routes like the sync client does.
    """
    if urllib.request.getproxies():
        return httpx.AsyncClient(timeout=timeout, verify=verify)
    return httpx.AsyncClient(timeout=timeout, transport=ShardedAsyncTransport(verify=verify))


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
        )
        self.http_client = http_client or _default_async_client(self.timeout, verify)
        self._sleep = sleep

    async def run(
        self,
        op: Operation[T],
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> T:
        self._check_open(self.http_client)
        gen = self._start(op, timeout, retry)
        command = next(gen)
        while True:
            outcome: Any = None
            if isinstance(command, _Send):
                outcome = await self._exchange(gen, command)
            else:
                try:
                    await self._sleep(command.seconds)
                except BaseException as exc:  # CancelledError and the like
                    _cancel(gen, exc, sent=False)
                    raise
            try:
                command = gen.send(outcome)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]

    async def _exchange(self, gen: Generator[Any, Any, Any], command: _Send) -> Any:
        """One attempt: send, read the answer within the cap, all within the deadline.

        The deadline is a timer that cancels this task (as ``asyncio.timeout`` does), so a
        server trickling bytes, or holding its headers, cannot stretch the attempt.
        """
        request, clock = command.request, self._clock
        progress = _Progress()
        request.extensions = {**request.extensions, "trace": progress.atrace}
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
            return _complete(response, body)
        except httpx.HTTPError as exc:
            return exc
        except _TooLarge:
            return _Lost("too_large", True, status)
        except _DeadlineHit:
            return _Lost("deadline", True, status)
        except asyncio.CancelledError as exc:
            sent = progress.started_sending(self.http_client, request.url)
            if expired and (task is None or _uncancel(task) == 0):
                return _Lost("deadline", sent, status)  # our timer, not the caller's cancel
            _cancel(gen, exc, sent)
            raise
        except Exception as exc:
            sent = progress.started_sending(self.http_client, request.url)
            return _Lost("foreign", sent, status, exc)
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


_ClientT = TypeVar("_ClientT", bound="SyncClientBase")
_AClientT = TypeVar("_AClientT", bound="AsyncClientBase")


class _ClientSettings:
    """The settings every provider client shows, sync or async: read from its transport."""

    _transport: _TransportBase

    @property
    def timeout(self) -> httpx.Timeout:
        return self._transport.timeout

    @property
    def retry(self) -> RetryPolicy:
        return self._transport.retry

    @property
    def max_response_bytes(self) -> int:
        """The largest answer this client reads, in decoded bytes; larger ones raise
        `creditsdk.errors.ResponseTooLargeError`. Settable."""
        return self._transport.max_response_bytes

    @max_response_bytes.setter
    def max_response_bytes(self, value: int) -> None:
        self._transport.max_response_bytes = _check_max_bytes(value)


class SyncClientBase(_ClientSettings):
    """What every sync provider client shares: the transport, context manager, ``close()``."""

    _transport: SyncTransport

    def _init_transport(
        self,
        *,
        provider: str,
        timeout: TimeoutArg | NotGiven,
        retry: RetryPolicy | None,
        http_client: httpx.Client | None,
        audit: object,
        verify: Any = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._transport = SyncTransport(
            provider=provider,
            timeout=timeout,
            retry=retry,
            http_client=http_client,
            audit=audit,
            verify=verify,
            max_response_bytes=max_response_bytes,
        )

    def _run(
        self,
        op: Operation[T],
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> T:
        return self._transport.run(op, timeout=timeout, retry=retry)

    def close(self) -> None:
        """Close the HTTP connections this client opened (not a caller-owned ``http_client``)."""
        self._transport.close()

    def __enter__(self: _ClientT) -> _ClientT:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClientBase(_ClientSettings):
    """What every async provider client shares: the transport, ``async with``, ``aclose()``."""

    _transport: AsyncTransport

    def _init_transport(
        self,
        *,
        provider: str,
        timeout: TimeoutArg | NotGiven,
        retry: RetryPolicy | None,
        http_client: httpx.AsyncClient | None,
        audit: object,
        verify: Any = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._transport = AsyncTransport(
            provider=provider,
            timeout=timeout,
            retry=retry,
            http_client=http_client,
            audit=audit,
            verify=verify,
            max_response_bytes=max_response_bytes,
        )

    async def _run(
        self,
        op: Operation[T],
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> T:
        return await self._transport.run(op, timeout=timeout, retry=retry)

    async def aclose(self) -> None:
        """Close the HTTP connections this client opened (not a caller-owned ``http_client``)."""
        await self._transport.aclose()

    async def __aenter__(self: _AClientT) -> _AClientT:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

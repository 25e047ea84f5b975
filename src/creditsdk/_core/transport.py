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
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from types import TracebackType
from typing import Any, TypeVar

import attrs
import httpx

from ..errors import (
    ConfigurationError,
    CreditSDKError,
    ProviderError,
    RateLimitedError,
    ResponseIntegrityError,
    TransportError,
)
from .config import DEFAULT_TIMEOUT, NOT_GIVEN, NotGiven, TimeoutArg, resolve_timeout
from .consent import AuditEvent, AuditSink, emit_all, normalize_sinks
from .operation import Operation
from .redact import mask_name
from .retry import RetryEvent, RetryPolicy, parse_retry_after

__all__ = [
    "AsyncClientBase",
    "AsyncTransport",
    "ShardedAsyncTransport",
    "SyncClientBase",
    "SyncTransport",
]

T = TypeVar("T")
log = logging.getLogger("creditsdk")

_GATEWAY_STATUSES = frozenset({502, 503, 504})


class _Processed(enum.Enum):
    NO = "no"  # the provider cannot have processed (or billed) the attempt
    MAYBE = "maybe"  # it may have: the request was sent and the answer was lost


@attrs.frozen
class _Send:
    request: httpx.Request


@attrs.frozen
class _Sleep:
    seconds: float


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
    if status in _GATEWAY_STATUSES:
        # A gateway or load balancer answered with its own page: the provider did not process.
        return _Failure(
            _Processed.NO,
            f"HTTP {status}",
            TransportError(
                f"HTTP {status} from a gateway", provider=op.provider, http_status=status
            ),
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
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


def _drive(
    op: Operation[T],
    policy: RetryPolicy,
    timeout: httpx.Timeout,
    sinks: tuple[AuditSink, ...],
    rng: random.Random,
) -> Generator[_Send | _Sleep, Any, T]:
    """The whole life of one logical call. Yields commands; returns the result or raises."""
    maybe_processed = False  # did any attempt possibly reach the provider without an answer?
    attempt = 0
    last_status: int | None = None
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
        outcome = yield _Send(request)
        failure: _Failure | None
        result: T | None = None
        raised: CreditSDKError | None = None
        if isinstance(outcome, httpx.HTTPError):
            failure = _classify_exception(outcome, op.provider)
            log.debug(
                "%s %s ✗ %s after %.0f ms",
                op.provider,
                op.name,
                failure.reason,
                (time.perf_counter() - started) * 1000,
            )
        else:
            response: httpx.Response = outcome
            last_status = response.status_code
            log.debug(
                "%s %s ← HTTP %d in %.0f ms",
                op.provider,
                op.name,
                response.status_code,
                (time.perf_counter() - started) * 1000,
            )
            failure = _classify_status(op, response)
            if failure is None:
                try:
                    result = op.parse_response(response)
                except RateLimitedError as exc:
                    # The provider refused to process: safe to retry after its wait.
                    failure = _Failure(_Processed.NO, "rate limited", exc, exc.retry_after)
                except CreditSDKError as exc:
                    raised = exc
                except Exception as exc:  # a parser must not leak foreign exception types
                    raised = ResponseIntegrityError(
                        f"answer could not be parsed ({type(exc).__name__})",
                        provider=op.provider,
                    )
                    raised.__cause__ = exc
                    # A garbled answer is still an answer: the call was processed and billed.
                if raised is not None and isinstance(raised, ResponseIntegrityError):
                    maybe_processed = True
        if failure is None and raised is None:
            _audit(
                op,
                sinks,
                outcome=op.outcome_of(result),  # type: ignore[arg-type]
                attempts=attempt,
                maybe_billed=False,
                transaction_id=op.transaction_id_of(result),  # type: ignore[arg-type]
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
                yield _Sleep(delay)
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
            error_type=type(error).__name__ if error else None,
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
        self.sinks = normalize_sinks(audit)
        self._rng = rng or random.Random()

    def _start(
        self,
        op: Operation[T],
        timeout: TimeoutArg | NotGiven,
        retry: RetryPolicy | NotGiven,
    ) -> Generator[_Send | _Sleep, Any, T]:
        policy = self.retry if isinstance(retry, NotGiven) else retry
        if not isinstance(policy, RetryPolicy):
            raise ConfigurationError(f"retry must be a creditsdk.RetryPolicy, not {retry!r}")
        return _drive(op, policy, resolve_timeout(timeout, self.timeout), self.sinks, self._rng)


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
    ) -> None:
        super().__init__(
            provider=provider,
            timeout=timeout,
            retry=retry,
            audit=audit,
            http_client=http_client,
            client_type=httpx.Client,
            rng=rng,
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
        gen = self._start(op, timeout, retry)
        command = next(gen)
        while True:
            outcome: Any = None
            if isinstance(command, _Send):
                try:
                    outcome = self.http_client.send(command.request)
                except httpx.HTTPError as exc:
                    outcome = exc
            else:
                self._sleep(command.seconds)
            try:
                command = gen.send(outcome)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]

    def close(self) -> None:
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
    ) -> None:
        super().__init__(
            provider=provider,
            timeout=timeout,
            retry=retry,
            audit=audit,
            http_client=http_client,
            client_type=httpx.AsyncClient,
            rng=rng,
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
        gen = self._start(op, timeout, retry)
        command = next(gen)
        while True:
            outcome: Any = None
            if isinstance(command, _Send):
                try:
                    outcome = await self.http_client.send(command.request)
                except httpx.HTTPError as exc:
                    outcome = exc
            else:
                await self._sleep(command.seconds)
            try:
                command = gen.send(outcome)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        if self._owns_client:
            await self.http_client.aclose()


_ClientT = TypeVar("_ClientT", bound="SyncClientBase")
_AClientT = TypeVar("_AClientT", bound="AsyncClientBase")


class SyncClientBase:
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
    ) -> None:
        self._transport = SyncTransport(
            provider=provider,
            timeout=timeout,
            retry=retry,
            http_client=http_client,
            audit=audit,
            verify=verify,
        )

    def _run(
        self,
        op: Operation[T],
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> T:
        return self._transport.run(op, timeout=timeout, retry=retry)

    @property
    def timeout(self) -> httpx.Timeout:
        return self._transport.timeout

    @property
    def retry(self) -> RetryPolicy:
        return self._transport.retry

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


class AsyncClientBase:
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
    ) -> None:
        self._transport = AsyncTransport(
            provider=provider,
            timeout=timeout,
            retry=retry,
            http_client=http_client,
            audit=audit,
            verify=verify,
        )

    async def _run(
        self,
        op: Operation[T],
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> T:
        return await self._transport.run(op, timeout=timeout, retry=retry)

    @property
    def timeout(self) -> httpx.Timeout:
        return self._transport.timeout

    @property
    def retry(self) -> RetryPolicy:
        return self._transport.retry

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

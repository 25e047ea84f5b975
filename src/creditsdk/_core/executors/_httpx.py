"""The httpx executors, sync and async: the sync client always, and any async caller's
``http_client=httpx.AsyncClient(...)`` (so respx and ``httpx.MockTransport`` work).

A `wire.Request` becomes an ``httpx.Request``; the answer is read raw as it streams and
decoded and capped by the shared `Reader` within the attempt's deadline; httpx's exceptions
become the shared billing-safe `Failure` values.
"""

from __future__ import annotations

import asyncio
import functools
import random
import re
import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

import httpx

from ...errors import ConfigurationError, CreditSDKError
from ..auth import Token
from ..call import GetToken, Send, Sleep
from ..config import NOT_GIVEN, NotGiven, TimeoutArg
from ..gates import Gate
from ..httplog import note_query
from ..operation import Operation
from ..policy import Failure
from ..pool import ShardedAsyncTransport, default_async_client
from ..retry import RetryPolicy
from ..wire import Request, Response
from ._shared import (
    DEFAULT_MAX_RESPONSE_BYTES,
    AsyncExecutor,
    Progress,
    Reader,
    TooLarge,
    TransportBase,
    answer_headers,
    cancel,
    past_deadline,
    read_body,
    transport_failure,
    wire_headers,
)

__all__ = ["AsyncTransport", "SyncTransport", "as_httpx"]

T = TypeVar("T")


class _Progress(Progress):
    """Progress from httpcore's ``trace`` events: until it reports that it began sending the
    request headers, nothing reached the network (waiting for a connection, connecting, TLS).
    A transport that reports nothing (respx, ``httpx.MockTransport``, the Sandbox's in-process
    transport, a caller's own) is taken to have received the request once it was handed over.
    """

    __slots__ = ("_client", "_url")

    def __init__(self, client: httpx.Client | httpx.AsyncClient) -> None:
        super().__init__(reporting=False)
        self._client = client
        self._url: httpx.URL | None = None

    def note(self, name: str) -> None:
        self.reporting = True
        if name.endswith("send_request_headers.started"):
            self.sent = True

    def trace(self, name: str, info: object) -> None:
        self.note(name)

    async def atrace(self, name: str, info: object) -> None:
        self.note(name)

    def started_sending(self) -> bool:
        if self.sent:
            return True
        if not self.handed:
            return False
        if self.reporting:
            return False
        return self._url is None or not _reports_progress(self._client, self._url)


def _reports_progress(client: httpx.Client | httpx.AsyncClient, url: httpx.URL) -> bool:
    """Does the transport for ``url`` emit httpcore trace events (so silence means unsent)?"""
    try:
        transport = client._transport_for_url(url)
    except Exception:  # a private httpx method: if it changes, assume the worst (sent)
        return False
    return isinstance(
        transport, (httpx.HTTPTransport, httpx.AsyncHTTPTransport, ShardedAsyncTransport)
    )


# A query that is already percent-encoded with nothing httpx would re-quote: what urlencode()
# gives (unreserved characters, "%XX", "+", "=" and "&"). httpx checks and quotes every
# character of a URL in Python (~70 us for a 600-character URL, e.g. one carrying a signature),
# so such a query is attached to the cached parse of the URL before it instead.
_PLAIN_QUERY = re.compile(r"(?:[A-Za-z0-9._~+=&*-]|%[0-9A-Fa-f]{2})*")


@functools.lru_cache(maxsize=64)
def _base_url(base: str) -> httpx.URL | None:
    """httpx's parse of a URL without query or fragment, or None when it has neither."""
    try:
        url = httpx.URL(base)
    except (httpx.InvalidURL, ValueError):
        return None
    if url._uri_reference.query is not None or url._uri_reference.fragment is not None:
        return None
    return url


def _with_query(base: httpx.URL, query: str) -> httpx.URL:
    url = httpx.URL(base)  # a URL from a URL shares its parse: nothing is checked again
    url._uri_reference = base._uri_reference._replace(query=query)
    return url


def _attach_query(url: str) -> httpx.URL | None:
    """httpx's parse of ``url`` from the cached parse of the part before a plain query, or None
    when anything about it is unusual (httpx then judges the string itself)."""
    base, sep, query = url.partition("?")
    if not sep or "#" in query or not _PLAIN_QUERY.fullmatch(query):
        return None
    parsed = _base_url(base)
    return None if parsed is None else _with_query(parsed, query)


def _fast_urls_agree() -> bool:
    """Does the shortcut give what httpx itself gives? (It reads a private httpx field: if a
    new httpx changes it, the shortcut is not used.)"""
    sample = "https://gw.example.com:8443/gateway.do?a=1&sign=x%2By%3D%3D&t=2026-01-01+00%3A00"
    try:
        fast = _attach_query(sample)
        slow = httpx.URL(sample)
        return (
            fast is not None
            and fast == slow
            and (fast.scheme, fast.host, fast.port, fast.raw_path, fast.netloc)
            == (slow.scheme, slow.host, slow.port, slow.raw_path, slow.netloc)
        )
    except Exception:
        return False


_FAST_URLS = _fast_urls_agree()


def _fast_url(url: str) -> httpx.URL | str:
    """``url`` parsed as httpx would parse it, skipping httpx's per-character pass over a plain
    query; the string itself otherwise."""
    return (_attach_query(url) or url) if _FAST_URLS else url


def as_httpx(request: Request) -> httpx.Request:
    """The ``httpx.Request`` the executors send for ``request`` (tests read wire bytes off it)."""
    return httpx.Request(
        request.method,
        _fast_url(request.url),
        headers=wire_headers(request),
        content=request.body or None,
    )


class _Cookies(httpx.Cookies):
    """httpx's cookie jar, minus its per-answer cost when an answer sets no cookie: httpx
    builds urllib request/response adapters (re-parsing the whole URL) for every answer,
    ~60 us for a 600-character URL, to then find no header."""

    def extract_cookies(self, response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


def owned_client(client: T) -> T:
    """An httpx client the SDK created (never a caller's): its jar skips cookie-less answers.
    The jar is swapped through httpx's private ``_cookies`` (its public setter copies into a
    plain ``Cookies``); if that field ever changes, the client is left as it is."""
    jar = getattr(client, "_cookies", None)
    if type(jar) is httpx.Cookies:
        swapped = _Cookies()
        swapped.jar = jar.jar
        client._cookies = swapped  # type: ignore[attr-defined]
    return client


def _prepare(
    request: Request, timeouts: dict[str, Any], progress: _Progress, trace: object
) -> httpx.Request | Failure:
    """The ``httpx.Request`` to send, or the Failure of a URL httpx cannot send to."""
    try:
        note_query(request.url)
        built = as_httpx(request)
    except (httpx.InvalidURL, httpx.HTTPError) as exc:
        return _httpx_failure(exc, request.url)
    except ValueError:  # urllib's "Invalid IPv6 URL" and the like: never sent
        return transport_failure("config", "InvalidURL", request.url)
    built.extensions = {"timeout": timeouts, "trace": trace}
    progress._url = built.url
    return built


def _to_wire(response: httpx.Response, body: bytes, url: str) -> Response:
    return Response(response.status_code, answer_headers(response.headers.raw), body, url)


def _preread_body(response: httpx.Response, limit: int) -> bytes | None:
    """The body of a response that was already read in memory (mocks do that), else None."""
    if not response.is_stream_consumed:
        return None
    try:
        content = response.content
    except httpx.ResponseNotRead:
        return None
    if len(content) > limit:
        raise TooLarge
    return content


def _httpx_failure(exc: httpx.HTTPError | httpx.InvalidURL, url: str) -> Failure:
    name = type(exc).__name__
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return transport_failure("connect", name, url)  # nothing reached the provider
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return transport_failure("config", name, url)
    if isinstance(exc, httpx.ProxyError):
        return transport_failure("proxy", name, url)
    if isinstance(exc, httpx.TimeoutException):
        kind = "read_timeout" if isinstance(exc, httpx.ReadTimeout) else "timeout"
        return transport_failure(kind, name, url)
    if isinstance(exc, httpx.DecodingError):
        return transport_failure("decode", name, url)
    return transport_failure("lost", name, url)


def _check_client(http_client: object, client_type: type[Any]) -> None:
    if http_client is None or isinstance(http_client, client_type):
        return
    twin, kind = ("AsyncClient", "async") if client_type is httpx.Client else ("Client", "sync")
    raise ConfigurationError(
        f"http_client must be an httpx.{client_type.__name__} "
        f"(an httpx.{twin} goes with the {kind} client)"
    )


class _HttpxMixin(TransportBase):
    def _library_failure(self, exc: Exception, url: str) -> Failure | None:
        if isinstance(exc, (httpx.HTTPError, httpx.InvalidURL)):
            return _httpx_failure(exc, url)
        return None


class SyncTransport(_HttpxMixin):
    """Runs Operations over an ``httpx.Client`` (owned, or the caller's via ``http_client=``)."""

    _with = "with"

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
        _check_client(http_client, httpx.Client)
        super().__init__(
            provider=provider,
            timeout=timeout,
            retry=retry,
            audit=audit,
            fallback_timeout=http_client.timeout if http_client is not None else None,
            owns_client=http_client is None,
            rng=rng,
            max_response_bytes=max_response_bytes,
            clock=clock,
            gates=gates,
        )
        self.http_client = http_client or owned_client(
            httpx.Client(timeout=self.timeout, verify=verify)
        )
        self._sleep = sleep

    def run(
        self,
        op: Operation[T],
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> T:
        self._check_open(self.http_client.is_closed)
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
                    cancel(gen, exc, sent=False)
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
            cancel(gen, exc, sent=False)
            raise

    def _exchange(
        self, gen: Generator[Any, Any, Any], command: Send, timeouts: dict[str, Any]
    ) -> Any:
        """One attempt: send, read the answer within the cap and the deadline."""
        clock = self._clock
        progress = _Progress(self.http_client)
        request = _prepare(command.request, timeouts, progress, progress.trace)
        if isinstance(request, Failure):
            return request
        deadline_at = None if command.deadline is None else clock() + command.deadline
        try:
            progress.handed = True
            response = self.http_client.send(request, stream=True)
            progress.status = response.status_code
            try:
                past_deadline(deadline_at, clock)
                body = _preread_body(response, command.max_bytes)
                if body is None:
                    body = _read_sync(response, command.max_bytes, deadline_at, clock)
            finally:
                response.close()
            return _to_wire(response, body, command.request.url)
        except Exception as exc:
            return self._failure(exc, progress, command)
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: audit, then propagate
            cancel(gen, exc, progress.started_sending())
            raise

    def close(self) -> None:
        self._closed = True
        if self._owns_client:
            self.http_client.close()


def _read_sync(
    response: httpx.Response, limit: int, deadline_at: float | None, clock: Callable[[], float]
) -> bytes:
    reader = Reader(response.headers.get("Content-Encoding"), limit)
    for chunk in response.iter_raw():
        reader.feed(chunk)
        past_deadline(deadline_at, clock)
    return reader.finish()


class AsyncTransport(_HttpxMixin, AsyncExecutor):
    """Runs Operations over an ``httpx.AsyncClient`` (owned: the sharded pool)."""

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
        _check_client(http_client, httpx.AsyncClient)
        super().__init__(
            provider=provider,
            timeout=timeout,
            retry=retry,
            audit=audit,
            fallback_timeout=http_client.timeout if http_client is not None else None,
            owns_client=http_client is None,
            rng=rng,
            max_response_bytes=max_response_bytes,
            clock=clock,
            gates=gates,
        )
        self.http_client = http_client or owned_client(default_async_client(self.timeout, verify))
        self._sleep = sleep

    def _is_closed(self) -> bool:
        return self.http_client.is_closed

    def _new_progress(self) -> Progress:
        return _Progress(self.http_client)

    def _prepare(self, command: Send, timeouts: Any, progress: Progress) -> Any:
        assert isinstance(progress, _Progress)
        return _prepare(command.request, timeouts, progress, progress.atrace)

    async def _send(
        self, prepared: Any, command: Send, progress: Progress, deadline_at: float | None
    ) -> Response:
        response = await self.http_client.send(prepared, stream=True)
        progress.status = response.status_code
        try:
            past_deadline(deadline_at, self._clock)
            body = _preread_body(response, command.max_bytes)
            if body is None:
                body = await read_body(
                    response.aiter_raw(),
                    response.headers.get("Content-Encoding"),
                    command.max_bytes,
                    deadline_at,
                    self._clock,
                )
        finally:
            await response.aclose()
        return _to_wire(response, body, command.request.url)

    async def aclose(self) -> None:
        self._closed = True
        if self._owns_client:
            await self.http_client.aclose()

"""The aiohttp executor: the async default when the ``creditsdk[aiohttp]`` extra is installed.

It sends the plain `wire.Request` itself (no ``httpx.Request`` is built) and follows the same
shared rules as the httpx executors: the answer is read raw and decoded and capped by the
shared `Reader` (aiohttp's own decompression is off, so a gzip bomb is refused while
inflating), the attempt runs under the shared deadline, and aiohttp's exceptions become the
same billing-safe `Failure` values, spelt with httpx's exception names.

aiohttp is imported when the executor is built, never when creditsdk is imported.
"""

from __future__ import annotations

import asyncio
import contextvars
import random
import time
import urllib.request
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ...errors import ConfigurationError
from ..call import Send
from ..config import NOT_GIVEN, NotGiven, TimeoutArg
from ..gates import Gate
from ..policy import Failure
from ..retry import RetryPolicy
from ..wire import Response
from ._shared import (
    DEFAULT_MAX_RESPONSE_BYTES,
    AsyncExecutor,
    Progress,
    answer_headers,
    past_deadline,
    read_body,
    transport_failure,
    wire_headers,
)

if TYPE_CHECKING:
    import aiohttp
    import httpx

__all__ = ["AioHttpTransport", "is_aiohttp_session"]

#: Connections the owned session keeps at most (as the httpx pool: 64 shards × 4).
CONNECTION_LIMIT = 256
#: Seconds an idle kept-alive connection is kept (httpx's default keep-alive expiry).
KEEPALIVE_SECONDS = 5.0
#: Headers aiohttp would add on its own: the same Operation must give the same bytes as httpx.
_SKIPPED_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")

#: The attempt the current task is sending (read by `_request_class`'s ``send``).
_SENDING: contextvars.ContextVar[Progress | None] = contextvars.ContextVar(
    "creditsdk_sending", default=None
)
_REQUEST_CLASS: Any = None


def _aiohttp() -> Any:
    try:
        import aiohttp
    except ImportError:
        raise ConfigurationError(
            "the aiohttp HTTP backend needs aiohttp: pip install 'creditsdk[aiohttp]' "
            "(or set CREDITSDK_HTTP_BACKEND=httpx)"
        ) from None
    return aiohttp


def is_aiohttp_session(value: object) -> bool:
    """Is ``value`` an ``aiohttp.ClientSession`` (checked without importing aiohttp)?"""
    return any(
        c.__name__ == "ClientSession" and c.__module__.startswith("aiohttp")
        for c in type(value).__mro__
    )


def _request_class() -> Any:
    """An ``aiohttp.ClientRequest`` that marks the attempt as sent when it starts writing:
    until then (waiting for a connection, connecting, TLS) nothing reached the provider."""
    global _REQUEST_CLASS
    if _REQUEST_CLASS is None:
        aiohttp = _aiohttp()

        class _MarkingRequest(aiohttp.ClientRequest):  # type: ignore[misc,name-defined]
            async def send(self, conn: Any) -> Any:
                progress = _SENDING.get()
                if progress is not None:
                    progress.sent = True
                return await super().send(conn)

        _REQUEST_CLASS = _MarkingRequest
    return _REQUEST_CLASS


def _failure(exc: Exception, url: str) -> Failure | None:
    """aiohttp's exceptions in httpx's terms (None: not aiohttp's)."""
    aiohttp = _aiohttp()
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return transport_failure("proxy", "ProxyError", url)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return transport_failure("connect", "ConnectTimeout", url)
    if isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ServerFingerprintMismatch)):
        return transport_failure("connect", "ConnectError", url)  # refused, DNS, TLS
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return transport_failure("read_timeout", "ReadTimeout", url)
    if isinstance(exc, aiohttp.NonHttpUrlClientError):
        return transport_failure("config", "UnsupportedProtocol", url)
    if isinstance(exc, aiohttp.InvalidURL):
        return transport_failure("config", "InvalidURL", url)
    if isinstance(exc, (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError)):
        return transport_failure("lost", "RemoteProtocolError", url)  # truncated, dropped
    if isinstance(exc, aiohttp.ClientResponseError):
        return transport_failure("lost", "RemoteProtocolError", url)  # not HTTP
    if isinstance(exc, aiohttp.ClientOSError):
        return transport_failure("lost", "ReadError", url)  # reset
    if isinstance(exc, aiohttp.ClientError):
        return transport_failure("lost", type(exc).__name__, url)
    return None


class AioHttpTransport(AsyncExecutor):
    """Runs Operations over an ``aiohttp.ClientSession`` (owned, opened on the first call in
    the running event loop; or the caller's via ``http_client=``)."""

    def __init__(
        self,
        *,
        provider: str,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | None = None,
        http_client: aiohttp.ClientSession | None = None,
        audit: object = None,
        verify: Any = True,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        clock: Callable[[], float] = time.monotonic,
        gates: tuple[Gate, ...] = (),
    ) -> None:
        aiohttp = _aiohttp()
        if http_client is not None and not isinstance(http_client, aiohttp.ClientSession):
            raise ConfigurationError(
                "http_client must be an httpx.AsyncClient or an aiohttp.ClientSession"
            )
        super().__init__(
            provider=provider,
            timeout=timeout,
            retry=retry,
            audit=audit,
            fallback_timeout=None,  # a session's own ClientTimeout is replaced per request
            owns_client=http_client is None,
            rng=rng,
            max_response_bytes=max_response_bytes,
            clock=clock,
            gates=gates,
        )
        self._session: Any = http_client  # aiohttp.ClientSession | None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._verify = verify
        self._sleep = sleep
        self._client_timeouts: dict[tuple[float | None, ...], Any] = {}
        self._yarl_url: Callable[..., Any] = __import__("yarl").URL
        self._proxies: dict[str, str] = {}
        self._proxy_of: dict[tuple[Any, ...], str | None] = {}

    @property
    def http_client(self) -> aiohttp.ClientSession | None:
        """The session (an owned one exists from the first call on)."""
        session: aiohttp.ClientSession | None = self._session
        return session

    def _is_closed(self) -> bool:
        return self._session is not None and self._session.closed

    def _open(self) -> Any:
        import httpx  # its TLS defaults (certifi, SSL_CERT_FILE), so both executors trust alike

        aiohttp = _aiohttp()
        verify = self._verify
        context = (
            verify if not isinstance(verify, (bool, str)) else httpx.create_ssl_context(verify)
        )
        connector = aiohttp.TCPConnector(
            limit=CONNECTION_LIMIT, keepalive_timeout=KEEPALIVE_SECONDS, ssl=context
        )
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeouts(self.timeout),
            auto_decompress=False,  # the shared Reader inflates, within the size cap
            # aiohttp's trust_env reads the environment and ~/.netrc on every request (a third
            # of a call's CPU): the proxies are read once here instead, as httpx does.
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),  # httpx sends no cookies on our requests
            skip_auto_headers=_SKIPPED_AUTO_HEADERS,
            request_class=_request_class(),
        )
        # aiohttp sends a GET again over a new connection when a kept-alive one drops: a billed
        # call would go out twice. The billing-safe policy decides about retries, not aiohttp.
        if hasattr(session, "_retry_connection"):
            session._retry_connection = False
        self._proxies = urllib.request.getproxies()
        self._proxy_of.clear()
        return session

    def _proxy(self, url: Any) -> str | None:
        """The proxy for ``url`` from HTTP(S)_PROXY / ALL_PROXY / NO_PROXY, as httpx reads them
        (once per session; per host thereafter)."""
        key = (url.scheme, url.raw_host, url.port)
        if key in self._proxy_of:
            return self._proxy_of[key]
        proxies = self._proxies
        proxy = proxies.get(url.scheme) or proxies.get("all")
        bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
        if proxy and bypass(url.raw_host or "", proxies):
            proxy = None
        self._proxy_of[key] = proxy
        return proxy

    def _session_here(self) -> Any:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is not None and (self._loop is loop or not self._owns_client):
            return session
        if session is not None:  # an owned session of an earlier event loop: it is gone
            connector = session.connector
            session.detach()
            try:
                if connector is not None:
                    connector._close()  # its connections belong to the finished loop
            except Exception:  # pragma: no cover - a closed loop's transports may refuse
                pass
        self._session = session = self._open()
        self._loop = loop
        return session

    def _timeouts(self, resolved: httpx.Timeout) -> Any:
        """httpx's four timeouts as aiohttp's: ``connect`` → ``sock_connect`` (TCP and TLS),
        ``pool`` + ``connect`` → ``connect`` (waiting for a pooled connection included),
        ``read`` → ``sock_read``. aiohttp has no write timeout: the attempt's deadline bounds
        the write."""
        key = (resolved.connect, resolved.read, resolved.write, resolved.pool)
        found = self._client_timeouts.get(key)
        if found is None:
            connect, read, _, pool = key
            whole_connect = None if connect is None or pool is None else connect + pool
            found = _aiohttp().ClientTimeout(
                total=None, connect=whole_connect, sock_connect=connect, sock_read=read
            )
            self._client_timeouts[key] = found
        return found

    def _new_progress(self) -> Progress:
        # An owned session marks the start of sending; a caller's is taken as sent once handed.
        return Progress(reporting=self._owns_client)

    def _prepare(self, command: Send, timeouts: Any, progress: Progress) -> Any:
        request = command.request
        try:
            url = self._yarl_url(request.url, encoded=True)
            if not url.absolute or not url.raw_host:
                raise ValueError("not an absolute URL")
        except (ValueError, TypeError):
            return transport_failure("config", "InvalidURL", request.url)
        if url.scheme not in ("http", "https"):
            return transport_failure("config", "UnsupportedProtocol", request.url)
        return url, wire_headers(request), timeouts

    def _library_failure(self, exc: Exception, url: str) -> Failure | None:
        return _failure(exc, url)

    async def _send(
        self, prepared: Any, command: Send, progress: Progress, deadline_at: float | None
    ) -> Response:
        url, headers, timeouts = prepared
        request = command.request
        session = self._session_here()
        token = _SENDING.set(progress)
        try:
            response = await session.request(
                request.method,
                url,
                headers=headers,
                data=request.body or None,
                timeout=timeouts,
                proxy=self._proxy(url) if self._proxies else None,
                allow_redirects=False,
                auto_decompress=False,
            )
        finally:
            _SENDING.reset(token)
        progress.status = response.status
        try:
            past_deadline(deadline_at, self._clock)
            encoding = response.headers.get("Content-Encoding")
            length = response.content_length
            if length is not None and length <= command.max_bytes and not encoding:
                # The common answer: small, plain, of a declared length (aiohttp's parser stops
                # at it). One read, not a chunk loop; the deadline timer still bounds it.
                body = await response.read()
                past_deadline(deadline_at, self._clock)
            else:
                body = await read_body(
                    response.content.iter_any(),
                    encoding,
                    command.max_bytes,
                    deadline_at,
                    self._clock,
                )
        except BaseException:
            response.close()  # unread bytes: the connection cannot be reused
            raise
        response.release()
        return Response(response.status, answer_headers(response.raw_headers), body, request.url)

    async def aclose(self) -> None:
        self._closed = True
        if self._owns_client and self._session is not None:
            await self._session.close()

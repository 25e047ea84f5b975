"""SyncClientBase / AsyncClientBase: what every provider client shares.

A provider client configures itself, then calls ``_init_transport(...)``; each of its methods
builds an Operation and returns ``self._run(op, timeout, retry, correlation_id=...)``: every
method takes ``correlation_id=`` (see `creditsdk._core.observe`), every client ``prices=``.
Transport settings left at their defaults come from ``CREDITSDK_<PROVIDER>_TIMEOUT`` … (see
`transport_from_env`).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import httpx  # the public annotations (``timeout: httpx.Timeout``) must resolve at run time

from .config import NOT_GIVEN, NotGiven, TimeoutArg, transport_from_env
from .consent import AuditEvent, AuditSink
from .executors import DEFAULT_MAX_RESPONSE_BYTES, check_max_bytes
from .gates import Gate
from .observe import (
    DEFAULT_OBSERVER,
    Observer,
    PricesArg,
    enter_call,
    leave_call,
    normalize_prices,
)
from .operation import Operation
from .retry import RetryPolicy

if TYPE_CHECKING:
    from .executors import AsyncExecutor, SyncTransport, TransportBase

__all__ = ["AsyncClientBase", "AuditArg", "PricesArg", "SyncClientBase", "VerifyArg"]

_Sink = AuditSink | Callable[[AuditEvent], object]
#: What ``audit=`` takes: a sink, a callable given each event, several of those, or None (the
#: ``creditsdk.audit`` logger).
AuditArg = _Sink | Iterable[_Sink] | None
#: What ``verify=`` takes (as httpx): True (system CAs), False, a CA bundle path or an
#: ``ssl.SSLContext``.
VerifyArg = ssl.SSLContext | str | bool

T = TypeVar("T")
_ClientT = TypeVar("_ClientT", bound="SyncClientBase")
_AClientT = TypeVar("_AClientT", bound="AsyncClientBase")


class _ClientSettings:
    """The settings every provider client shows, sync or async: read from its transport."""

    if TYPE_CHECKING:  # annotations only: the executors load with the first client
        _transport: TransportBase
    #: the clocks and prices this client's calls record (see `creditsdk._core.observe`); the
    #: default serves a client that builds its transport itself
    _observer: Observer = DEFAULT_OBSERVER

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
        self._transport.max_response_bytes = check_max_bytes(value)

    def _add_gate(self, gate: Gate) -> None:
        """Every call of this client passes ``gate`` too (after the Operation's own gates)."""
        self._transport.gates = (*self._transport.gates, gate)


class SyncClientBase(_ClientSettings):
    """What every sync provider client shares: the transport, context manager, ``close()``."""

    if TYPE_CHECKING:  # annotations only: the executors load with the first client
        _transport: SyncTransport

    def _init_transport(
        self,
        *,
        provider: str,
        timeout: TimeoutArg | NotGiven,
        retry: RetryPolicy | None,
        http_client: httpx.Client | None,
        audit: AuditArg,
        verify: VerifyArg = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        prices: PricesArg = None,
    ) -> None:
        from .executors._httpx import SyncTransport

        self._observer = Observer(prices=normalize_prices(prices))
        self._transport = SyncTransport(
            **_transport_settings(
                provider, timeout, retry, http_client, audit, verify, max_response_bytes
            )
        )

    def _run(
        self,
        op: Operation[T],
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> T:
        token = enter_call(self._observer, correlation_id)
        try:
            return self._transport.run(op, timeout=timeout, retry=retry)
        finally:
            leave_call(token)

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

    if TYPE_CHECKING:  # annotations only: the executors load with the first client
        _transport: AsyncExecutor

    def _init_transport(
        self,
        *,
        provider: str,
        timeout: TimeoutArg | NotGiven,
        retry: RetryPolicy | None,
        http_client: httpx.AsyncClient | None,
        audit: AuditArg,
        verify: VerifyArg = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        prices: PricesArg = None,
    ) -> None:
        """``http_client=`` may also be an ``aiohttp.ClientSession``; without one the HTTP
        library is ``$CREDITSDK_HTTP_BACKEND`` ("httpx" or "aiohttp"), else aiohttp when it is
        installed (`creditsdk._core.executors.default_backend`)."""
        from .executors import async_executor

        self._observer = Observer(prices=normalize_prices(prices))
        self._transport = async_executor(
            **_transport_settings(
                provider, timeout, retry, http_client, audit, verify, max_response_bytes
            )
        )

    async def _run(
        self,
        op: Operation[T],
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> T:
        token = enter_call(self._observer, correlation_id)
        try:
            return await self._transport.run(op, timeout=timeout, retry=retry)
        finally:
            leave_call(token)

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


def _transport_settings(
    provider: str,
    timeout: TimeoutArg | NotGiven,
    retry: RetryPolicy | None,
    http_client: object,
    audit: AuditArg,
    verify: VerifyArg,
    max_response_bytes: int,
) -> dict[str, Any]:
    """An executor's keywords: what the caller gave, the rest from ``CREDITSDK_<PROVIDER>_*``."""
    env = transport_from_env(
        provider,
        timeout=timeout,
        retry=retry,
        verify=verify,
        max_response_bytes=max_response_bytes,
        default_max_response_bytes=DEFAULT_MAX_RESPONSE_BYTES,
        http_client=http_client,
    )
    return {
        "provider": provider,
        "timeout": env.timeout,
        "retry": env.retry,
        "http_client": http_client,
        "audit": audit,
        "verify": env.verify,
        "max_response_bytes": env.max_response_bytes,
    }

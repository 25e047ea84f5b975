"""TianyuanClient / AsyncTianyuanClient: thin; each method runs one `_protocol` Operation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, overload

import httpx

from .._core.clients import AsyncClientBase, AuditArg, PricesArg, SyncClientBase, VerifyArg
from .._core.config import NOT_GIVEN, NotGiven, TimeoutArg
from .._core.consent import Consent
from .._core.executors import DEFAULT_MAX_RESPONSE_BYTES
from .._core.identity import Applicant
from .._core.retry import RetryPolicy
from ..errors import ConfigurationError
from . import _protocol as proto
from .factors import BucketTables
from .models import MultiLendingReport, TianyuanResult

__all__ = ["AsyncTianyuanClient", "TianyuanClient"]

DEFAULT_BASE_URL = proto.DEFAULT_BASE_URL
ENV_ACCESS_ID = proto.ENV_ACCESS_ID
ENV_ACCESS_KEY = proto.ENV_ACCESS_KEY
ENV_BASE_URL = proto.ENV_BASE_URL

TablesArg = proto.TablesArg
ResultT = TypeVar("ResultT")


def _config(
    config: object,
    access_id: str | None,
    access_key: str | None,
    base_url: str | None,
    key_format: str | None,
    bucket_tables: TablesArg,
) -> proto.TianyuanConfig:
    if config is None:
        return proto.TianyuanConfig.from_env(
            access_id=access_id,
            access_key=access_key,
            base_url=base_url,
            key_format=key_format,
            bucket_tables=bucket_tables,
        )
    if not isinstance(config, proto.TianyuanConfig):
        raise ConfigurationError(f"config must be a TianyuanConfig, not {type(config).__name__}")
    given = (access_id, access_key, base_url, key_format, bucket_tables)
    if any(v is not None for v in given):
        raise ConfigurationError(
            "pass config= or access_id/access_key/base_url/key_format/bucket_tables, not both"
        )
    return config


class _Common:
    _config: proto.TianyuanConfig

    @property
    def base_url(self) -> str:
        return self._config.base_url

    @property
    def bucket_tables(self) -> BucketTables:
        """The tables [`multi_lending`][] decodes with (empty unless you loaded yours)."""
        return self._config.tables

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._config.base_url!r}, access_key=<redacted>)"


class TianyuanClient(_Common, SyncClientBase):
    """Tianyuan (天远) API client.

    ``access_key`` is read as 32 hex characters (``key_format="hex"``, the default when it looks
    like that) or as exactly 16 UTF-8 bytes (``key_format="utf8"``). ``bucket_tables`` (a
    [`BucketTables`][] or a path to a TOML/CSV file) decodes JRZQ9E2A bucket codes.
    Settings default to ``CREDITSDK_TIANYUAN_ACCESS_ID`` / ``_ACCESS_KEY`` / ``_BASE_URL`` /
    ``_KEY_FORMAT`` / ``_BUCKET_TABLES`` (see `TianyuanConfig.from_env`); or pass a ready
    ``config=TianyuanConfig.from_env(...)`` instead of them.
    """

    def __init__(
        self,
        access_id: str | None = None,
        access_key: str | None = None,
        base_url: str | None = None,
        *,
        key_format: str | None = None,
        bucket_tables: TablesArg = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
        audit: AuditArg = None,
        prices: PricesArg = None,
        verify: VerifyArg = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        config: proto.TianyuanConfig | None = None,
    ) -> None:
        self._config = _config(config, access_id, access_key, base_url, key_format, bucket_tables)
        self._init_transport(
            provider="tianyuan",
            timeout=timeout,
            retry=retry,
            http_client=http_client,
            audit=audit,
            prices=prices,
            verify=verify,
            max_response_bytes=max_response_bytes,
        )

    def call(
        self,
        product_code: str,
        params: Mapping[str, Any],
        *,
        consent: Consent,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> TianyuanResult:
        """Call any product with ``params`` sent as given (ID, mobile, name fields validated)."""
        op = proto.call(self._config, consent=consent, product_code=product_code, params=params)
        return self._run(op, timeout, retry, correlation_id=correlation_id)

    def multi_lending(
        self,
        applicant: Applicant,
        *,
        consent: Consent,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> MultiLendingReport:
        """JRZQ9E2A, the multi-lending report; ``consent.reference`` is the authorization code."""
        op = proto.multi_lending(self._config, consent=consent, applicant=applicant)
        return self._run(op, timeout, retry, correlation_id=correlation_id)

    @overload
    def query(
        self,
        product: proto.Product[Any, ResultT],
        /,
        *,
        consent: Consent,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
        **inputs: Any,
    ) -> ResultT: ...

    @overload
    def query(
        self,
        product: str,
        /,
        *,
        consent: Consent,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
        **inputs: Any,
    ) -> Any: ...

    def query(
        self,
        product: proto.Product[Any, Any] | str,
        /,
        *,
        consent: Consent,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
        **inputs: Any,
    ) -> Any:
        """A typed product (its declaration, code or name) with its inputs as keywords, e.g.
        ``query("multi_lending", applicant=a, consent=c)``; validated before anything is sent."""
        return self._run(
            proto.query(self._config, product, consent=consent, **inputs),
            timeout,
            retry,
            correlation_id=correlation_id,
        )


class AsyncTianyuanClient(_Common, AsyncClientBase):
    """The async twin of [`TianyuanClient`][] (same arguments, ``async`` methods)."""

    def __init__(
        self,
        access_id: str | None = None,
        access_key: str | None = None,
        base_url: str | None = None,
        *,
        key_format: str | None = None,
        bucket_tables: TablesArg = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        audit: AuditArg = None,
        prices: PricesArg = None,
        verify: VerifyArg = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        config: proto.TianyuanConfig | None = None,
    ) -> None:
        self._config = _config(config, access_id, access_key, base_url, key_format, bucket_tables)
        self._init_transport(
            provider="tianyuan",
            timeout=timeout,
            retry=retry,
            http_client=http_client,
            audit=audit,
            prices=prices,
            verify=verify,
            max_response_bytes=max_response_bytes,
        )

    async def call(
        self,
        product_code: str,
        params: Mapping[str, Any],
        *,
        consent: Consent,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> TianyuanResult:
        """Call any product with ``params`` sent as given (ID, mobile, name fields validated)."""
        op = proto.call(self._config, consent=consent, product_code=product_code, params=params)
        return await self._run(op, timeout, retry, correlation_id=correlation_id)

    async def multi_lending(
        self,
        applicant: Applicant,
        *,
        consent: Consent,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> MultiLendingReport:
        """JRZQ9E2A, the multi-lending report; ``consent.reference`` is the authorization code."""
        op = proto.multi_lending(self._config, consent=consent, applicant=applicant)
        return await self._run(op, timeout, retry, correlation_id=correlation_id)

    @overload
    async def query(
        self,
        product: proto.Product[Any, ResultT],
        /,
        *,
        consent: Consent,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
        **inputs: Any,
    ) -> ResultT: ...

    @overload
    async def query(
        self,
        product: str,
        /,
        *,
        consent: Consent,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
        **inputs: Any,
    ) -> Any: ...

    async def query(
        self,
        product: proto.Product[Any, Any] | str,
        /,
        *,
        consent: Consent,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
        **inputs: Any,
    ) -> Any:
        """The async twin of `TianyuanClient.query`."""
        op = proto.query(self._config, product, consent=consent, **inputs)
        return await self._run(op, timeout, retry, correlation_id=correlation_id)

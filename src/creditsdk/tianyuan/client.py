"""TianyuanClient / AsyncTianyuanClient: thin; each method builds one Operation and runs it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import httpx

from .._core.config import NOT_GIVEN, NotGiven, TimeoutArg, env_or
from .._core.consent import Consent, check_consent
from .._core.identity import Applicant
from .._core.operation import Operation
from .._core.retry import RetryPolicy
from .._core.transport import DEFAULT_MAX_RESPONSE_BYTES, AsyncClientBase, SyncClientBase
from ..errors import ConfigurationError, InvalidInputError
from . import _protocol as proto
from .factors import BucketTables, load_bucket_tables
from .models import MultiLendingReport, TianyuanResult

__all__ = ["AsyncTianyuanClient", "TianyuanClient"]

DEFAULT_BASE_URL = "https://api.tianyuanapi.com"
ENV_ACCESS_ID = "CREDITSDK_TIANYUAN_ACCESS_ID"
ENV_ACCESS_KEY = "CREDITSDK_TIANYUAN_ACCESS_KEY"
ENV_BASE_URL = "CREDITSDK_TIANYUAN_BASE_URL"

TablesArg = BucketTables | str | os.PathLike[str] | None


def _config(
    access_id: str | None,
    access_key: str | None,
    base_url: str | None,
    key_format: str | None,
    bucket_tables: TablesArg,
) -> proto.TianyuanConfig:
    aid = env_or(access_id, ENV_ACCESS_ID, what="Tianyuan access_id")
    key = env_or(access_key, ENV_ACCESS_KEY, what="Tianyuan access_key")
    url = env_or(base_url, ENV_BASE_URL, what="Tianyuan base_url", required=False)
    assert aid is not None
    assert key is not None
    url = (url or DEFAULT_BASE_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError("Tianyuan base_url must start with http:// or https://")
    if bucket_tables is None:
        tables = BucketTables.empty()
    elif isinstance(bucket_tables, BucketTables):
        tables = bucket_tables
    else:
        tables = load_bucket_tables(bucket_tables)
    return proto.TianyuanConfig(
        access_id=aid, key=proto.parse_access_key(key, key_format), base_url=url, tables=tables
    )


def _applicant(applicant: object) -> Applicant:
    if not isinstance(applicant, Applicant):
        raise InvalidInputError(
            f"must be a creditsdk.Applicant, got {type(applicant).__name__}",
            field="applicant",
            rule="type",
        )
    return applicant


def _consent(consent: object) -> Consent:
    checked = check_consent(consent)
    assert checked is not None
    return checked


class _Common:
    _config: proto.TianyuanConfig

    @property
    def base_url(self) -> str:
        return self._config.base_url

    @property
    def bucket_tables(self) -> BucketTables:
        """The tables [`multi_lending`][] decodes with (empty unless you loaded yours)."""
        return self._config.tables

    def _call_op(
        self, product_code: str, params: Mapping[str, Any], consent: object
    ) -> Operation[TianyuanResult]:
        return proto.build_call_operation(self._config, product_code, params, _consent(consent))

    def _multi_lending_op(
        self, applicant: object, consent: object
    ) -> Operation[MultiLendingReport]:
        return proto.build_multi_lending_operation(
            self._config, _applicant(applicant), _consent(consent)
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._config.base_url!r}, access_key=<redacted>)"


class TianyuanClient(_Common, SyncClientBase):
    """Tianyuan (天远) API client.

    ``access_key`` is read as 32 hex characters (``key_format="hex"``, the default when it looks
    like that) or as exactly 16 UTF-8 bytes (``key_format="utf8"``). ``bucket_tables`` (a
    [`BucketTables`][] or a path to a TOML/CSV file) decodes JRZQ9E2A bucket codes.
    Credentials default to ``CREDITSDK_TIANYUAN_ACCESS_ID`` / ``_ACCESS_KEY`` / ``_BASE_URL``.
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
        audit: object = None,
        verify: Any = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._config = _config(access_id, access_key, base_url, key_format, bucket_tables)
        self._init_transport(
            provider="tianyuan",
            timeout=timeout,
            retry=retry,
            http_client=http_client,
            audit=audit,
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
    ) -> TianyuanResult:
        """Call any product with ``params`` sent as given (ID, mobile, name fields validated)."""
        return self._run(self._call_op(product_code, params, consent), timeout, retry)

    def multi_lending(
        self,
        applicant: Applicant,
        *,
        consent: Consent,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> MultiLendingReport:
        """JRZQ9E2A, the multi-lending report; ``consent.reference`` is the authorization code."""
        return self._run(self._multi_lending_op(applicant, consent), timeout, retry)


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
        audit: object = None,
        verify: Any = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._config = _config(access_id, access_key, base_url, key_format, bucket_tables)
        self._init_transport(
            provider="tianyuan",
            timeout=timeout,
            retry=retry,
            http_client=http_client,
            audit=audit,
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
    ) -> TianyuanResult:
        """Call any product with ``params`` sent as given (ID, mobile, name fields validated)."""
        return await self._run(self._call_op(product_code, params, consent), timeout, retry)

    async def multi_lending(
        self,
        applicant: Applicant,
        *,
        consent: Consent,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> MultiLendingReport:
        """JRZQ9E2A, the multi-lending report; ``consent.reference`` is the authorization code."""
        return await self._run(self._multi_lending_op(applicant, consent), timeout, retry)

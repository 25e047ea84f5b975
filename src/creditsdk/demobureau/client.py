"""The demo bureau's clients (sync and async), one line per method."""

from __future__ import annotations

import httpx

from .._core.clients import AsyncClientBase, AuditArg, PricesArg, SyncClientBase, VerifyArg
from .._core.config import NOT_GIVEN, NotGiven, TimeoutArg
from .._core.consent import Consent
from .._core.identity import Applicant
from .._core.retry import RetryPolicy
from . import _protocol
from .models import DemoScoreResult

__all__ = ["AsyncDemoClient", "DemoClient"]


class _DemoConfig:
    def _configure(self, api_key: str | None, base_url: str | None) -> None:
        self._config = _protocol.DemoConfig.from_env(api_key, base_url)
        self.base_url = self._config.base_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"


class DemoClient(_DemoConfig, SyncClientBase):
    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
        audit: AuditArg = None,
        prices: PricesArg = None,
        verify: VerifyArg = True,
    ) -> None:
        self._configure(api_key, base_url)
        self._init_transport(
            provider="demo",
            timeout=timeout,
            retry=retry,
            http_client=http_client,
            audit=audit,
            prices=prices,
            verify=verify,
        )

    def score(
        self,
        applicant: Applicant,
        *,
        consent: Consent,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> DemoScoreResult:
        op = _protocol.score_operation(self._config, applicant, consent)
        return self._run(op, timeout=timeout, retry=retry, correlation_id=correlation_id)


class AsyncDemoClient(_DemoConfig, AsyncClientBase):
    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        audit: AuditArg = None,
        prices: PricesArg = None,
        verify: VerifyArg = True,
    ) -> None:
        self._configure(api_key, base_url)
        self._init_transport(
            provider="demo",
            timeout=timeout,
            retry=retry,
            http_client=http_client,
            audit=audit,
            prices=prices,
            verify=verify,
        )

    async def score(
        self,
        applicant: Applicant,
        *,
        consent: Consent,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> DemoScoreResult:
        op = _protocol.score_operation(self._config, applicant, consent)
        return await self._run(op, timeout=timeout, retry=retry, correlation_id=correlation_id)

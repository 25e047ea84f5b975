"""SesameClient / AsyncSesameClient: one line a method; every rule lives in ``_protocol``."""

from __future__ import annotations

import datetime as _dt
import functools
import inspect
import os
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import httpx

from .._core.clients import AsyncClientBase, AuditArg, PricesArg, SyncClientBase, VerifyArg
from .._core.config import NOT_GIVEN, NotGiven, TimeoutArg
from .._core.consent import Consent
from .._core.executors import DEFAULT_MAX_RESPONSE_BYTES
from .._core.identity import Applicant
from .._core.retry import RetryPolicy
from ..errors import ConfigurationError
from . import _protocol as p
from .models import Admittance, AuthorizationStatus, Grant, SesameScore, WatchlistResult

__all__ = ["AsyncSesameClient", "AuditArg", "SesameClient", "VerifyArg"]

GrantOrToken = Grant | str
CertArg = str | bytes | os.PathLike[str] | None
PathArg = str | os.PathLike[str] | None

_F = TypeVar("_F", bound=Callable[..., Any])
_H = TypeVar("_H", httpx.Client, httpx.AsyncClient)


def _keyword_only(*names: str) -> Callable[[_F], _F]:
    """``names`` became keyword-only: passing them positionally still works, with a
    DeprecationWarning, until the next major version."""

    def decorate(method: _F) -> _F:
        params = inspect.signature(method).parameters.values()
        positional = sum(p.kind is p.POSITIONAL_OR_KEYWORD for p in params)  # self included

        def moved(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
            extra = args[positional:]
            if not extra:
                return args
            if len(extra) > len(names):
                raise TypeError(
                    f"{method.__name__}() takes at most {positional - 1 + len(names)} "
                    f"positional arguments ({len(args) - 1} given)"
                )
            for name, value in zip(names, extra, strict=False):
                if name in kwargs:
                    raise TypeError(f"{method.__name__}() got multiple values for {name!r}")
                kwargs[name] = value
            shown = ", ".join(f"{n}=" for n in names[: len(extra)])
            warnings.warn(
                f"{method.__qualname__}(): pass {shown} as keyword arguments; positional use "
                "is deprecated and will be removed in the next major version",
                DeprecationWarning,
                stacklevel=3,
            )
            return args[:positional]

        if inspect.iscoroutinefunction(method):

            @functools.wraps(method)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                return await method(*moved(args, kwargs), **kwargs)

            return cast(_F, async_wrapper)

        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return method(*moved(args, kwargs), **kwargs)

        return cast(_F, wrapper)

    return decorate


class _SesameBase(Generic[_H]):
    """Construction, configuration and the pure helpers shared by the two clients."""

    _config: p.SesameConfig

    def __init__(
        self,
        app_id: str | None = None,
        app_private_key: str | bytes | None = None,
        alipay_public_key: str | bytes | None = None,
        gateway_url: str | None = None,
        authorize_url: str | None = None,
        *,
        config: p.SesameConfig | None = None,
        app_private_key_path: PathArg = None,
        alipay_public_key_path: PathArg = None,
        sign_type: str | None = None,
        encrypt_key: str | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | None = None,
        http_client: _H | None = None,
        audit: AuditArg = None,
        prices: PricesArg = None,
        verify: VerifyArg = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        clock: Callable[[], _dt.datetime] | None = None,
        app_cert: CertArg = None,
        app_cert_path: PathArg = None,
        alipay_cert: CertArg = None,
        alipay_cert_path: PathArg = None,
        alipay_root_cert: CertArg = None,
        alipay_root_cert_path: PathArg = None,
    ) -> None:
        settings: dict[str, Any] = {
            "app_id": app_id,
            "app_private_key": app_private_key,
            "app_private_key_path": app_private_key_path,
            "alipay_public_key": alipay_public_key,
            "alipay_public_key_path": alipay_public_key_path,
            "gateway_url": gateway_url,
            "authorize_url": authorize_url,
            "sign_type": sign_type,
            "encrypt_key": encrypt_key,
            "clock": clock,
            "app_cert": app_cert,
            "app_cert_path": app_cert_path,
            "alipay_cert": alipay_cert,
            "alipay_cert_path": alipay_cert_path,
            "alipay_root_cert": alipay_root_cert,
            "alipay_root_cert_path": alipay_root_cert_path,
        }
        if config is not None:
            given = sorted(k for k, v in settings.items() if v is not None)
            if given:
                raise ConfigurationError(f"give config= or {', '.join(given)}, not both")
            if not isinstance(config, p.SesameConfig):
                raise ConfigurationError(
                    f"config must be a SesameConfig, not {type(config).__name__}"
                )
            self._config = config
        else:
            self._config = p.SesameConfig.from_env(**settings)
        self._init_transport(
            provider=p.PROVIDER,
            timeout=timeout,
            retry=retry,
            http_client=http_client,
            audit=audit,
            prices=prices,
            verify=verify,
            max_response_bytes=max_response_bytes,
        )

    if TYPE_CHECKING:  # provided by SyncClientBase / AsyncClientBase

        def _init_transport(
            self,
            *,
            provider: str,
            timeout: TimeoutArg | NotGiven,
            retry: RetryPolicy | None,
            http_client: _H | None,
            audit: AuditArg,
            verify: VerifyArg = True,
            max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
            prices: PricesArg = None,
        ) -> None: ...

    @property
    def config(self) -> p.SesameConfig:
        """The loaded configuration (keys parsed once; its repr shows no key)."""
        return self._config

    @property
    def cert_mode(self) -> bool:
        """True in certificate mode (公钥证书模式): requests carry ``app_cert_sn``."""
        return self._config.certs is not None

    @property
    def app_id(self) -> str:
        return self._config.app_id

    @property
    def gateway_url(self) -> str:
        return self._config.gateway_url

    def authorization_url(self, redirect_uri: str, state: str, scope: str = "auth_zhima") -> str:
        """The Alipay page where the user authorizes the app; send their browser there."""
        return p.authorization_url(
            self._config, redirect_uri=redirect_uri, state=state, scope=scope
        )

    def parse_redirect(self, url_or_params: str | Mapping[str, object], expected_state: str) -> str:
        """The ``auth_code`` from the redirect back (full URL or its query params).

        Raises [`InvalidInputError`][] (``rule`` ``state_mismatch`` / ``missing_code``) or
        [`AuthorizationDeniedError`][creditsdk.sesame.AuthorizationDeniedError] (``user_denied``).
        """
        return p.parse_redirect(url_or_params, expected_state)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(app_id={self._config.app_id!r}, "
            f"gateway_url={self._config.gateway_url!r})"
        )


class SesameClient(_SesameBase[httpx.Client], SyncClientBase):
    """Sesame (Zhima) credit on the Alipay open platform.

    Keys are PEM strings or the bare base64 bodies Alipay's console shows (PKCS#1 or PKCS#8
    private key; X.509 public key), or files (``*_path``). Whatever is not passed is read from
    ``CREDITSDK_SESAME_*`` variables (see `SesameConfig.from_env`). ``alipay_public_key`` is
    *Alipay's* key, used to verify every answer; verification cannot be turned off.
    ``encrypt_key`` (base64 AES key) turns on ``encrypt_type=AES`` for ``biz_content``.
    ``clock`` returns an aware ``datetime`` (tests). ``config=`` takes a ready `SesameConfig`
    instead of the credential arguments.

    Certificate mode (公钥证书模式): instead of ``alipay_public_key``, give ``app_cert``,
    ``alipay_cert`` and ``alipay_root_cert`` (PEM text/bytes) or their ``*_path`` variants — the
    ``appCertPublicKey_*.crt``, ``alipayCertPublicKey_RSA2.crt`` and ``alipayRootCert.crt`` files
    the console hands out. Needs ``pip install 'creditsdk[cryptography]'``.

    ``consent`` is keyword-only in every method; passing it (and what follows it) positionally
    still works, with a ``DeprecationWarning``.
    """

    def exchange_code(
        self,
        code: str,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> Grant:
        """Trade the redirect's ``auth_code`` for a [`Grant`][] (oauth token call)."""
        return self._run(
            p.exchange_code(self._config, code=code), timeout, retry, correlation_id=correlation_id
        )

    def refresh(
        self,
        grant: Grant | str,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> Grant:
        """A new [`Grant`][] from a grant's refresh token (or the refresh token itself)."""
        return self._run(
            p.refresh(self._config, grant=grant), timeout, retry, correlation_id=correlation_id
        )

    @_keyword_only("consent", "product_code", "transaction_id")
    def score(
        self,
        grant_or_token: GrantOrToken,
        *,
        consent: Consent | None = None,
        product_code: str = p.SCORE_PRODUCT_CODE,
        transaction_id: str | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> SesameScore:
        """The user's Zhima score (``zhima.credit.score.get``). Billed; safe to retry."""
        return self._run(
            p.score(
                self._config,
                consent=consent,
                grant_or_token=grant_or_token,
                product_code=product_code,
                transaction_id=transaction_id,
            ),
            timeout,
            retry,
            correlation_id=correlation_id,
        )

    def authorization_status(
        self,
        who: Applicant | Grant | str,
        *,
        consent: Consent | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> AuthorizationStatus:
        """Has this person (Applicant) or Alipay user (Grant / user id) authorized the app?"""
        return self._run(
            p.authorization_status(self._config, consent=consent, who=who),
            timeout,
            retry,
            correlation_id=correlation_id,
        )

    @_keyword_only("consent", "product_code", "transaction_id")
    def admittance(
        self,
        applicant: Applicant,
        threshold: int,
        *,
        consent: Consent | None = None,
        product_code: str = p.BRIEF_PRODUCT_CODE,
        transaction_id: str | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> Admittance:
        """Is the applicant's score at least ``threshold`` (``zhima.credit.score.brief.get``)?"""
        return self._run(
            p.admittance(
                self._config,
                consent=consent,
                applicant=applicant,
                threshold=threshold,
                product_code=product_code,
                transaction_id=transaction_id,
            ),
            timeout,
            retry,
            correlation_id=correlation_id,
        )

    @_keyword_only("consent", "product_code", "transaction_id")
    def watchlist(
        self,
        applicant: Applicant,
        *,
        consent: Consent | None = None,
        product_code: str | None = None,
        transaction_id: str | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> WatchlistResult:
        """The industry watchlist level (``zhima.credit.watchlist.brief.get``). Billed.

        ``product_code`` is the one in your Zhima contract (no public default; required).
        """
        return self._run(
            p.watchlist(
                self._config,
                consent=consent,
                applicant=applicant,
                product_code=product_code,
                transaction_id=transaction_id,
            ),
            timeout,
            retry,
            correlation_id=correlation_id,
        )


class AsyncSesameClient(_SesameBase[httpx.AsyncClient], AsyncClientBase):
    """The async twin of [`SesameClient`][]: same arguments, ``async def`` calls."""

    async def exchange_code(
        self,
        code: str,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> Grant:
        return await self._run(
            p.exchange_code(self._config, code=code), timeout, retry, correlation_id=correlation_id
        )

    async def refresh(
        self,
        grant: Grant | str,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> Grant:
        return await self._run(
            p.refresh(self._config, grant=grant), timeout, retry, correlation_id=correlation_id
        )

    @_keyword_only("consent", "product_code", "transaction_id")
    async def score(
        self,
        grant_or_token: GrantOrToken,
        *,
        consent: Consent | None = None,
        product_code: str = p.SCORE_PRODUCT_CODE,
        transaction_id: str | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> SesameScore:
        return await self._run(
            p.score(
                self._config,
                consent=consent,
                grant_or_token=grant_or_token,
                product_code=product_code,
                transaction_id=transaction_id,
            ),
            timeout,
            retry,
            correlation_id=correlation_id,
        )

    async def authorization_status(
        self,
        who: Applicant | Grant | str,
        *,
        consent: Consent | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> AuthorizationStatus:
        return await self._run(
            p.authorization_status(self._config, consent=consent, who=who),
            timeout,
            retry,
            correlation_id=correlation_id,
        )

    @_keyword_only("consent", "product_code", "transaction_id")
    async def admittance(
        self,
        applicant: Applicant,
        threshold: int,
        *,
        consent: Consent | None = None,
        product_code: str = p.BRIEF_PRODUCT_CODE,
        transaction_id: str | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> Admittance:
        return await self._run(
            p.admittance(
                self._config,
                consent=consent,
                applicant=applicant,
                threshold=threshold,
                product_code=product_code,
                transaction_id=transaction_id,
            ),
            timeout,
            retry,
            correlation_id=correlation_id,
        )

    @_keyword_only("consent", "product_code", "transaction_id")
    async def watchlist(
        self,
        applicant: Applicant,
        *,
        consent: Consent | None = None,
        product_code: str | None = None,
        transaction_id: str | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> WatchlistResult:
        return await self._run(
            p.watchlist(
                self._config,
                consent=consent,
                applicant=applicant,
                product_code=product_code,
                transaction_id=transaction_id,
            ),
            timeout,
            retry,
            correlation_id=correlation_id,
        )

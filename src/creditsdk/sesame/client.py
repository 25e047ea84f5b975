"""SesameClient / AsyncSesameClient: thin; every call is one Operation from ``_protocol``."""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from .._core.config import NOT_GIVEN, NotGiven, TimeoutArg, env_or
from .._core.consent import Consent, check_consent
from .._core.identity import Applicant
from .._core.operation import Operation
from .._core.redact import register_secret
from .._core.retry import RetryPolicy
from .._core.transport import DEFAULT_MAX_RESPONSE_BYTES, AsyncClientBase, SyncClientBase
from ..errors import InvalidInputError
from . import _protocol as p
from ._cert import CertBundle
from .models import Admittance, AuthorizationStatus, Grant, SesameScore, WatchlistResult

__all__ = ["AsyncSesameClient", "SesameClient"]

GrantOrToken = Grant | str
CertArg = str | bytes | os.PathLike[str] | None


def _token_of(grant_or_token: object) -> str:
    if isinstance(grant_or_token, Grant):
        return grant_or_token.access_token
    if isinstance(grant_or_token, str) and grant_or_token.strip():
        return grant_or_token.strip()
    raise InvalidInputError(
        "must be a Grant or a non-empty access token string", field="grant", rule="type"
    )


def _nonempty(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError("must be a non-empty string", field=field, rule="required")
    return value.strip()


def _applicant(value: object) -> Applicant:
    if not isinstance(value, Applicant):
        raise InvalidInputError(
            f"must be a creditsdk.Applicant, got {type(value).__name__}",
            field="applicant",
            rule="type",
        )
    return value


class _SesameBase:
    """Configuration and Operation builders shared by the sync and async clients."""

    _config: p.SesameConfig

    def _setup(
        self,
        app_id: str | None,
        app_private_key: str | bytes | None,
        alipay_public_key: str | bytes | None,
        gateway_url: str | None,
        authorize_url: str | None,
        sign_type: str,
        encrypt_key: str | None,
        clock: Callable[[], _dt.datetime] | None,
        certs: Mapping[str, Any],
    ) -> None:
        resolved_app_id = env_or(app_id, "CREDITSDK_SESAME_APP_ID", what="app_id") or ""
        private_key = (
            app_private_key
            if isinstance(app_private_key, bytes)
            else env_or(app_private_key, "CREDITSDK_SESAME_APP_PRIVATE_KEY", what="app_private_key")
            or ""
        )
        # Masked by value wherever an echo of them shows up (errors, logs, audit events).
        register_secret(private_key, encrypt_key)
        bundle = None
        if any(v is not None for v in certs.values()):
            bundle = CertBundle.load(**certs)
        self._config = p.SesameConfig.load(
            app_id=resolved_app_id,
            app_private_key=private_key,
            alipay_public_key=(
                alipay_public_key
                if isinstance(alipay_public_key, bytes) or bundle is not None
                else env_or(
                    alipay_public_key,
                    "CREDITSDK_SESAME_ALIPAY_PUBLIC_KEY",
                    what="alipay_public_key",
                    required=bundle is None,
                )
            ),
            gateway_url=env_or(
                gateway_url, "CREDITSDK_SESAME_GATEWAY_URL", what="gateway_url", required=False
            )
            or p.DEFAULT_GATEWAY_URL,
            authorize_url=env_or(
                authorize_url,
                "CREDITSDK_SESAME_AUTHORIZE_URL",
                what="authorize_url",
                required=False,
            )
            or p.DEFAULT_AUTHORIZE_URL,
            sign_type=sign_type,
            encrypt_key=encrypt_key,
            clock=clock,
            certs=bundle,
        )

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
        return p.authorization_url(self._config, redirect_uri, state, scope)

    def parse_redirect(self, url_or_params: str | Mapping[str, Any], expected_state: str) -> str:
        """The ``auth_code`` from the redirect back (full URL or its query params).

        Raises [`InvalidInputError`][] (``rule`` ``state_mismatch`` / ``missing_code``) or
        [`AuthorizationDeniedError`][creditsdk.sesame.AuthorizationDeniedError] (``user_denied``).
        """
        return p.parse_redirect(url_or_params, expected_state)

    def _exchange_op(self, code: str) -> Operation[Grant]:
        return p.token_operation(self._config, code=_nonempty(code, "code"))

    def _refresh_op(self, grant: Grant | str) -> Operation[Grant]:
        token = grant.refresh_token if isinstance(grant, Grant) else grant
        return p.token_operation(self._config, refresh_token=_nonempty(token, "refresh_token"))

    def _score_op(
        self,
        grant_or_token: GrantOrToken,
        consent: Consent,
        product_code: str,
        transaction_id: str | None,
    ) -> Operation[SesameScore]:
        token = _token_of(grant_or_token)
        checked = check_consent(consent)
        assert checked is not None
        return p.score_operation(
            self._config,
            auth_token=token,
            consent=checked,
            product_code=_nonempty(product_code, "product_code"),
            transaction_id=(
                p.check_transaction_id(transaction_id)
                if transaction_id is not None
                else p.new_transaction_id()
            ),
        )

    def _authquery_op(
        self, who: Applicant | Grant | str, consent: Consent | None
    ) -> Operation[AuthorizationStatus]:
        checked = check_consent(consent, required=False)
        if isinstance(who, Applicant):
            return p.authquery_operation(
                self._config,
                identity_type="2",
                identity_param={
                    "certNo": who.id_card,
                    "certType": "IDENTITY_CARD",
                    "name": who.name,
                },
                applicant=who.masked(),
                consent=checked,
            )
        user_id = who.user_id if isinstance(who, Grant) else _nonempty(who, "user_id")
        # [C] identity_type 5 = Alipay user id (Java ZhimaAuthInfoAuthqueryModel); 2 = cert + name.
        return p.authquery_operation(
            self._config,
            identity_type="5",
            identity_param={"userId": user_id},
            applicant=None,
            consent=checked,
        )

    def _admittance_op(
        self,
        applicant: Applicant,
        threshold: int,
        consent: Consent,
        product_code: str,
        transaction_id: str | None,
    ) -> Operation[Admittance]:
        who = _applicant(applicant)
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int)
            or not (350 <= threshold <= 950)
        ):
            raise InvalidInputError(
                "must be an integer score between 350 and 950", field="threshold", rule="range"
            )
        checked = check_consent(consent)
        assert checked is not None
        return p.brief_operation(
            self._config,
            name=who.name,
            id_card=who.id_card,
            threshold=threshold,
            applicant=who.masked(),
            consent=checked,
            product_code=_nonempty(product_code, "product_code"),
            transaction_id=(
                p.check_transaction_id(transaction_id)
                if transaction_id is not None
                else p.new_transaction_id()
            ),
        )

    def _watchlist_op(
        self,
        applicant: Applicant,
        consent: Consent,
        product_code: str,
        transaction_id: str | None,
    ) -> Operation[WatchlistResult]:
        who = _applicant(applicant)
        checked = check_consent(consent)
        assert checked is not None
        return p.watchlist_operation(
            self._config,
            name=who.name,
            id_card=who.id_card,
            applicant=who.masked(),
            consent=checked,
            product_code=_nonempty(product_code, "product_code"),
            transaction_id=(
                p.check_transaction_id(transaction_id)
                if transaction_id is not None
                else p.new_transaction_id()
            ),
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(app_id={self._config.app_id!r}, "
            f"gateway_url={self._config.gateway_url!r})"
        )


class SesameClient(_SesameBase, SyncClientBase):
    """Sesame (Zhima) credit on the Alipay open platform.

    Keys are PEM strings or the bare base64 bodies Alipay's console shows (PKCS#1 or PKCS#8
    private key; X.509 public key). ``alipay_public_key`` is *Alipay's* key, used to verify
    every answer; verification cannot be turned off. ``encrypt_key`` (base64 AES key) turns on
    ``encrypt_type=AES`` for ``biz_content``. ``clock`` returns an aware ``datetime`` (tests).

    Certificate mode (公钥证书模式): instead of ``alipay_public_key``, give ``app_cert``,
    ``alipay_cert`` and ``alipay_root_cert`` (PEM text/bytes) or their ``*_path`` variants — the
    ``appCertPublicKey_*.crt``, ``alipayCertPublicKey_RSA2.crt`` and ``alipayRootCert.crt`` files
    the console hands out. Needs ``pip install 'creditsdk[cryptography]'``.
    """

    def __init__(
        self,
        app_id: str | None = None,
        app_private_key: str | bytes | None = None,
        alipay_public_key: str | bytes | None = None,
        gateway_url: str | None = None,
        authorize_url: str | None = None,
        *,
        sign_type: str = "RSA2",
        encrypt_key: str | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
        audit: object = None,
        verify: Any = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        clock: Callable[[], _dt.datetime] | None = None,
        app_cert: CertArg = None,
        app_cert_path: str | os.PathLike[str] | None = None,
        alipay_cert: CertArg = None,
        alipay_cert_path: str | os.PathLike[str] | None = None,
        alipay_root_cert: CertArg = None,
        alipay_root_cert_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self._setup(
            app_id,
            app_private_key,
            alipay_public_key,
            gateway_url,
            authorize_url,
            sign_type,
            encrypt_key,
            clock,
            {
                "app_cert": app_cert,
                "app_cert_path": app_cert_path,
                "alipay_cert": alipay_cert,
                "alipay_cert_path": alipay_cert_path,
                "alipay_root_cert": alipay_root_cert,
                "alipay_root_cert_path": alipay_root_cert_path,
            },
        )
        self._init_transport(
            provider="sesame",
            timeout=timeout,
            retry=retry,
            http_client=http_client,
            audit=audit,
            verify=verify,
            max_response_bytes=max_response_bytes,
        )

    def exchange_code(
        self,
        code: str,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> Grant:
        """Trade the redirect's ``auth_code`` for a [`Grant`][] (oauth token call)."""
        return self._run(self._exchange_op(code), timeout=timeout, retry=retry)

    def refresh(
        self,
        grant: Grant | str,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> Grant:
        """A new [`Grant`][] from a grant's refresh token (or the refresh token itself)."""
        return self._run(self._refresh_op(grant), timeout=timeout, retry=retry)

    def score(
        self,
        grant_or_token: GrantOrToken,
        consent: Consent,
        product_code: str = p.SCORE_PRODUCT_CODE,
        transaction_id: str | None = None,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> SesameScore:
        """The user's Zhima score (``zhima.credit.score.get``). Billed; safe to retry."""
        op = self._score_op(grant_or_token, consent, product_code, transaction_id)
        return self._run(op, timeout=timeout, retry=retry)

    def authorization_status(
        self,
        who: Applicant | Grant | str,
        *,
        consent: Consent | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> AuthorizationStatus:
        """Has this person (Applicant) or Alipay user (Grant / user id) authorized the app?"""
        return self._run(self._authquery_op(who, consent), timeout=timeout, retry=retry)

    def admittance(
        self,
        applicant: Applicant,
        threshold: int,
        consent: Consent,
        product_code: str = p.BRIEF_PRODUCT_CODE,
        transaction_id: str | None = None,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> Admittance:
        """Is the applicant's score at least ``threshold`` (``zhima.credit.score.brief.get``)?"""
        op = self._admittance_op(applicant, threshold, consent, product_code, transaction_id)
        return self._run(op, timeout=timeout, retry=retry)

    def watchlist(
        self,
        applicant: Applicant,
        consent: Consent,
        product_code: str,
        transaction_id: str | None = None,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> WatchlistResult:
        """The industry watchlist level (``zhima.credit.watchlist.brief.get``). Billed.

        ``product_code`` is the one in your Zhima contract (no public default).
        """
        op = self._watchlist_op(applicant, consent, product_code, transaction_id)
        return self._run(op, timeout=timeout, retry=retry)


class AsyncSesameClient(_SesameBase, AsyncClientBase):
    """The async twin of [`SesameClient`][]: same arguments, ``async def`` calls."""

    def __init__(
        self,
        app_id: str | None = None,
        app_private_key: str | bytes | None = None,
        alipay_public_key: str | bytes | None = None,
        gateway_url: str | None = None,
        authorize_url: str | None = None,
        *,
        sign_type: str = "RSA2",
        encrypt_key: str | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        audit: object = None,
        verify: Any = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        clock: Callable[[], _dt.datetime] | None = None,
        app_cert: CertArg = None,
        app_cert_path: str | os.PathLike[str] | None = None,
        alipay_cert: CertArg = None,
        alipay_cert_path: str | os.PathLike[str] | None = None,
        alipay_root_cert: CertArg = None,
        alipay_root_cert_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self._setup(
            app_id,
            app_private_key,
            alipay_public_key,
            gateway_url,
            authorize_url,
            sign_type,
            encrypt_key,
            clock,
            {
                "app_cert": app_cert,
                "app_cert_path": app_cert_path,
                "alipay_cert": alipay_cert,
                "alipay_cert_path": alipay_cert_path,
                "alipay_root_cert": alipay_root_cert,
                "alipay_root_cert_path": alipay_root_cert_path,
            },
        )
        self._init_transport(
            provider="sesame",
            timeout=timeout,
            retry=retry,
            http_client=http_client,
            audit=audit,
            verify=verify,
            max_response_bytes=max_response_bytes,
        )

    async def exchange_code(
        self,
        code: str,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> Grant:
        return await self._run(self._exchange_op(code), timeout=timeout, retry=retry)

    async def refresh(
        self,
        grant: Grant | str,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> Grant:
        return await self._run(self._refresh_op(grant), timeout=timeout, retry=retry)

    async def score(
        self,
        grant_or_token: GrantOrToken,
        consent: Consent,
        product_code: str = p.SCORE_PRODUCT_CODE,
        transaction_id: str | None = None,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> SesameScore:
        op = self._score_op(grant_or_token, consent, product_code, transaction_id)
        return await self._run(op, timeout=timeout, retry=retry)

    async def authorization_status(
        self,
        who: Applicant | Grant | str,
        *,
        consent: Consent | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> AuthorizationStatus:
        return await self._run(self._authquery_op(who, consent), timeout=timeout, retry=retry)

    async def admittance(
        self,
        applicant: Applicant,
        threshold: int,
        consent: Consent,
        product_code: str = p.BRIEF_PRODUCT_CODE,
        transaction_id: str | None = None,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> Admittance:
        op = self._admittance_op(applicant, threshold, consent, product_code, transaction_id)
        return await self._run(op, timeout=timeout, retry=retry)

    async def watchlist(
        self,
        applicant: Applicant,
        consent: Consent,
        product_code: str,
        transaction_id: str | None = None,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> WatchlistResult:
        op = self._watchlist_op(applicant, consent, product_code, transaction_id)
        return await self._run(op, timeout=timeout, retry=retry)

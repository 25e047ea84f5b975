"""Sesame's own error subclasses: the core types, plus Alipay's ``sub_code`` / ``sub_msg``."""

from __future__ import annotations

from ..errors import (
    AuthenticationError,
    InvalidInputError,
    ProductNotEnabledError,
    ProviderError,
    RateLimitedError,
)

__all__ = [
    "AuthorizationDeniedError",
    "AuthorizationRevokedError",
    "SesameAuthenticationError",
    "SesameProductNotEnabledError",
    "SesameProviderError",
    "SesameRateLimitedError",
]


class _SubCode:
    """Adds Alipay's ``sub_code`` (e.g. ``isv.invalid-signature``) and ``sub_msg``."""

    sub_code: str | None
    sub_msg: str | None

    def __init__(
        self,
        message: str,
        *,
        sub_code: str | None = None,
        sub_msg: str | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(message, **kwargs)  # type: ignore[call-arg]
        self.sub_code = sub_code
        self.sub_msg = sub_msg


class SesameProviderError(_SubCode, ProviderError):
    """Alipay/Zhima answered with a failure code (20000, 40001, 40002, 40004 …)."""


class SesameAuthenticationError(_SubCode, AuthenticationError):
    """Signature, app id, auth code or auth token refused (20001, 40002 ``isv.invalid-*``)."""


class AuthorizationRevokedError(SesameAuthenticationError):
    """The user withdrew the authorization (``ZMCREDIT.authentication_fail``): ask again."""


class SesameProductNotEnabledError(_SubCode, ProductNotEnabledError):
    """40006: the app has not been granted this Zhima product."""


class SesameRateLimitedError(_SubCode, RateLimitedError):
    """``isv.app-call-limited`` / ``isv.method-call-limited``: retried after a backoff."""


class AuthorizationDeniedError(InvalidInputError):
    """The user declined on Alipay's authorization page (the redirect carries an error)."""

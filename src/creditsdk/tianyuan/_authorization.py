"""Which authorization parameter a Tianyuan product takes, filled from a Consent.

The provider checks the applicant's authorization through one request parameter whose name
depends on the product (protocol notes: JRZQ9E2A takes ``auth_authorize_file_code``, the
authorization letter's reference; other products take ``authorized: "1"``,
``auth_date: "YYYYMMDD-YYYYMMDD"`` or ``authorization_url``). Without it the provider answers
1003 ("parameter validation failed"). `with_authorization` adds it where the product is known
and, where it is not, says which ``--param`` is needed, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .._core.consent import Consent
from ..errors import InvalidInputError

__all__ = ["AUTHORIZATION_PARAMS", "PRODUCT_AUTHORIZATION", "with_authorization"]


def _reference(consent: Consent) -> str:
    return consent.reference


def _authorized(consent: Consent) -> str:
    return "1"


def _auth_date(consent: Consent) -> str:
    if consent.expires_at is None:
        raise InvalidInputError(
            "this product's auth_date is the authorization's validity, YYYYMMDD-YYYYMMDD: "
            "give the consent an expiry (--consent-expires-at) or pass --param auth_date=...",
            field="--param",
            rule="required",
        )
    return f"{consent.granted_at:%Y%m%d}-{consent.expires_at:%Y%m%d}"


def _authorization_url(consent: Consent) -> str:
    if not consent.reference.startswith(("https://", "http://")):
        raise InvalidInputError(
            "this product's authorization_url is the URL of the signed authorization: make "
            "--consent-reference that URL or pass --param authorization_url=...",
            field="--param",
            rule="required",
        )
    return consent.reference


#: Every authorization parameter the SDK knows, and how it is filled from a Consent.
AUTHORIZATION_PARAMS: Mapping[str, Callable[[Consent], str]] = {
    "auth_authorize_file_code": _reference,
    "authorized": _authorized,
    "auth_date": _auth_date,
    "authorization_url": _authorization_url,
}

#: product code -> the authorization parameter it takes (None: it takes none).
PRODUCT_AUTHORIZATION: Mapping[str, str | None] = {
    "JRZQ9E2A": "auth_authorize_file_code",  # [C] the product document and its sample client
    # The Sandbox's products (not public ones): its composite checks the JRZQ9E2A parameter,
    # its small risk product none.
    "COMB86PM": "auth_authorize_file_code",
    "JRZQ8F7C": None,
}


def with_authorization(
    product_code: str, params: Mapping[str, Any], consent: Consent
) -> dict[str, Any]:
    """``params`` with ``product_code``'s authorization parameter filled from ``consent``.

    A parameter the caller gave wins. For a product whose parameter is not known, an
    InvalidInputError names the ``--param`` choices (nothing is sent)."""
    out = dict(params)
    if any(name in out for name in AUTHORIZATION_PARAMS):
        return out
    if product_code not in PRODUCT_AUTHORIZATION:
        choices = ", ".join(
            f"--param {name}={hint}"
            for name, hint in (
                ("auth_authorize_file_code", consent.reference),
                ("authorized", "1"),
                ("auth_date", "YYYYMMDD-YYYYMMDD"),
                ("authorization_url", "URL"),
            )
        )
        raise InvalidInputError(
            f"the SDK does not know which authorization parameter {product_code} takes (the "
            f"provider answers 1003 without it): pass the one your product document names, "
            f"one of {choices}",
            field="--param",
            rule="required",
        )
    name = PRODUCT_AUTHORIZATION[product_code]
    if name is not None:
        out[name] = AUTHORIZATION_PARAMS[name](consent)
    return out

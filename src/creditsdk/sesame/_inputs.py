"""Every input rule of the Sesame operations, once: pure functions from raw values to frozen ones.

``inputs_<operation>(**raw)`` accepts what a caller has at hand, typed values (an
[`Applicant`][creditsdk.Applicant], a [`Grant`][creditsdk.sesame.Grant], an ``int`` threshold) as
well as the strings of a CSV row or a command line (``name``/``id_card`` columns, ``"650"``), and
returns a frozen value, or raises [`InvalidInputError`][creditsdk.errors.InvalidInputError] naming
the field. No I/O, no configuration, no clock: consent is checked where the Operation is built.
``_protocol`` re-exports these; reprs mask personal data and hide tokens.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Literal

import attrs

from .._core.config import url_parts
from .._core.identity import Applicant, normalize_id_card, normalize_name
from .._core.redact import mask_id_card, mask_mobile, mask_name
from ..errors import InvalidInputError
from .models import Grant, mask_user_id

__all__ = [
    "BRIEF_PRODUCT_CODE",
    "SCORE_PRODUCT_CODE",
    "AdmittanceInputs",
    "AuthorizationStatusInputs",
    "AuthorizationUrlInputs",
    "ExchangeCodeInputs",
    "RefreshInputs",
    "ScoreInputs",
    "WatchlistInputs",
    "check_transaction_id",
    "inputs_admittance",
    "inputs_authorization_status",
    "inputs_authorization_url",
    "inputs_exchange_code",
    "inputs_refresh",
    "inputs_score",
    "inputs_watchlist",
    "new_transaction_id",
]

SCORE_PRODUCT_CODE = "w1010100100000000001"
BRIEF_PRODUCT_CODE = "w1010100000000002733"

_TXN_RE = re.compile(r"[A-Za-z0-9_]{1,64}")
#: Product codes are ASCII (``w1010100100000000001``); anything else is a typo or an injection.
_PRODUCT_CODE_RE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
#: Tokens, codes and user ids: printable ASCII without spaces (they go into a signed query).
_TOKEN_RE = re.compile(r"[\x21-\x7e]{1,512}")
_SCOPE_RE = re.compile(r"[a-z_]+(,[a-z_]+)*")
_THRESHOLD_RANGE = (350, 950)


def _hidden(_value: object) -> str:
    return "'<redacted>'"


def _masked_with(mask: Callable[[str], str | None]) -> Callable[[str | None], str]:
    def render(value: str | None) -> str:
        return repr(None if value is None else mask(value))

    return render


# -- single fields ---------------------------------------------------------------------------


def _text(value: object, field: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(
            f"must be a string, got {type(value).__name__}", field=field, rule="type"
        )
    v = value.strip()
    if not v:
        raise InvalidInputError("is empty", field=field, rule="required")
    if not pattern.fullmatch(v):
        raise InvalidInputError(f"must be {what}", field=field, rule="format")
    return v


def _token(value: object, field: str) -> str:
    return _text(value, field, _TOKEN_RE, "printable ASCII without spaces (1-512 characters)")


def _product_code(value: object) -> str:
    return _text(value, "product_code", _PRODUCT_CODE_RE, "1-64 characters of A-Z, a-z, 0-9, _.-")


def new_transaction_id() -> str:
    """``csdk_`` and a UUID4's 32 hex digits in groups of 8: unique, ``[A-Za-z0-9_]``, 40
    characters. Grouped so that no run of 11+ digits can occur: the masking pass would take one
    for a card or mobile and star it out of audit events and errors (the id stops matching)."""
    hexed = uuid.uuid4().hex
    return "csdk_" + "_".join(hexed[i : i + 8] for i in range(0, 32, 8))


def check_transaction_id(value: object) -> str:
    """A caller's ``transaction_id``: 1-64 characters of ``[A-Za-z0-9_]`` (Zhima's rule)."""
    if not isinstance(value, str) or not _TXN_RE.fullmatch(value):
        raise InvalidInputError(
            "must be 1-64 characters of A-Z, a-z, 0-9 and _", field="transaction_id", rule="format"
        )
    return value


def _optional_transaction_id(value: object) -> str | None:
    return None if value is None else check_transaction_id(value)


def _threshold(value: object) -> int:
    """An ``int`` or its decimal string (``"650"`` from a CSV); 350-950."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    low, high = _THRESHOLD_RANGE
    if number is None or not low <= number <= high:
        raise InvalidInputError(
            f"must be an integer score between {low} and {high}", field="threshold", rule="range"
        )
    return number


@attrs.frozen
class _Person:
    name: str = attrs.field(repr=_masked_with(mask_name))
    id_card: str = attrs.field(repr=_masked_with(mask_id_card))
    #: Not sent to Zhima; kept (masked) in audit events when an Applicant was given.
    mobile: str | None = attrs.field(repr=_masked_with(mask_mobile))

    def masked(self) -> dict[str, str]:
        out = {"name": mask_name(self.name), "id_card": mask_id_card(self.id_card)}
        if self.mobile is not None:
            out["mobile"] = mask_mobile(self.mobile)
        return out


def _person(applicant: object, name: object, id_card: object) -> _Person:
    """An Applicant, or a ``name`` and an ``id_card`` (a CSV row has no Applicant): not both."""
    if applicant is not None:
        if not isinstance(applicant, Applicant):
            raise InvalidInputError(
                f"must be a creditsdk.Applicant, got {type(applicant).__name__}",
                field="applicant",
                rule="type",
            )
        if name is not None or id_card is not None:
            raise InvalidInputError(
                "give an Applicant or name and id_card, not both",
                field="applicant",
                rule="conflict",
            )
        return _Person(applicant.name, applicant.id_card, applicant.mobile)
    if name is None and id_card is None:
        raise InvalidInputError(
            "is required (an Applicant, or name and id_card)", field="applicant", rule="required"
        )
    if name is None:
        raise InvalidInputError("is required with id_card", field="name", rule="required")
    if id_card is None:
        raise InvalidInputError("is required with name", field="id_card", rule="required")
    return _Person(normalize_name(name), normalize_id_card(id_card), None)


# -- one value per operation -----------------------------------------------------------------


@attrs.frozen
class AuthorizationUrlInputs:
    """Checked inputs of the authorization page URL."""

    redirect_uri: str
    state: str
    scope: str


def inputs_authorization_url(
    *, redirect_uri: str, state: str, scope: str = "auth_zhima"
) -> AuthorizationUrlInputs:
    """``redirect_uri`` an absolute http(s) URL, ``state`` 1-256 characters, ``scope`` names."""
    parts = url_parts(redirect_uri)
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInputError(
            "must be an absolute http(s) URL", field="redirect_uri", rule="format"
        )
    if not isinstance(state, str) or not state or len(state) > 256:
        raise InvalidInputError("must be 1-256 characters", field="state", rule="format")
    if not isinstance(scope, str) or not _SCOPE_RE.fullmatch(scope):
        raise InvalidInputError(
            "must be scope names like 'auth_zhima'", field="scope", rule="format"
        )
    return AuthorizationUrlInputs(redirect_uri=redirect_uri, state=state, scope=scope)


@attrs.frozen
class ExchangeCodeInputs:
    """Checked inputs of ``exchange_code``: the redirect's single-use ``auth_code``."""

    code: str = attrs.field(repr=_hidden)


def inputs_exchange_code(*, code: str) -> ExchangeCodeInputs:
    return ExchangeCodeInputs(code=_token(code, "code"))


@attrs.frozen
class RefreshInputs:
    """Checked inputs of ``refresh``."""

    refresh_token: str = attrs.field(repr=_hidden)


def inputs_refresh(*, grant: Grant | str) -> RefreshInputs:
    """A [`Grant`][creditsdk.sesame.Grant] (its ``refresh_token``) or the refresh token itself."""
    token = grant.refresh_token if isinstance(grant, Grant) else grant
    if token is None:
        raise InvalidInputError(
            "the grant carries no refresh token", field="refresh_token", rule="required"
        )
    return RefreshInputs(refresh_token=_token(token, "refresh_token"))


@attrs.frozen
class ScoreInputs:
    """Checked inputs of ``score``. ``transaction_id`` None: the Operation draws a new one."""

    auth_token: str = attrs.field(repr=_hidden)
    product_code: str
    transaction_id: str | None


def inputs_score(
    *,
    grant_or_token: Grant | str,
    product_code: str = SCORE_PRODUCT_CODE,
    transaction_id: str | None = None,
) -> ScoreInputs:
    """``grant_or_token``: a [`Grant`][creditsdk.sesame.Grant] or its access token string."""
    if isinstance(grant_or_token, Grant):
        token = grant_or_token.access_token
    elif isinstance(grant_or_token, str):
        token = grant_or_token
    else:
        raise InvalidInputError(
            "must be a Grant or a non-empty access token string", field="grant", rule="type"
        )
    return ScoreInputs(
        auth_token=_token(token, "grant"),
        product_code=_product_code(product_code),
        transaction_id=_optional_transaction_id(transaction_id),
    )


@attrs.frozen
class AuthorizationStatusInputs:
    """Checked inputs of ``authorization_status``: an Alipay user id, or a person."""

    user_id: str | None = attrs.field(repr=_masked_with(mask_user_id))
    person: _Person | None

    @property
    def identity_type(self) -> Literal["2", "5"]:
        """[C] ``"5"`` = Alipay user id, ``"2"`` = certificate number + name (Java Javadoc)."""
        return "5" if self.user_id is not None else "2"

    @property
    def identity_param(self) -> dict[str, str]:
        if self.person is None:
            return {"userId": self.user_id or ""}
        return {
            "certNo": self.person.id_card,
            "certType": "IDENTITY_CARD",
            "name": self.person.name,
        }

    def masked(self) -> dict[str, str] | None:
        return None if self.person is None else self.person.masked()


def inputs_authorization_status(
    *,
    who: Applicant | Grant | str | None = None,
    user_id: str | None = None,
    name: str | None = None,
    id_card: str | None = None,
) -> AuthorizationStatusInputs:
    """``who``: an [`Applicant`][creditsdk.Applicant], a [`Grant`][creditsdk.sesame.Grant] or an
    Alipay user id; or, from a CSV row, ``user_id`` or ``name`` and ``id_card``."""
    if who is not None:
        if user_id is not None or name is not None or id_card is not None:
            raise InvalidInputError(
                "give who, or user_id, or name and id_card", field="who", rule="conflict"
            )
        if isinstance(who, Applicant):
            return AuthorizationStatusInputs(None, _person(who, None, None))
        if isinstance(who, Grant):
            return AuthorizationStatusInputs(_token(who.user_id, "user_id"), None)
        if not isinstance(who, str):
            raise InvalidInputError(
                f"must be an Applicant, a Grant or a user id, got {type(who).__name__}",
                field="who",
                rule="type",
            )
        return AuthorizationStatusInputs(_token(who, "user_id"), None)
    if user_id is not None:
        if name is not None or id_card is not None:
            raise InvalidInputError(
                "give user_id, or name and id_card, not both", field="user_id", rule="conflict"
            )
        return AuthorizationStatusInputs(_token(user_id, "user_id"), None)
    if name is None and id_card is None:
        raise InvalidInputError(
            "is required (an Applicant, a Grant or a user id)", field="who", rule="required"
        )
    return AuthorizationStatusInputs(None, _person(None, name, id_card))


@attrs.frozen
class WatchlistInputs:
    """Checked inputs of ``watchlist``."""

    person: _Person
    product_code: str
    transaction_id: str | None


def inputs_watchlist(
    *,
    applicant: Applicant | None = None,
    name: str | None = None,
    id_card: str | None = None,
    product_code: str | None = None,
    transaction_id: str | None = None,
) -> WatchlistInputs:
    """``product_code`` is your contract's (there is no public default)."""
    if product_code is None:
        raise InvalidInputError(
            "is required: your Zhima contract's watchlist product code",
            field="product_code",
            rule="required",
        )
    return WatchlistInputs(
        person=_person(applicant, name, id_card),
        product_code=_product_code(product_code),
        transaction_id=_optional_transaction_id(transaction_id),
    )


@attrs.frozen
class AdmittanceInputs:
    """Checked inputs of ``admittance``: ``threshold`` is 350-950."""

    person: _Person
    threshold: int
    product_code: str
    transaction_id: str | None


def inputs_admittance(
    *,
    applicant: Applicant | None = None,
    name: str | None = None,
    id_card: str | None = None,
    threshold: int | str,
    product_code: str = BRIEF_PRODUCT_CODE,
    transaction_id: str | None = None,
) -> AdmittanceInputs:
    return AdmittanceInputs(
        person=_person(applicant, name, id_card),
        threshold=_threshold(threshold),
        product_code=_product_code(product_code),
        transaction_id=_optional_transaction_id(transaction_id),
    )

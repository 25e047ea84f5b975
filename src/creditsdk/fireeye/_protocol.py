"""FireEye wire protocol, pure: validate inputs, build requests, parse answers. No I/O.

Request: ``data=<JSON of {"id": institution, "appKey": key, "data": {...}}>``, as a form body
(POST, the default) or a query parameter (GET). Answer: ``{"respCd"|"resp": code, "msg", "data"}``
with HTTP 200 whatever the code. See docs/fireeye.md for what is confirmed and what is assumed.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Literal, TypeVar
from urllib.parse import urlencode

import attrs

from .._core.config import EnvVar, env_or, url_parts
from .._core.consent import Consent, check_consent
from .._core.identity import normalize_card_no, normalize_id_card, normalize_mobile
from .._core.operation import Operation
from .._core.redact import (
    mask_card,
    mask_id_card,
    mask_mobile,
    mask_secret,
    register_secret,
    scrub_text,
)
from .._core.wire import Request, Response
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidInputError,
    ProductNotEnabledError,
    ProviderError,
    ResponseIntegrityError,
)
from .models import REASON_MISMATCH, REASON_NO_SUCH_TRANSACTION, FireEyeScore, TransactionCheck

__all__ = [
    "DEFAULT_BASE_URL",
    "ENV_AMOUNT_UNIT",
    "ENV_APP_KEY",
    "ENV_BASE_URL",
    "ENV_INSTITUTION_ID",
    "ENV_METHOD",
    "MODEL_SCORE_PATH",
    "SCORE_RANGE",
    "TRANSACTION_AUTH_PATH",
    "AmountUnit",
    "Credentials",
    "FireEyeConfig",
    "HttpMethod",
    "ModelScoreInputs",
    "VerifyTransactionInputs",
    "build_model_score",
    "build_verify_transaction",
    "encode_amount",
    "encode_trans_date",
    "inputs_model_score",
    "inputs_verify_transaction",
    "model_score",
    "model_score_operation",
    "normalize_amount",
    "normalize_location",
    "normalize_trans_date",
    "parse_envelope",
    "transaction_operation",
    "verify_transaction",
]

PROVIDER = "fireeye"
T = TypeVar("T")
DEFAULT_BASE_URL = "https://risktech.unionpay.com"
# The misspelling ("transation") is the provider's real path.
TRANSACTION_AUTH_PATH = "/fireeye/creditScore/transationAuthentication"
MODEL_SCORE_PATH = "/fireeye/creditScore/UnionPayModelScore"
SCORE_RANGE = range(300, 1001)

AmountUnit = Literal["fen", "yuan"]
HttpMethod = Literal["POST", "GET"]
AMOUNT_UNITS: tuple[str, ...] = ("fen", "yuan")
HTTP_METHODS: tuple[str, ...] = ("POST", "GET")

_CENT = Decimal("0.01")
# 15 significant digits survive a trip through a double (DBL_DIG): amounts below ¥10**13
# ("yuan" unit) are exact to the fen on the wire. No card transaction comes near it.
_MAX_AMOUNT = Decimal(10) ** 13


@attrs.frozen(repr=False)
class Credentials:
    """Institution id (``id``) and its key (``appKey``), sent inside every request envelope."""

    institution_id: str
    app_key: str

    def __attrs_post_init__(self) -> None:
        register_secret(self.app_key)  # an echoed app key is masked wherever it shows up

    def __repr__(self) -> str:
        key = mask_secret(self.app_key)
        return f"Credentials(institution_id={self.institution_id!r}, app_key={key})"


def check_base_url(value: str) -> str:
    parts = url_parts(value)
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            "FireEye base_url must be an http(s) URL such as " + DEFAULT_BASE_URL
        )
    if parts.query or parts.fragment:
        raise ConfigurationError("FireEye base_url must not carry a query string or fragment")
    return value.rstrip("/")


def check_amount_unit(value: object) -> AmountUnit:
    if value not in AMOUNT_UNITS:
        raise ConfigurationError(f"amount_unit must be 'fen' or 'yuan', not {value!r}")
    return value  # type: ignore[return-value]


def check_method(value: object) -> HttpMethod:
    method = value.upper() if isinstance(value, str) else value
    if method not in HTTP_METHODS:
        raise ConfigurationError(f"method must be 'POST' or 'GET', not {value!r}")
    return method  # type: ignore[return-value]


# -- configuration -------------------------------------------------------------------------

ENV_INSTITUTION_ID = "CREDITSDK_FIREEYE_INSTITUTION_ID"
ENV_APP_KEY = "CREDITSDK_FIREEYE_APP_KEY"
ENV_BASE_URL = "CREDITSDK_FIREEYE_BASE_URL"
ENV_METHOD = "CREDITSDK_FIREEYE_METHOD"
ENV_AMOUNT_UNIT = "CREDITSDK_FIREEYE_AMOUNT_UNIT"
#: Every variable of `FireEyeConfig.from_env` (the transport ones come on top).
ENV_VARS = (
    EnvVar(ENV_INSTITUTION_ID, "your institution id", required=True),
    EnvVar(ENV_APP_KEY, "your app key", secret=True, required=True),
    EnvVar(ENV_BASE_URL, "the API host", DEFAULT_BASE_URL),
    EnvVar(ENV_METHOD, "HTTP layout: `POST` (form body) or `GET` (query)", "POST"),
    EnvVar(ENV_AMOUNT_UNIT, "wire unit of `transAmount`: `fen` or `yuan`", "fen"),
)


def _credential(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"FireEye {what} must be a non-empty string")
    return value


def _institution_id(value: object) -> str:
    return _credential(value, "institution_id")


def _app_key(value: object) -> str:
    return _credential(value, "app_key")


def _setting(
    value: str | None, env_var: str, what: str, check: Callable[[str], T], default: T
) -> T:
    """``value``, else ``$env_var``, else ``default``, checked; a bad value read from the
    environment names the variable."""
    raw = env_or(value, env_var, what=f"FireEye {what}", required=False)
    if raw is None:
        return default
    try:
        return check(raw)
    except ConfigurationError as exc:
        if value is not None:
            raise
        raise ConfigurationError(f"{exc} (read from {env_var})") from None


@attrs.frozen(repr=False)
class FireEyeConfig:
    """What every FireEye request needs, validated once: the institution's credentials, the
    host, the HTTP layout (``"POST"`` form body or ``"GET"`` query) and the wire unit of
    ``transAmount`` (``"fen"`` or ``"yuan"``; amounts you pass are always yuan).

    ``FireEyeConfig.from_env()`` fills what is not given from ``CREDITSDK_FIREEYE_*``.
    """

    institution_id: str = attrs.field(converter=_institution_id)
    app_key: str = attrs.field(converter=_app_key)
    base_url: str = attrs.field(default=DEFAULT_BASE_URL, converter=check_base_url)
    method: HttpMethod = attrs.field(default="POST", converter=check_method)
    amount_unit: AmountUnit = attrs.field(default="fen", converter=check_amount_unit)
    #: The credentials as they go into the envelope (the app key registered as a secret).
    credentials: Credentials = attrs.field(init=False)

    @credentials.default
    def _credentials(self) -> Credentials:
        return Credentials(self.institution_id, self.app_key)

    @classmethod
    def from_env(
        cls,
        institution_id: str | None = None,
        app_key: str | None = None,
        base_url: str | None = None,
        *,
        method: str | None = None,
        amount_unit: str | None = None,
    ) -> FireEyeConfig:
        """A config from the arguments given, the rest from the environment:
        ``CREDITSDK_FIREEYE_INSTITUTION_ID``, ``_APP_KEY`` (or ``_APP_KEY_FILE``; both required),
        ``_BASE_URL`` (default the production host), ``_METHOD`` (default ``POST``) and
        ``_AMOUNT_UNIT`` (default ``fen``). A missing or bad value raises
        [`ConfigurationError`][creditsdk.errors.ConfigurationError] naming the variable."""
        inst = env_or(institution_id, ENV_INSTITUTION_ID, what="FireEye institution_id")
        key = env_or(app_key, ENV_APP_KEY, what="FireEye app_key", secret=True)
        assert inst is not None
        assert key is not None
        return cls(
            institution_id=inst,
            app_key=key,
            base_url=_setting(base_url, ENV_BASE_URL, "base_url", check_base_url, DEFAULT_BASE_URL),
            method=_setting(method, ENV_METHOD, "method", check_method, "POST"),
            amount_unit=_setting(
                amount_unit, ENV_AMOUNT_UNIT, "amount_unit", check_amount_unit, "fen"
            ),
        )

    def __repr__(self) -> str:
        return (
            f"FireEyeConfig(institution_id={self.institution_id!r}, "
            f"app_key={mask_secret(self.app_key)}, base_url={self.base_url!r}, "
            f"method={self.method!r}, amount_unit={self.amount_unit!r})"
        )


# -- inputs --------------------------------------------------------------------------------

_AMOUNT_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_GROUPED_AMOUNT_TEXT = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?")
_DATE_TEXT = (
    re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})"),  # the wire's YYYYMMDD
    re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})"),  # ISO 8601
    re.compile(r"([0-9]{4})/([0-9]{2})/([0-9]{2})"),
)


def _ascii_text(value: str, field: str) -> str:
    """Stripped, with full-width digits and punctuation (a Chinese IME's) made ASCII by NFKC;
    superscript, circled and other non-decimal digits (which NFKC would turn into digits) are
    refused, as for card numbers, and so is anything longer than any amount or date."""
    v = value.strip()
    if len(v) > 40:
        raise InvalidInputError("is too long (more than 40 characters)", field=field, rule="format")
    if v.isascii():
        return v
    if any(unicodedata.category(ch) == "No" for ch in v):
        raise InvalidInputError(
            "contains superscript, circled or other non-decimal digits", field=field, rule="format"
        )
    return unicodedata.normalize("NFKC", v).strip()


def _amount_of_text(value: str) -> Decimal:
    v = _ascii_text(value, "amount")
    if _GROUPED_AMOUNT_TEXT.fullmatch(v):
        v = v.replace(",", "")  # "1,234.50": thousands separators, and only those
    if not _AMOUNT_TEXT.fullmatch(v):
        raise InvalidInputError(
            "must be a number of yuan such as 212.00 (digits, at most one decimal point; "
            "no exponent, currency sign or decimal comma)",
            field="amount",
            rule="format",
        )
    return Decimal(v)


def normalize_amount(value: object) -> Decimal:
    """An amount in **yuan**, whatever the client's ``amount_unit`` (that only decides how it
    goes on the wire): a ``Decimal``, an ``int`` or a string such as ``"212.00"`` /
    ``"1,234.50"`` (from a CSV or a command line); > 0, below 10**13, at most 2 decimal places.
    A ``float`` is refused: it cannot hold cents exactly."""
    if isinstance(value, str):
        amount = _amount_of_text(value)
    elif isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        hint = " (use Decimal('212.00'): floats cannot hold cents exactly)"
        raise InvalidInputError(
            f"must be a Decimal amount in yuan, got {type(value).__name__}"
            + (hint if isinstance(value, float) else ""),
            field="amount",
            rule="type",
        )
    else:
        amount = Decimal(value)
    if not amount.is_finite():
        raise InvalidInputError("must be a finite number", field="amount", rule="format")
    if amount <= 0:
        raise InvalidInputError("must be greater than zero", field="amount", rule="range")
    if amount >= _MAX_AMOUNT:
        raise InvalidInputError(
            "is implausibly large (>= 10**13 yuan)", field="amount", rule="range"
        )
    if amount != amount.quantize(_CENT):
        raise InvalidInputError(
            "has more than 2 decimal places (amounts are in yuan, to the fen)",
            field="amount",
            rule="precision",
        )
    return amount.quantize(_CENT)


def encode_amount(amount: Decimal, unit: AmountUnit) -> str | float:
    """``transAmount`` on the wire.

    ``"fen"``: an integer string, ``Decimal("212.00")`` → ``"21200"`` (the product page's sample).
    ``"yuan"``: a JSON number (the doc's "double"), ``Decimal("212.50")`` → ``212.5``; exact to
    the fen for every amount `normalize_amount` accepts (15 significant digits at most).
    """
    if unit == "fen":
        return str(int(amount * 100))
    return float(amount)


#: Earliest transaction date accepted: no UnionPay card transaction predates China UnionPay
#: (2002); anything before 2000 is a typo or a parsing accident (``date(1, 1, 1)``, year 0025).
EARLIEST_TRANS_DATE = _dt.date(2000, 1, 1)


def _date_of_text(value: str) -> _dt.date:
    v = _ascii_text(value, "trans_date")
    for pattern in _DATE_TEXT:
        match = pattern.fullmatch(v)
        if match is not None:
            year, month, day = (int(part) for part in match.groups())
            try:
                return _dt.date(year, month, day)
            except ValueError:
                raise InvalidInputError(
                    "is not a real date (month or day out of range)",
                    field="trans_date",
                    rule="format",
                ) from None
    raise InvalidInputError(
        "must be a date: YYYYMMDD, YYYY-MM-DD or a datetime.date", field="trans_date", rule="format"
    )


def normalize_trans_date(value: object, *, today: _dt.date | None = None) -> _dt.date:
    """A ``date`` (a ``datetime`` gives its date) or a string ``YYYYMMDD`` (the wire's format),
    ``YYYY-MM-DD`` or ``YYYY/MM/DD``, from 2000-01-01 to tomorrow (time zones)."""
    if isinstance(value, str):
        value = _date_of_text(value)
    elif isinstance(value, _dt.datetime):
        value = value.date()
    if not isinstance(value, _dt.date):
        raise InvalidInputError(
            f"must be a datetime.date or a YYYYMMDD / YYYY-MM-DD string, "
            f"got {type(value).__name__}",
            field="trans_date",
            rule="type",
        )
    if value > (today or _dt.date.today()) + _dt.timedelta(days=1):
        raise InvalidInputError("is in the future", field="trans_date", rule="future")
    if value < EARLIEST_TRANS_DATE:
        raise InvalidInputError(
            f"{value.isoformat()} is before {EARLIEST_TRANS_DATE.isoformat()}",
            field="trans_date",
            rule="range",
        )
    return value


def encode_trans_date(value: _dt.date) -> str:
    """``transDate`` on the wire: ``yyyyMMdd``, zero-padded (``strftime`` gives ``"10101"`` for
    year 1 on glibc)."""
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def normalize_location(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(
            f"must be a string, got {type(value).__name__}", field="location", rule="type"
        )
    v = value.strip()
    if not v:
        raise InvalidInputError(
            "is empty (pass None to leave it out)", field="location", rule="required"
        )
    if len(v) > 100:
        raise InvalidInputError("is longer than 100 characters", field="location", rule="length")
    return v


@attrs.frozen(repr=False)
class VerifyTransactionInputs:
    """The inputs of a transaction check, validated and normalised (see
    [`inputs_verify_transaction`][]): ASCII card, ID and mobile, ``amount`` in yuan to the fen.
    ``repr()`` masks the personal values."""

    card_no: str
    trans_date: _dt.date
    amount: Decimal
    id_card: str | None = None
    mobile: str | None = None
    location: str | None = None

    def masked(self) -> dict[str, str]:
        """The personal values masked: what audit events carry."""
        out = {"card_no": mask_card(self.card_no)}
        if self.id_card is not None:
            out["id_card"] = mask_id_card(self.id_card)
        if self.mobile is not None:
            out["mobile"] = mask_mobile(self.mobile)
        return out

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.masked().items())
        return (
            f"VerifyTransactionInputs({shown}, trans_date={self.trans_date.isoformat()!r}, "
            f"amount={str(self.amount)!r})"
        )


@attrs.frozen(repr=False)
class ModelScoreInputs:
    """The inputs of a model score, validated and normalised (see [`inputs_model_score`][]).
    ``repr()`` masks them."""

    card_no: str
    id_card: str
    mobile: str

    def masked(self) -> dict[str, str]:
        return {
            "card_no": mask_card(self.card_no),
            "id_card": mask_id_card(self.id_card),
            "mobile": mask_mobile(self.mobile),
        }

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.masked().items())
        return f"ModelScoreInputs({shown})"


def inputs_verify_transaction(
    *,
    card_no: object,
    trans_date: object,
    amount: object,
    id_card: object = None,
    mobile: object = None,
    location: object = None,
    today: _dt.date | None = None,
) -> VerifyTransactionInputs:
    """Validate and normalise the inputs of a transaction check, pure (no I/O, no config).

    Takes typed values or the strings a CSV row or a command line gives: ``card_no`` (spaces,
    dashes removed, full-width digits made ASCII; a Luhn failure is only an
    [`UnverifiedCardWarning`][creditsdk.errors.UnverifiedCardWarning], pointing at the caller's
    line), ``trans_date`` (``date``, ``datetime``, ``"YYYYMMDD"``, ``"YYYY-MM-DD"``),
    ``amount`` in yuan (``Decimal``, ``int``, ``"212.00"``), optional ``id_card``, ``mobile``,
    ``location`` (``None`` leaves one out; an empty string is refused). A bad value raises
    [`InvalidInputError`][creditsdk.errors.InvalidInputError] naming the field.
    ``today`` (default: the local date) bounds ``trans_date``.
    """
    return VerifyTransactionInputs(
        card_no=normalize_card_no(card_no),
        trans_date=normalize_trans_date(trans_date, today=today),
        amount=normalize_amount(amount),
        id_card=None if id_card is None else normalize_id_card(id_card),
        mobile=None if mobile is None else normalize_mobile(mobile),
        location=normalize_location(location),
    )


def inputs_model_score(*, card_no: object, id_card: object, mobile: object) -> ModelScoreInputs:
    """Validate and normalise the inputs of a model score, pure: ``card_no`` as for
    [`inputs_verify_transaction`][], ``id_card`` and ``mobile`` (all required)."""
    return ModelScoreInputs(
        card_no=normalize_card_no(card_no),
        id_card=normalize_id_card(id_card),
        mobile=normalize_mobile(mobile),
    )


# -- requests ------------------------------------------------------------------------------


def _envelope(creds: Credentials, data: Mapping[str, Any]) -> str:
    return json.dumps(
        {"id": creds.institution_id, "appKey": creds.app_key, "data": dict(data)},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def build_request(
    base_url: str, path: str, method: HttpMethod, creds: Credentials, data: Mapping[str, Any]
) -> Request:
    """POST with a form body ``data=…`` (default) or GET with ``?data=…``."""
    envelope = _envelope(creds, data)
    url = base_url + path
    if method == "GET":
        return Request("GET", url + "?" + urlencode({"data": envelope}))
    return Request(
        "POST",
        url,
        body=urlencode({"data": envelope}).encode("ascii"),
        headers=(("Content-Type", "application/x-www-form-urlencoded"),),
    )


# -- answers -------------------------------------------------------------------------------


def _code_of(body: Mapping[str, object]) -> str:
    raw = body.get("respCd", body.get("resp"))
    if isinstance(raw, bool) or raw is None:
        raise ResponseIntegrityError("answer has no respCd/resp code", provider=PROVIDER)
    if isinstance(raw, int):
        return f"{raw:04d}"
    if isinstance(raw, str) and raw.strip():
        return raw.strip()
    raise ResponseIntegrityError("answer code is not a string", provider=PROVIDER)


def parse_envelope(response: Response, *, known: tuple[str, ...] = ()) -> tuple[str, str, object]:
    """``(code, msg, data)`` of an answer; raises for every code but 0000 and 0003.

    ``known``: the personal values the request carried, masked by value in ``msg`` (on top of
    the masking by pattern every message gets).
    """
    try:
        body = json.loads(response.content)
    except ValueError:
        raise ResponseIntegrityError(
            f"answer is not JSON (HTTP {response.status_code})", provider=PROVIDER
        ) from None
    if not isinstance(body, dict):
        raise ResponseIntegrityError("answer is not a JSON object", provider=PROVIDER)
    code = _code_of(body)
    msg = body.get("msg")
    message = scrub_text(msg, values=known, limit=200) if isinstance(msg, str) else ""
    if code in ("0000", "0003"):
        return code, message, body.get("data")
    codes: dict[str, tuple[type[ProviderError], str]] = {
        "0001": (ProductNotEnabledError, "the institution has not enabled this service"),
        "0002": (AuthenticationError, "institution id or app key refused"),
        "0004": (ProviderError, "processing error at the provider"),
    }
    cls, meaning = codes.get(code, (ProviderError, "unknown answer code"))
    code = scrub_text(code, values=known, limit=40)  # an unknown code may be an echo
    text = f"{meaning} ({message})" if message else meaning
    raise cls(text, provider=PROVIDER, code=code)


def _describe(data: object, known: tuple[str, ...]) -> str:
    """What an unexpected ``data`` was, without echoing what it holds: a short scalar is shown
    (masked), a container only by its type and size."""
    if data is None or isinstance(data, (bool, int, float)):
        return scrub_text(repr(data), values=known, limit=40)
    if isinstance(data, str):  # may hold a name, which has no pattern: only its length
        return f"a string of {len(data)} characters"
    size = f" of {len(data)}" if isinstance(data, (dict, list)) else ""
    return f"a {type(data).__name__}{size}"


def parse_transaction(
    response: Response, *, card: str, known: tuple[str, ...] = ()
) -> TransactionCheck:
    code, message, data = parse_envelope(response, known=known)
    if code == "0003":
        return TransactionCheck(False, code, message, REASON_NO_SUCH_TRANSACTION, card)
    if data in (1, "1") and data is not True:
        return TransactionCheck(True, code, message, None, card)
    if data in (0, "0") and data is not False:
        return TransactionCheck(False, code, message, REASON_MISMATCH, card)
    raise ResponseIntegrityError(
        f"transaction check answered data={_describe(data, known)}, expected 1 or 0",
        provider=PROVIDER,
        code=code,
    )


def parse_score(response: Response, *, card: str, known: tuple[str, ...] = ()) -> FireEyeScore:
    code, message, data = parse_envelope(response, known=known)
    if code == "0003":
        raise ResponseIntegrityError(
            "model score answered 0003 (a transaction-check code)", provider=PROVIDER, code=code
        )
    score: int | None = None
    if isinstance(data, int) and not isinstance(data, bool):
        score = data
    elif isinstance(data, str) and data.strip().lstrip("-").isdigit():
        score = int(data.strip())
    if score == -1:  # [I] not hit: no score for this card (as Tianyuan's "-1")
        return FireEyeScore(None, code, message, card)
    if score is None:
        raise ResponseIntegrityError(
            f"model score answered a non-integer data ({type(data).__name__})",
            provider=PROVIDER,
            code=code,
        )
    if score not in SCORE_RANGE:
        raise ResponseIntegrityError(
            f"model score {score} is outside 300..1000", provider=PROVIDER, code=code
        )
    return FireEyeScore(score, code, message, card)


def _check_outcome(result: TransactionCheck) -> str:
    return "success" if result.transaction_found else "no_data"


# -- operations ----------------------------------------------------------------------------


def transaction_operation(
    *,
    base_url: str,
    method: HttpMethod,
    creds: Credentials,
    amount_unit: AmountUnit,
    card_no: str,
    trans_date: _dt.date,
    amount: Decimal,
    consent: Consent,
    id_card: str | None = None,
    mobile: str | None = None,
    location: str | None = None,
) -> Operation[TransactionCheck]:
    """Inputs already normalised (see the client)."""
    data: dict[str, str | float] = {
        "cardNo": card_no,
        "transDate": encode_trans_date(trans_date),
        "transAmount": encode_amount(amount, amount_unit),
    }
    masked = {"card_no": mask_card(card_no)}
    if id_card is not None:
        data["certid"] = id_card
        masked["id_card"] = mask_id_card(id_card)
    if mobile is not None:
        data["mobile"] = mobile
        masked["mobile"] = mask_mobile(mobile)
    if location is not None:
        data["transLocation"] = location
    card = masked["card_no"]
    known = tuple(v for v in (card_no, id_card, mobile) if v)
    return Operation(
        provider=PROVIDER,
        name="transaction_auth",
        build_request=lambda: build_request(base_url, TRANSACTION_AUTH_PATH, method, creds, data),
        parse_response=lambda resp: parse_transaction(resp, card=card, known=known),
        billed=True,
        idempotent=False,
        applicant=masked,
        consent=consent,
        outcome_of=_check_outcome,
    )


def model_score_operation(
    *,
    base_url: str,
    method: HttpMethod,
    creds: Credentials,
    card_no: str,
    id_card: str,
    mobile: str,
    consent: Consent,
) -> Operation[FireEyeScore]:
    data = {"cardNo": card_no, "certid": id_card, "mobile": mobile}
    masked = {
        "card_no": mask_card(card_no),
        "id_card": mask_id_card(id_card),
        "mobile": mask_mobile(mobile),
    }
    card = masked["card_no"]
    known = (card_no, id_card, mobile)
    return Operation(
        provider=PROVIDER,
        name="model_score",
        build_request=lambda: build_request(base_url, MODEL_SCORE_PATH, method, creds, data),
        parse_response=lambda resp: parse_score(resp, card=card, known=known),
        billed=True,
        idempotent=False,
        applicant=masked,
        consent=consent,
    )


def _checked_consent(consent: object) -> Consent:
    checked = check_consent(consent)
    assert checked is not None
    return checked


def build_verify_transaction(
    config: FireEyeConfig, inputs: VerifyTransactionInputs, *, consent: object = None
) -> Operation[TransactionCheck]:
    """The Operation of a transaction check from inputs already validated by
    [`inputs_verify_transaction`][]; ``consent`` is required and must be in force."""
    checked = _checked_consent(consent)
    url, method, creds = config.base_url, config.method, config.credentials
    fields = attrs.asdict(inputs, recurse=False)
    return transaction_operation(
        base_url=url,
        method=method,
        creds=creds,
        amount_unit=config.amount_unit,
        consent=checked,
        **fields,
    )


def build_model_score(
    config: FireEyeConfig, inputs: ModelScoreInputs, *, consent: object = None
) -> Operation[FireEyeScore]:
    """The Operation of a model score from inputs already validated by
    [`inputs_model_score`][]; ``consent`` is required and must be in force."""
    checked = _checked_consent(consent)
    fields = attrs.asdict(inputs, recurse=False)
    return model_score_operation(
        base_url=config.base_url,
        method=config.method,
        creds=config.credentials,
        consent=checked,
        **fields,
    )


def verify_transaction(
    config: FireEyeConfig,
    *,
    consent: object = None,
    card_no: object,
    trans_date: object,
    amount: object,
    id_card: object = None,
    mobile: object = None,
    location: object = None,
) -> Operation[TransactionCheck]:
    """Transaction authentication (交易认证) as an Operation: every input validated by
    [`inputs_verify_transaction`][], then ``consent``, before anything is sent. What the
    clients, the batch runner and the CLI call."""
    inputs = inputs_verify_transaction(
        card_no=card_no,
        trans_date=trans_date,
        amount=amount,
        id_card=id_card,
        mobile=mobile,
        location=location,
    )
    return build_verify_transaction(config, inputs, consent=consent)


def model_score(
    config: FireEyeConfig,
    *,
    consent: object = None,
    card_no: object,
    id_card: object,
    mobile: object,
) -> Operation[FireEyeScore]:
    """The UnionPay model score (模型评分) as an Operation: inputs validated by
    [`inputs_model_score`][], then ``consent``, before anything is sent."""
    inputs = inputs_model_score(card_no=card_no, id_card=id_card, mobile=mobile)
    return build_model_score(config, inputs, consent=consent)

"""FireEye wire protocol, pure: validate inputs, build requests, parse answers. No I/O.

Request: ``data=<JSON of {"id": institution, "appKey": key, "data": {...}}>``, as a form body
(POST, the default) or a query parameter (GET). Answer: ``{"respCd"|"resp": code, "msg", "data"}``
with HTTP 200 whatever the code. See docs/fireeye.md for what is confirmed and what is assumed.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

import attrs

from .._core.consent import Consent
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
    "MODEL_SCORE_PATH",
    "SCORE_RANGE",
    "TRANSACTION_AUTH_PATH",
    "AmountUnit",
    "Credentials",
    "HttpMethod",
    "encode_amount",
    "encode_trans_date",
    "model_score_operation",
    "normalize_amount",
    "normalize_location",
    "normalize_trans_date",
    "parse_envelope",
    "transaction_operation",
]

PROVIDER = "fireeye"
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
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
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


# -- inputs --------------------------------------------------------------------------------


def normalize_amount(value: object) -> Decimal:
    """An amount in yuan: a ``Decimal`` (or int), > 0, at most 2 decimal places."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        hint = " (use Decimal('212.00'): floats cannot hold cents exactly)"
        raise InvalidInputError(
            f"must be a Decimal amount in yuan, got {type(value).__name__}"
            + (hint if isinstance(value, float) else ""),
            field="amount",
            rule="type",
        )
    try:
        amount = Decimal(value)
    except InvalidOperation:  # pragma: no cover - Decimal(int) cannot fail
        raise InvalidInputError("is not a number", field="amount", rule="format") from None
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


def normalize_trans_date(value: object, *, today: _dt.date | None = None) -> _dt.date:
    """A ``date`` (a ``datetime`` gives its date) from 2000-01-01 to tomorrow (time zones)."""
    if isinstance(value, _dt.datetime):
        value = value.date()
    if not isinstance(value, _dt.date):
        raise InvalidInputError(
            f"must be a datetime.date, got {type(value).__name__}", field="trans_date", rule="type"
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


def _code_of(body: Mapping[str, Any]) -> str:
    raw = body.get("respCd", body.get("resp"))
    if isinstance(raw, bool) or raw is None:
        raise ResponseIntegrityError("answer has no respCd/resp code", provider=PROVIDER)
    if isinstance(raw, int):
        return f"{raw:04d}"
    if isinstance(raw, str) and raw.strip():
        return raw.strip()
    raise ResponseIntegrityError("answer code is not a string", provider=PROVIDER)


def parse_envelope(response: Response, *, known: tuple[str, ...] = ()) -> tuple[str, str, Any]:
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
    data: dict[str, Any] = {
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

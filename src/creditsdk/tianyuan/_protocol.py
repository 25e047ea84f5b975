"""The Tianyuan wire protocol, as pure functions: no I/O, no HTTP client.

Request: ``POST {base}/api/v1/{PRODUCT}?t={ms}`` with header ``Access-Id`` and body
``{"data": base64(IV ‖ AES-128-CBC-PKCS7(json(params)))}``, a fresh random IV per attempt.
Response: ``{"code", "message", "transaction_id", "data"}`` (HTTP 200 even for errors); ``data``
is the same envelope and is decrypted only when ``code == 0``.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.parse import urlencode

import attrs

from .._core.consent import Consent
from .._core.crypto import aes_cbc_decrypt, aes_cbc_encrypt, b64decode_strict, random_iv
from .._core.identity import Applicant, normalize_id_card, normalize_mobile, normalize_name
from .._core.operation import Operation
from .._core.redact import mask_id_card, mask_mobile, mask_name, register_secret, scrub_text
from .._core.wire import Request, Response
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    InsufficientBalanceError,
    InvalidInputError,
    ProductNotEnabledError,
    ProviderError,
    ResponseIntegrityError,
)
from .factors import BucketTables
from .models import MultiLendingReport, SubResponse, TianyuanResult

__all__ = [
    "ERROR_CODES",
    "MULTI_LENDING_PRODUCT",
    "KeyFormat",
    "TianyuanConfig",
    "build_call_operation",
    "build_multi_lending_operation",
    "decrypt_envelope",
    "encrypt_envelope",
    "error_for",
    "parse_access_key",
]

PROVIDER = "tianyuan"
MULTI_LENDING_PRODUCT = "JRZQ9E2A"
KeyFormat = Literal["hex", "utf8"]

_HEX_KEY = re.compile(r"[0-9A-Fa-f]{32}")
_PRODUCT_RE = re.compile(r"[A-Z][A-Z0-9]{3,31}")

#: code → (error class, what it means). Messages from the provider are appended, masked.
ERROR_CODES: Mapping[int, tuple[type[ProviderError], str]] = {
    1001: (ProviderError, "interface exception on the provider side"),
    # The provider refusing *our* request, not us failing to trust its answer: a ProviderError.
    1002: (
        ProviderError,
        "the provider could not decrypt the request (key mismatch? check access_key and "
        "key_format='hex'|'utf8')",
    ),
    1003: (ProviderError, "parameter validation failed"),
    1004: (AuthenticationError, "source IP not authorised (check the IP allow-list)"),
    1005: (AuthenticationError, "Access-Id header missing"),
    1006: (AuthenticationError, "Access-Id not authorised"),
    1007: (InsufficientBalanceError, "insufficient balance"),
    1008: (ProductNotEnabledError, "product not enabled for this account"),
    2001: (ProviderError, "business failure"),
}


def parse_access_key(key: str, key_format: str | None) -> bytes:
    """The 16-byte AES key from the Access-Key string.

    ``"hex"``: 32 hex characters → 16 bytes (what working integrations do; the default when the
    key looks like that). ``"utf8"``: the key string's own UTF-8 bytes, which must be exactly 16
    (the seed sample's reading). Anything else is a ConfigurationError: never a silent truncation.
    """
    if key_format is None:
        if _HEX_KEY.fullmatch(key):
            key_format = "hex"
        else:
            raise ConfigurationError(
                f"access_key is not 32 hex characters ({len(key)} characters given); if your "
                "key is a 16-byte text key pass key_format='utf8'"
            )
    if key_format == "hex":
        if not _HEX_KEY.fullmatch(key):
            raise ConfigurationError(
                f"access_key must be 32 hex characters for key_format='hex' "
                f"({len(key)} characters given)"
            )
        return bytes.fromhex(key)
    if key_format == "utf8":
        raw = key.encode("utf-8")
        if len(raw) != 16:
            raise ConfigurationError(
                f"access_key must be exactly 16 UTF-8 bytes for key_format='utf8' ({len(raw)} "
                "given); it is never truncated: for a 32-hex-character key use key_format='hex'"
            )
        return raw
    raise ConfigurationError(f"key_format must be 'hex' or 'utf8', not {key_format!r}")


def encrypt_envelope(key: bytes, plaintext: bytes, iv: bytes) -> str:
    """base64(IV ‖ AES-128-CBC-PKCS7(plaintext))."""
    import base64

    return base64.b64encode(iv + aes_cbc_encrypt(key, plaintext, iv)).decode("ascii")


def decrypt_envelope(key: bytes, data: str, *, what: str = "data") -> bytes:
    """Inverse of `encrypt_envelope`; anything wrong → ResponseIntegrityError."""
    blob = b64decode_strict(data, what=what)
    if len(blob) < 32:
        raise ResponseIntegrityError(f"{what} is too short for IV + ciphertext ({len(blob)} bytes)")
    return aes_cbc_decrypt(key, blob[16:], blob[:16], what=what)


def encode_params(params: Mapping[str, Any]) -> bytes:
    return json.dumps(params, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@attrs.frozen(repr=False)
class TianyuanConfig:
    """Everything a request needs; ``key`` is the 16-byte AES key."""

    access_id: str
    key: bytes
    base_url: str
    tables: BucketTables
    clock_ms: Callable[[], int] = attrs.field(default=lambda: time.time_ns() // 1_000_000)
    iv: Callable[[], bytes] = random_iv

    def __attrs_post_init__(self) -> None:
        # Echoed keys are masked wherever they show up: the hex form and the raw text form.
        register_secret(self.key.hex(), self.key.hex().upper(), self.key.decode("latin-1"))

    def __repr__(self) -> str:
        return f"TianyuanConfig(base_url={self.base_url!r}, access_id=<set>, key=<redacted>)"


def check_product_code(product_code: object) -> str:
    if not isinstance(product_code, str) or not _PRODUCT_RE.fullmatch(product_code):
        raise InvalidInputError(
            "must be an upper-case product code such as 'JRZQ9E2A'",
            field="product_code",
            rule="format",
        )
    return product_code


def build_request(config: TianyuanConfig, product_code: str, plaintext: bytes) -> Request:
    body = {"data": encrypt_envelope(config.key, plaintext, config.iv())}
    return Request(
        "POST",
        f"{config.base_url}/api/v1/{product_code}?{urlencode({'t': str(config.clock_ms())})}",
        headers=(("Access-Id", config.access_id), ("Content-Type", "application/json")),
        body=json.dumps(body, separators=(",", ":")).encode("ascii"),
    )


@attrs.frozen
class Envelope:
    code: int
    message: str
    transaction_id: str | None
    data: object


def parse_envelope(
    response: Response,
    *,
    names: tuple[str, ...] = (),
    values: tuple[str, ...] = (),
) -> Envelope:
    """The answer's envelope. ``message`` and ``transaction_id`` are masked (by pattern, and by
    value for the ``names`` and ``values`` the request carried): the provider chooses them, and
    a transaction id that embeds an ID number or mobile must not carry it into errors, results,
    audit events or batch files."""
    try:
        doc = json.loads(response.content)
    except ValueError:
        raise ResponseIntegrityError(
            f"answer is not JSON (HTTP {response.status_code})", provider=PROVIDER
        ) from None
    if not isinstance(doc, dict):
        raise ResponseIntegrityError("answer is not a JSON object", provider=PROVIDER)
    code = doc.get("code")
    if isinstance(code, str) and code.strip().lstrip("-").isdigit():
        code = int(code)  # [U] tolerate "0" as a string
    if not isinstance(code, int) or isinstance(code, bool):
        raise ResponseIntegrityError("answer has no integer 'code'", provider=PROVIDER)
    tid = doc.get("transaction_id")
    message = doc.get("message")
    return Envelope(
        code=code,
        message=scrub_text(message, names=names, values=values) if isinstance(message, str) else "",
        transaction_id=(
            scrub_text(str(tid), names=names, values=values) if tid not in (None, "") else None
        ),
        data=doc.get("data"),
    )


def _answer_transaction_id(
    names: tuple[str, ...], values: tuple[str, ...]
) -> Callable[[Response], str | None]:
    """The (masked) transaction id of an answer, for an error raised while reading it."""

    def of(response: Response) -> str | None:
        return parse_envelope(response, names=names, values=values).transaction_id

    return of


def error_for(envelope: Envelope) -> ProviderError:
    cls, meaning = ERROR_CODES.get(envelope.code, (ProviderError, "unknown error code"))
    said = scrub_text(envelope.message.strip(), limit=200)  # already masked: cut after masking
    return cls(
        f"{meaning}: {said}" if said else meaning,
        provider=PROVIDER,
        code=str(envelope.code),
        transaction_id=envelope.transaction_id,
    )


def _decrypt_data(config: TianyuanConfig, envelope: Envelope) -> Any:
    """The decrypted JSON of a code-0 answer, or None for "no data"."""
    data = envelope.data
    if data is None or data == "":
        return None
    # Errors get the provider and the envelope's transaction id from the call
    # (Operation.transaction_id_of_answer).
    if not isinstance(data, str):
        raise ResponseIntegrityError(f"'data' is a {type(data).__name__}, not a string")
    plaintext = decrypt_envelope(config.key, data)
    try:
        return json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ResponseIntegrityError("decrypted 'data' is not UTF-8 JSON") from None


def _success_envelope(
    config: TianyuanConfig,
    response: Response,
    names: tuple[str, ...] = (),
    values: tuple[str, ...] = (),
) -> tuple[Envelope, Any]:
    envelope = parse_envelope(response, names=names, values=values)
    if envelope.code != 0:
        raise error_for(envelope)  # never decrypt 'data' on an error
    return envelope, _decrypt_data(config, envelope)


def _sub_responses(data: Any) -> tuple[SubResponse, ...]:
    if not isinstance(data, dict) or not isinstance(data.get("responses"), list):
        raise ResponseIntegrityError("composite answer has no 'responses' list", provider=PROVIDER)
    out = []
    for item in data["responses"]:
        if not isinstance(item, dict) or not isinstance(item.get("api_code"), str):
            raise ResponseIntegrityError("composite sub-response has no 'api_code'")
        sub_data = item.get("data")
        if isinstance(sub_data, str) and sub_data.lstrip().startswith(("{", "[")):
            with contextlib.suppress(ValueError):  # [U] a gateway may nest it as a JSON string
                sub_data = json.loads(sub_data)
        success = item.get("success")
        error = item.get("error")
        out.append(
            SubResponse(
                api_code=item["api_code"],
                success=success is True or success in ("true", "1", 1),
                data=sub_data,
                # [C] a failed part: "error": "参数校验不正确", "data": null. Echoed text is
                # masked: it may quote the parameter that failed.
                error=scrub_text(str(error)) if error not in (None, "") else None,
            )
        )
    return tuple(out)


# -- the operations ---------------------------------------------------------------------------

_ID_FIELDS = ("id_card", "idCard", "id_no", "idNo")
_MOBILE_FIELDS = ("mobile_no", "mobile", "phone", "mobileNo")


def normalize_params(params: object) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate the well-known personal fields of a free-form ``params`` and mask them."""
    if not isinstance(params, Mapping):
        raise InvalidInputError(
            f"must be a mapping, got {type(params).__name__}", field="params", rule="type"
        )
    out: dict[str, Any] = {}
    masked: dict[str, str] = {}
    for key, value in params.items():
        if not isinstance(key, str):
            raise InvalidInputError("keys must be strings", field="params", rule="type")
        if key in _ID_FIELDS:
            value = normalize_id_card(value, field=f"params.{key}")
            masked["id_card"] = mask_id_card(value)
        elif key in _MOBILE_FIELDS:
            value = normalize_mobile(value, field=f"params.{key}")
            masked["mobile"] = mask_mobile(value)
        elif key == "name":
            value = normalize_name(value, field="params.name")
            masked["name"] = mask_name(value)
        out[key] = value
    try:
        encode_params(out)
    except (TypeError, ValueError):
        raise InvalidInputError("must be JSON-serialisable", field="params", rule="type") from None
    return out, masked


def build_call_operation(
    config: TianyuanConfig,
    product_code: object,
    params: object,
    consent: Consent,
) -> Operation[TianyuanResult]:
    product = check_product_code(product_code)
    clean, masked = normalize_params(params)
    plaintext = encode_params(clean)
    names = (clean["name"],) if isinstance(clean.get("name"), str) else ()
    values = tuple(
        v for k, v in clean.items() if k in _ID_FIELDS + _MOBILE_FIELDS and isinstance(v, str)
    )

    def parse(response: Response) -> TianyuanResult:
        envelope, data = _success_envelope(config, response, names, values)
        responses: tuple[SubResponse, ...] = ()
        if product.startswith("COMB") and data is not None:
            responses = _sub_responses(data)
        return TianyuanResult(
            product_code=product,
            code=envelope.code,
            message=envelope.message,
            transaction_id=envelope.transaction_id,
            data=data,
            responses=responses,
        )

    return Operation(
        provider=PROVIDER,
        name=product,
        build_request=lambda: build_request(config, product, plaintext),
        parse_response=parse,
        billed=True,
        idempotent=False,
        applicant=masked or None,
        names=names,
        consent=consent,
        outcome_of=lambda r: "success" if r.has_data else "no_data",
        transaction_id_of_answer=_answer_transaction_id(names, values),
    )


def multi_lending_params(applicant: Applicant, consent: Consent) -> dict[str, str]:
    return {
        "name": applicant.name,
        "id_card": applicant.id_card,
        "mobile_no": applicant.mobile,
        "auth_authorize_file_code": consent.reference,
    }


def build_multi_lending_operation(
    config: TianyuanConfig, applicant: Applicant, consent: Consent
) -> Operation[MultiLendingReport]:
    plaintext = encode_params(multi_lending_params(applicant, consent))
    values = (applicant.id_card, applicant.mobile)

    def parse(response: Response) -> MultiLendingReport:
        envelope, data = _success_envelope(config, response, (applicant.name,), values)
        if data is None:
            return MultiLendingReport.from_factors(
                {}, transaction_id=envelope.transaction_id, tables=config.tables, has_data=False
            )
        return MultiLendingReport.from_factors(
            data, transaction_id=envelope.transaction_id, tables=config.tables
        )

    return Operation(
        provider=PROVIDER,
        name=MULTI_LENDING_PRODUCT,
        build_request=lambda: build_request(config, MULTI_LENDING_PRODUCT, plaintext),
        parse_response=parse,
        billed=True,
        idempotent=False,
        applicant=applicant.masked(),
        names=(applicant.name,),
        consent=consent,
        outcome_of=lambda r: "success" if r.has_data else "no_data",
        transaction_id_of_answer=_answer_transaction_id((applicant.name,), values),
    )

"""The Tianyuan wire protocol, as pure functions: no I/O, no HTTP client.

Request: ``POST {base}/api/v1/{PRODUCT}?t={ms}`` with header ``Access-Id`` and body
``{"data": base64(IV ‖ AES-128-CBC-PKCS7(json(params)))}``, a fresh random IV per attempt.
Response: ``{"code", "message", "transaction_id", "data"}`` (HTTP 200 even for errors); ``data``
is the same envelope and is decrypted only when ``code == 0``.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import inspect
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Generic, Literal, Protocol, TypeVar
from urllib.parse import urlencode

import attrs

from .._core.config import EnvVar, env_or, url_parts
from .._core.consent import Consent, check_consent
from .._core.crypto import aes_cbc_decrypt, aes_cbc_encrypt, b64decode_strict, random_iv
from .._core.identity import Applicant, normalize_id_card, normalize_mobile, normalize_name
from .._core.operation import Operation
from .._core.redact import (
    SentValues,
    mask_id_card,
    mask_mobile,
    mask_name,
    register_secret,
    scrub_text,
)
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
from .factors import BucketTables, load_bucket_tables
from .models import MultiLendingReport, SubResponse, TianyuanResult

__all__ = [
    "ANY_PRODUCT",
    "ERROR_CODES",
    "MULTI_LENDING",
    "MULTI_LENDING_PRODUCT",
    "ApplicantInputs",
    "CallInputs",
    "KeyFormat",
    "MultiLendingInputs",
    "Product",
    "ProductAnswer",
    "ProductInputs",
    "TianyuanConfig",
    "build_call_operation",
    "build_multi_lending_operation",
    "call",
    "decrypt_envelope",
    "encrypt_envelope",
    "error_for",
    "find_product",
    "inputs_applicant",
    "inputs_call",
    "inputs_multi_lending",
    "multi_lending",
    "parse_access_key",
    "product_operation",
    "products",
    "query",
    "register_product",
    "unregister_product",
]

PROVIDER = "tianyuan"
MULTI_LENDING_PRODUCT = "JRZQ9E2A"
KeyFormat = Literal["hex", "utf8"]

DEFAULT_BASE_URL = "https://api.tianyuanapi.com"
#: The environment variables `TianyuanConfig.from_env` reads (an argument given wins).
ENV_ACCESS_ID = "CREDITSDK_TIANYUAN_ACCESS_ID"
ENV_ACCESS_KEY = "CREDITSDK_TIANYUAN_ACCESS_KEY"
ENV_BASE_URL = "CREDITSDK_TIANYUAN_BASE_URL"
ENV_KEY_FORMAT = "CREDITSDK_TIANYUAN_KEY_FORMAT"
ENV_BUCKET_TABLES = "CREDITSDK_TIANYUAN_BUCKET_TABLES"
#: Every variable of `TianyuanConfig.from_env` (the transport ones come on top).
ENV_VARS = (
    EnvVar(ENV_ACCESS_ID, "your Access-Id", required=True),
    EnvVar(
        ENV_ACCESS_KEY,
        "your Access-Key (32 hex characters, or 16 bytes of text)",
        secret=True,
        required=True,
    ),
    EnvVar(ENV_KEY_FORMAT, "how the Access-Key reads: `hex` or `utf8`", "hex if 32 hex chars"),
    EnvVar(ENV_BASE_URL, "the API host", DEFAULT_BASE_URL),
    EnvVar(ENV_BUCKET_TABLES, "path of your contract's bucket tables (.toml / .csv)"),
)

TablesArg = BucketTables | str | os.PathLike[str] | None

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
                f"key is a 16-byte text key pass key_format='utf8' (or set {ENV_KEY_FORMAT}=utf8)"
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
                "given); it is never truncated: for a 32-hex-character key use key_format='hex' "
                f"(or {ENV_KEY_FORMAT}=hex)"
            )
        return raw
    raise ConfigurationError(
        f"key_format must be 'hex' or 'utf8' (argument or {ENV_KEY_FORMAT}), not {key_format!r}"
    )


def encrypt_envelope(key: bytes, plaintext: bytes, iv: bytes) -> str:
    """base64(IV ‖ AES-128-CBC-PKCS7(plaintext))."""
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

    @classmethod
    def from_env(
        cls,
        *,
        access_id: str | None = None,
        access_key: str | None = None,
        base_url: str | None = None,
        key_format: str | None = None,
        bucket_tables: TablesArg = None,
    ) -> TianyuanConfig:
        """The configuration from ``CREDITSDK_TIANYUAN_ACCESS_ID``, ``_ACCESS_KEY`` (or
        ``_ACCESS_KEY_FILE``, a file holding it), ``_BASE_URL``, ``_KEY_FORMAT`` and
        ``_BUCKET_TABLES`` (a path); an argument given wins over its variable. Missing
        credentials or a bad value are a ConfigurationError naming the variable; nothing is
        sent."""
        aid = env_or(access_id, ENV_ACCESS_ID, what="Tianyuan access_id")
        key = env_or(access_key, ENV_ACCESS_KEY, what="Tianyuan access_key", secret=True)
        url = env_or(base_url, ENV_BASE_URL, what="Tianyuan base_url", required=False)
        fmt = env_or(key_format, ENV_KEY_FORMAT, what="Tianyuan key_format", required=False)
        assert aid is not None
        assert key is not None
        url = (url or DEFAULT_BASE_URL).rstrip("/")
        parts = url_parts(url)
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            source = "" if base_url is not None else f" (read from {ENV_BASE_URL})"
            raise ConfigurationError(
                f"Tianyuan base_url must start with http:// or https://{source}"
            )
        if bucket_tables is None:
            bucket_tables = env_or(
                None, ENV_BUCKET_TABLES, what="Tianyuan bucket_tables", required=False
            )
        if bucket_tables is None:
            # Its own (bounded) decode memo; the shared BucketTables.empty() keeps none.
            tables = BucketTables({})
        elif isinstance(bucket_tables, BucketTables):
            tables = bucket_tables
        else:
            tables = load_bucket_tables(bucket_tables)
        return cls(access_id=aid, key=parse_access_key(key, fmt), base_url=url, tables=tables)


def check_product_code(product_code: object) -> str:
    if not isinstance(product_code, str) or not _PRODUCT_RE.fullmatch(product_code):
        raise InvalidInputError(
            "must be an upper-case product code such as 'JRZQ9E2A'",
            field="product_code",
            rule="format",
        )
    return product_code


def build_request(config: TianyuanConfig, product_code: str, plaintext: bytes) -> Request:
    data = encrypt_envelope(config.key, plaintext, config.iv())
    # {"data": "<base64>"} written directly: base64 needs no JSON escaping
    body = b'{"data":"' + data.encode("ascii") + b'"}'
    stamp = config.clock_ms()
    query = f"t={stamp}" if type(stamp) is int else urlencode({"t": str(stamp)})
    return Request(
        "POST",
        f"{config.base_url}/api/v1/{product_code}?{query}",
        headers=(("Access-Id", config.access_id), ("Content-Type", "application/json")),
        body=body,
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
    sent: SentValues | None = None,
) -> Envelope:
    """The answer's envelope. ``message`` and ``transaction_id`` are masked (by pattern, and by
    value for the ``names`` and ``values`` the request carried, or ``sent``: the same, with
    their forms worked out once per call): the provider chooses them, and a transaction id
    that embeds an ID number or mobile must not carry it into errors, results, audit events or
    batch files."""
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
    if sent is None:
        sent = SentValues(names, values)
    tid = doc.get("transaction_id")
    message = doc.get("message")
    return Envelope(
        code=code,
        message=scrub_text(message, sent=sent) if isinstance(message, str) else "",
        transaction_id=scrub_text(str(tid), sent=sent) if tid not in (None, "") else None,
        data=doc.get("data"),
    )


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


def _answer_transaction_id(sent: SentValues) -> Callable[[Response], str | None]:
    """The (masked) transaction id of an answer, for an error raised while reading it."""

    def of(response: Response) -> str | None:
        return parse_envelope(response, sent=sent).transaction_id

    return of


def _success_envelope(
    config: TianyuanConfig,
    response: Response,
    sent: SentValues | None = None,
) -> tuple[Envelope, Any]:
    envelope = parse_envelope(response, sent=sent)
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
    clean, masked, _ = _normalize_params(params)
    return clean, masked


def _normalize_params(params: object) -> tuple[dict[str, Any], dict[str, str], bytes]:
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
        encoded = encode_params(out)
    except (TypeError, ValueError):
        raise InvalidInputError("must be JSON-serialisable", field="params", rule="type") from None
    return out, masked, encoded


# -- inputs: validated before any I/O (pure; strings from a CSV or CLI and typed values) -----


@attrs.frozen(slots=True, repr=False)
class ApplicantInputs:
    """The person a product is about (name, ID number, mobile), validated and normalised."""

    applicant: Applicant

    @property
    def names(self) -> tuple[str, ...]:
        """Personal names sent: masked out of anything the provider echoes."""
        return (self.applicant.name,)

    @property
    def values(self) -> tuple[str, ...]:
        """ID number and mobile sent: masked out of anything the provider echoes."""
        return (self.applicant.id_card, self.applicant.mobile)

    def masked(self) -> dict[str, str]:
        return self.applicant.masked()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(applicant={self.applicant!r})"


#: The inputs of JRZQ9E2A.
MultiLendingInputs = ApplicantInputs


def inputs_applicant(
    applicant: object = None,
    *,
    name: object = None,
    id_card: object = None,
    mobile: object = None,
) -> ApplicantInputs:
    """An [`Applicant`][creditsdk.Applicant], or its ``name``, ``id_card`` and ``mobile`` as
    given (e.g. the strings of a CSV row: ID numbers and mobiles are normalised, a missing or
    bad one is an `InvalidInputError` naming the field). Not both."""
    if applicant is not None:
        if not isinstance(applicant, Applicant):
            raise InvalidInputError(
                f"must be a creditsdk.Applicant, got {type(applicant).__name__}",
                field="applicant",
                rule="type",
            )
        given = [f for f, v in (("name", name), ("id_card", id_card), ("mobile", mobile)) if v]
        if given:
            raise InvalidInputError(
                f"pass an applicant or {', '.join(given)}, not both",
                field=given[0],
                rule="conflict",
            )
        return ApplicantInputs(applicant)
    for field, value in (("name", name), ("id_card", id_card), ("mobile", mobile)):
        if value is None or (isinstance(value, str) and not value.strip()):
            raise InvalidInputError("is required", field=field, rule="required")
    return ApplicantInputs(Applicant(name=name, id_card=id_card, mobile=mobile))


def inputs_multi_lending(
    applicant: object = None,
    *,
    name: object = None,
    id_card: object = None,
    mobile: object = None,
) -> MultiLendingInputs:
    """The inputs of [`multi_lending`][]: see `inputs_applicant`."""
    return inputs_applicant(applicant, name=name, id_card=id_card, mobile=mobile)


@attrs.frozen(slots=True, repr=False)
class CallInputs:
    """A product code and free-form ``params`` whose personal fields are validated."""

    product_code: str
    params: Mapping[str, Any]
    #: the personal fields of ``params``, masked (for audit events)
    masked_fields: Mapping[str, str]
    #: ``params`` as sent (their JSON, UTF-8), worked out once when they were checked
    encoded: bytes | None = attrs.field(default=None, eq=False)

    @property
    def names(self) -> tuple[str, ...]:
        name = self.params.get("name")
        return (name,) if isinstance(name, str) else ()

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(
            v
            for k, v in self.params.items()
            if k in _ID_FIELDS + _MOBILE_FIELDS and isinstance(v, str)
        )

    def masked(self) -> dict[str, str]:
        return dict(self.masked_fields)

    def __repr__(self) -> str:
        return f"CallInputs(product_code={self.product_code!r}, params=<{len(self.params)} keys>)"


def inputs_call(product_code: object = None, params: object = None) -> CallInputs:
    """The inputs of [`call`][]: ``product_code`` (upper-case letters and digits, e.g.
    ``"JRZQ8F7C"``, checked before anything is sent) and ``params``, a mapping or the text of a
    JSON object (a CSV cell, a CLI argument). Well-known personal fields are validated."""
    product = check_product_code(product_code)
    if isinstance(params, str):
        try:
            params = json.loads(params)
        except ValueError:
            raise InvalidInputError(
                "is not the text of a JSON object", field="params", rule="format"
            ) from None
    clean, masked, encoded = _normalize_params(params)
    return CallInputs(product, MappingProxyType(clean), MappingProxyType(masked), encoded)


# -- products: one declaration each ---------------------------------------------------------


class ProductInputs(Protocol):
    """What a product's inputs tell the operation: the masked view (audit events) and the
    personal values sent (masked out of anything the provider echoes)."""

    @property
    def names(self) -> tuple[str, ...]: ...

    @property
    def values(self) -> tuple[str, ...]: ...

    def masked(self) -> Mapping[str, str]: ...


InputsT = TypeVar("InputsT", bound=ProductInputs)
ResultT = TypeVar("ResultT")


@attrs.frozen(slots=True, repr=False)
class ProductAnswer:
    """A code-0 answer as a product's parser sees it: ``data`` is the decrypted JSON (``None``
    for the provider's "no data"), ``tables`` the bucket tables of the client."""

    product_code: str
    transaction_id: str | None
    message: str
    data: Any
    tables: BucketTables

    def __repr__(self) -> str:
        # data may hold personal data the provider echoes: its type only.
        return (
            f"ProductAnswer(product_code={self.product_code!r}, "
            f"transaction_id={self.transaction_id!r}, data=<{type(self.data).__name__}>)"
        )


def _read_only(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


def _outcome(result: object) -> str:
    return "no_data" if getattr(result, "has_data", True) is False else "success"


@attrs.frozen(slots=True, eq=False)
class Product(Generic[InputsT, ResultT]):
    """A typed Tianyuan product, declared once.

    ``code`` is the product code of the URL, ``name`` the operation's name (``multi_lending``:
    the client method and the batch operation ``tianyuan.multi_lending``); ``inputs(**raw)``
    validates the raw inputs (`InvalidInputError` naming the field), ``params(inputs,
    consent)`` are the wire parameters, ``parse(answer)`` turns a code-0 answer into ``result``.
    ``columns`` are the keyword names of ``inputs`` a CSV row or the CLI gives, ``example`` the
    raw inputs of one valid call. ``sandbox_data`` (optional) is what the Sandbox answers:
    ``(params, scenario) -> data`` (``None``: no data).
    Register it with `register_product`; `products` lists every one.
    """

    code: str
    name: str
    inputs: Callable[..., InputsT]
    params: Callable[[InputsT, Consent], Mapping[str, Any]]
    parse: Callable[[ProductAnswer], ResultT]
    result: type[ResultT]
    title: str = ""
    columns: tuple[str, ...] = ("name", "id_card", "mobile")
    outcome_of: Callable[[ResultT], str] = _outcome
    sandbox_data: Callable[[Mapping[str, Any], str], Any] | None = None
    #: Raw inputs of a valid call (synthetic), for the fault matrix, leak scan and demos.
    example: Mapping[str, Any] = attrs.field(factory=dict, converter=_read_only)

    def operation(
        self, config: TianyuanConfig, *, consent: object = None, **raw: Any
    ) -> Operation[ResultT]:
        """Validate ``raw`` and ``consent`` and build the Operation (no I/O)."""
        return product_operation(config, self, _inputs_of(self, raw), _consent(consent))


_PRODUCTS: dict[str, Product[Any, Any]] = {}
_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")


def register_product(product: Product[InputsT, ResultT]) -> Product[InputsT, ResultT]:
    """Make ``product`` known to the client's `query`, the Sandbox and the provider's spec.
    Registering the same declaration twice is a no-op; another product with its code or name
    is a ConfigurationError."""
    if not isinstance(product, Product):
        raise ConfigurationError(f"not a Tianyuan Product: {type(product).__name__}")
    if not _PRODUCT_RE.fullmatch(product.code) or not _IDENTIFIER.fullmatch(product.name):
        raise ConfigurationError(
            f"product code {product.code!r} / name {product.name!r}: a code is upper-case "
            "letters and digits, a name a lower-case identifier"
        )
    for other in _PRODUCTS.values():
        if other is not product and (other.code == product.code or other.name == product.name):
            raise ConfigurationError(
                f"Tianyuan product {product.code} ({product.name}) is already declared"
            )
    _PRODUCTS[product.code] = product
    return product


def unregister_product(product: Product[Any, Any]) -> None:
    """Forget ``product`` (tests that declare their own)."""
    if _PRODUCTS.get(product.code) is product:
        del _PRODUCTS[product.code]


def products() -> tuple[Product[Any, Any], ...]:
    """Every registered product, in registration order."""
    return tuple(_PRODUCTS.values())


def find_product(product: object) -> Product[Any, Any]:
    """A registered product by declaration, code (``"JRZQ9E2A"``) or name (``"multi_lending"``);
    anything else is an InvalidInputError before any I/O."""
    if isinstance(product, Product):
        return product
    if isinstance(product, str):
        found = _PRODUCTS.get(product)
        if found is not None:
            return found
        for candidate in _PRODUCTS.values():
            if candidate.name == product:
                return candidate
    known = ", ".join(f"{p.code} ({p.name})" for p in _PRODUCTS.values())
    raise InvalidInputError(
        f"is not a typed Tianyuan product (known: {known}); use call() for any product code",
        field="product",
        rule="unknown",
    )


def _consent(consent: object) -> Consent:
    checked = check_consent(consent)
    assert checked is not None
    return checked


@functools.lru_cache(maxsize=256)
def _signature(inputs: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(inputs)


def _inputs_of(product: Product[InputsT, Any], raw: Mapping[str, Any]) -> InputsT:
    signature = _signature(product.inputs)
    try:
        signature.bind(**raw)
    except TypeError as exc:
        unknown = sorted(set(raw) - set(signature.parameters))
        raise InvalidInputError(
            f"{product.code} does not take this input ({exc})",
            field=unknown[0] if unknown else product.name,
            rule="unknown",
        ) from None
    return product.inputs(**raw)


def product_operation(
    config: TianyuanConfig,
    product: Product[InputsT, ResultT],
    inputs: InputsT,
    consent: Consent,
    *,
    code: str | None = None,
) -> Operation[ResultT]:
    """The Operation of ``product`` for validated ``inputs`` (``code``: the product code sent,
    by default the declaration's)."""
    product_code = code or product.code
    encoded = getattr(inputs, "encoded", None) if product is ANY_PRODUCT else None
    try:
        # The generic call sends its params as given: already encoded when they were checked.
        plaintext = encoded or encode_params(product.params(inputs, consent))
    except (TypeError, ValueError):
        raise InvalidInputError("must be JSON-serialisable", field="params", rule="type") from None
    names = inputs.names
    sent = SentValues(names, inputs.values)  # their echoed forms: worked out once per call

    def parse(response: Response) -> ResultT:
        envelope, data = _success_envelope(config, response, sent)
        answer = ProductAnswer(
            product_code, envelope.transaction_id, envelope.message, data, config.tables
        )
        return product.parse(answer)

    return Operation(
        provider=PROVIDER,
        name=product_code,
        build_request=lambda: build_request(config, product_code, plaintext),
        parse_response=parse,
        billed=True,
        idempotent=False,
        applicant=dict(inputs.masked()) or None,
        names=names,
        consent=consent,
        outcome_of=product.outcome_of,
        transaction_id_of_answer=_answer_transaction_id(sent),
    )


# -- JRZQ9E2A, the multi-lending report -----------------------------------------------------


def multi_lending_params(applicant: Applicant, consent: Consent) -> dict[str, str]:
    return {
        "name": applicant.name,
        "id_card": applicant.id_card,
        "mobile_no": applicant.mobile,
        "auth_authorize_file_code": consent.reference,
    }


def _parse_multi_lending(answer: ProductAnswer) -> MultiLendingReport:
    if answer.data is None:
        return MultiLendingReport.from_factors(
            {}, transaction_id=answer.transaction_id, tables=answer.tables, has_data=False
        )
    return MultiLendingReport.from_factors(
        answer.data, transaction_id=answer.transaction_id, tables=answer.tables
    )


MULTI_LENDING: Product[MultiLendingInputs, MultiLendingReport] = register_product(
    Product(
        code=MULTI_LENDING_PRODUCT,
        name="multi_lending",
        title="multi-lending report (全国自然人多头借贷风险信息查询)",
        inputs=inputs_multi_lending,
        params=lambda inputs, consent: multi_lending_params(inputs.applicant, consent),
        parse=_parse_multi_lending,
        result=MultiLendingReport,
        example={"name": "张三", "id_card": "11010519491231002X", "mobile": "13800138000"},
    )
)


def multi_lending(
    config: TianyuanConfig,
    *,
    consent: object = None,
    applicant: object = None,
    name: object = None,
    id_card: object = None,
    mobile: object = None,
) -> Operation[MultiLendingReport]:
    """JRZQ9E2A for an applicant (or its ``name``, ``id_card``, ``mobile``); validated first."""
    inputs = inputs_multi_lending(applicant, name=name, id_card=id_card, mobile=mobile)
    return product_operation(config, MULTI_LENDING, inputs, _consent(consent))


# -- any product, by code -------------------------------------------------------------------


def _parse_any(answer: ProductAnswer) -> TianyuanResult:
    responses: tuple[SubResponse, ...] = ()
    if answer.product_code.startswith("COMB") and answer.data is not None:
        responses = _sub_responses(answer.data)
    return TianyuanResult(
        product_code=answer.product_code,
        code=0,
        message=answer.message,
        transaction_id=answer.transaction_id,
        data=answer.data,
        responses=responses,
    )


#: The generic call: any product code, ``params`` as given (not registered: it has no code).
ANY_PRODUCT: Product[CallInputs, TianyuanResult] = Product(
    code="ANY",
    name="call",
    title="any product, params as given",
    inputs=inputs_call,
    params=lambda inputs, _consent: dict(inputs.params),
    parse=_parse_any,
    result=TianyuanResult,
    columns=("product_code", "params"),
)


def call(
    config: TianyuanConfig,
    *,
    consent: object = None,
    product_code: object = None,
    params: object = None,
) -> Operation[TianyuanResult]:
    """Any product by code, ``params`` sent as given (ID, mobile and name fields validated)."""
    inputs = inputs_call(product_code, params)
    return product_operation(
        config, ANY_PRODUCT, inputs, _consent(consent), code=inputs.product_code
    )


def query(
    config: TianyuanConfig, product: object, *, consent: object = None, **raw: Any
) -> Operation[Any]:
    """A registered product (declaration, code or name) with its raw inputs; validated first."""
    return find_product(product).operation(config, consent=consent, **raw)


# Kept for callers of the earlier names.
def build_call_operation(
    config: TianyuanConfig, product_code: object, params: object, consent: Consent
) -> Operation[TianyuanResult]:
    return call(config, consent=consent, product_code=product_code, params=params)


def build_multi_lending_operation(
    config: TianyuanConfig, applicant: Applicant, consent: Consent
) -> Operation[MultiLendingReport]:
    return multi_lending(config, consent=consent, applicant=applicant)

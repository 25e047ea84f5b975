"""The Alipay open-platform gateway as pure functions: sign requests, verify and parse answers.

No I/O here. `SesameConfig` holds the loaded keys; the ``*_operation`` functions return
`Operation` objects that the transport runs.

Wire facts (docs/sesame.md): common params + ``biz_content`` are signed as ``k=v&…`` sorted by
key, empty values skipped, SHA256withRSA (RSA2); the answer's signature covers the raw text of the
``<method>_response`` (or ``error_response``) value exactly as received.
"""

from __future__ import annotations

import base64
import datetime as _dt
import functools
import hmac
import json
import os
import re
from collections.abc import Callable, Mapping
from json.decoder import scanstring  # type: ignore[attr-defined]  # C, public but unstubbed
from pathlib import Path
from typing import Any, Literal, TypedDict
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

import attrs

from .._core.clock import BEIJING
from .._core.config import EnvVar, env_value, looks_like_path, url_parts
from .._core.consent import Consent, check_consent
from .._core.crypto import (
    RsaKey,
    aes_cbc_decrypt,
    aes_cbc_encrypt,
    b64decode_strict,
    load_rsa_private_key,
    load_rsa_public_key,
    rsa_sign,
    rsa_verify,
)
from .._core.identity import Applicant
from .._core.operation import Operation
from .._core.redact import redact_text, register_secret
from .._core.wire import Request, Response
from ..errors import (
    ConfigurationError,
    CreditSDKError,
    InvalidInputError,
    ResponseIntegrityError,
)
from ._cert import CertBundle
from ._errors import (
    AuthorizationDeniedError,
    AuthorizationRevokedError,
    SesameAuthenticationError,
    SesameProductNotEnabledError,
    SesameProviderError,
    SesameRateLimitedError,
)
from ._inputs import (
    BRIEF_PRODUCT_CODE,
    SCORE_PRODUCT_CODE,
    AdmittanceInputs,
    AuthorizationStatusInputs,
    AuthorizationUrlInputs,
    ExchangeCodeInputs,
    RefreshInputs,
    ScoreInputs,
    WatchlistInputs,
    check_transaction_id,
    inputs_admittance,
    inputs_authorization_status,
    inputs_authorization_url,
    inputs_exchange_code,
    inputs_refresh,
    inputs_score,
    inputs_watchlist,
    new_transaction_id,
)
from .models import Admittance, AuthorizationStatus, Grant, SesameScore, WatchlistResult

__all__ = [
    "BEIJING",
    "BRIEF_PRODUCT_CODE",
    "DEFAULT_AUTHORIZE_URL",
    "DEFAULT_GATEWAY_URL",
    "SCORE_PRODUCT_CODE",
    "AdmittanceInputs",
    "AuthorizationStatusInputs",
    "AuthorizationUrlInputs",
    "ExchangeCodeInputs",
    "RefreshInputs",
    "ScoreInputs",
    "SesameConfig",
    "WatchlistInputs",
    "admittance",
    "authorization_status",
    "authorization_url",
    "check_transaction_id",
    "error_for",
    "exchange_code",
    "extract_signed",
    "inputs_admittance",
    "inputs_authorization_status",
    "inputs_authorization_url",
    "inputs_exchange_code",
    "inputs_refresh",
    "inputs_score",
    "inputs_watchlist",
    "new_transaction_id",
    "parse_redirect",
    "refresh",
    "score",
    "sign_content",
    "top_level_spans",
    "watchlist",
]

PROVIDER = "sesame"
DEFAULT_GATEWAY_URL = "https://openapi.alipay.com/gateway.do"
DEFAULT_AUTHORIZE_URL = "https://openauth.alipay.com/oauth2/publicAppAuthorize.htm"

M_TOKEN = "alipay.system.oauth.token"
M_SCORE = "zhima.credit.score.get"
M_AUTHQUERY = "zhima.auth.info.authquery"
M_BRIEF = "zhima.credit.score.brief.get"
M_WATCHLIST = "zhima.credit.watchlist.brief.get"

#: Parameters the official SDKs send in the URL query string (with ``sign``); everything else
#: (``biz_content``, a method's own top-level params such as ``grant_type``/``code``) goes in
#: the form body. ``app_cert_sn``/``alipay_root_cert_sn``: certificate mode (Java, PHP SDKs).
QUERY_PARAMS = frozenset(
    {"app_id", "method", "format", "charset", "sign_type", "timestamp", "version", "auth_token",
     "app_auth_token", "notify_url", "return_url", "encrypt_type", "app_cert_sn",
     "alipay_root_cert_sn", "sign"}
)  # fmt: skip

SignType = Literal["RSA2", "RSA"]


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


# -- configuration ---------------------------------------------------------------------------


@attrs.frozen(repr=False)
class SesameConfig:
    """Loaded credentials and endpoints. Build it with `load` (keys parsed once)."""

    app_id: str
    private_key: RsaKey
    alipay_public_key: RsaKey
    gateway_url: str
    authorize_url: str
    sign_type: SignType = "RSA2"
    encrypt_key: bytes | None = None
    clock: Callable[[], _dt.datetime] = _utcnow
    certs: CertBundle | None = None

    @classmethod
    def load(
        cls,
        *,
        app_id: str,
        app_private_key: str | bytes,
        alipay_public_key: str | bytes | None,
        gateway_url: str,
        authorize_url: str,
        sign_type: str = "RSA2",
        encrypt_key: str | None = None,
        clock: Callable[[], _dt.datetime] | None = None,
        certs: CertBundle | None = None,
    ) -> SesameConfig:
        if sign_type not in ("RSA2", "RSA"):
            raise ConfigurationError(f"sign_type must be 'RSA2' or 'RSA', not {sign_type!r}")
        private = load_rsa_private_key(app_private_key, which="app_private_key")
        if certs is not None:
            if alipay_public_key is not None:
                raise ConfigurationError(
                    "give alipay_public_key (public-key mode) or the three certificates "
                    "(certificate mode), not both"
                )
            if (certs.app_public_key.n, certs.app_public_key.e) != (private.n, private.e):
                raise ConfigurationError(
                    "app_cert does not hold the public half of app_private_key: pass the "
                    "appCertPublicKey_*.crt issued for this key"
                )
            public = certs.default_alipay_key
            what = "alipay_cert"
        else:
            if alipay_public_key is None:
                raise ConfigurationError(
                    "alipay_public_key is missing (or give app_cert, alipay_cert and "
                    "alipay_root_cert for certificate mode)"
                )
            public = load_rsa_public_key(alipay_public_key, which="alipay_public_key")
            what = "alipay_public_key"
        if public.n == private.n and public.e == private.e:
            raise ConfigurationError(
                f"{what} is the public half of your own app_private_key: pass "
                "Alipay's public key (the console's '支付宝公钥'), not your app's public key"
            )
        aes: bytes | None = None
        if encrypt_key is not None:
            try:
                aes = base64.b64decode("".join(encrypt_key.split()), validate=True)
            except (ValueError, TypeError):
                raise ConfigurationError("encrypt_key is not base64") from None
            if len(aes) not in (16, 24, 32):
                raise ConfigurationError("encrypt_key must decode to 16, 24 or 32 bytes (AES)")
        for name, url in (("gateway_url", gateway_url), ("authorize_url", authorize_url)):
            parts = url_parts(url)
            if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigurationError(f"{name} must be an absolute http(s) URL")
        return cls(
            app_id=app_id,
            private_key=private,
            alipay_public_key=public,
            gateway_url=gateway_url,
            authorize_url=authorize_url,
            sign_type=sign_type,  # type: ignore[arg-type]
            encrypt_key=aes,
            clock=clock or _utcnow,
            certs=certs,
        )

    @classmethod
    def from_env(
        cls,
        *,
        app_id: str | None = None,
        app_private_key: KeyArg = None,
        app_private_key_path: PathArg = None,
        alipay_public_key: KeyArg = None,
        alipay_public_key_path: PathArg = None,
        gateway_url: str | None = None,
        authorize_url: str | None = None,
        sign_type: str | None = None,
        encrypt_key: str | None = None,
        clock: Callable[[], _dt.datetime] | None = None,
        app_cert: KeyArg = None,
        app_cert_path: PathArg = None,
        alipay_cert: KeyArg = None,
        alipay_cert_path: PathArg = None,
        alipay_root_cert: KeyArg = None,
        alipay_root_cert_path: PathArg = None,
        environ: Mapping[str, str] | None = None,
    ) -> SesameConfig:
        """The configuration from the arguments given, the rest from ``CREDITSDK_SESAME_*``.

        Each key or certificate comes from its argument, its ``*_path`` argument, or the
        environment variable of the same name (``CREDITSDK_SESAME_APP_PRIVATE_KEY``) or of
        its file (``CREDITSDK_SESAME_APP_PRIVATE_KEY_FILE``, also spelt ``…_PATH``); giving
        both forms is an error, and a path where the key text is expected says so.
        Certificate mode is chosen by certificate arguments, else by certificate variables
        when no ``alipay_public_key`` argument is given. Every variable: docs/sesame.md.
        """
        env = os.environ if environ is None else environ
        resolved_app_id = _env_text(app_id, "APP_ID", env, required=True) or ""
        private = _material(app_private_key, app_private_key_path, "APP_PRIVATE_KEY", env)
        if private is None:
            raise ConfigurationError(
                "app_private_key is missing: pass it (or app_private_key_path) or set "
                f"{ENV_PREFIX}APP_PRIVATE_KEY (or {ENV_PREFIX}APP_PRIVATE_KEY_PATH)"
            )
        # Masked by value wherever an echo of them shows up (errors, logs, audit events).
        register_secret(private, encrypt_key)
        explicit_public = alipay_public_key is not None or alipay_public_key_path is not None
        cert_args = {
            "APP_CERT": (app_cert, app_cert_path),
            "ALIPAY_CERT": (alipay_cert, alipay_cert_path),
            "ALIPAY_ROOT_CERT": (alipay_root_cert, alipay_root_cert_path),
        }
        explicit_certs = any(v is not None for pair in cert_args.values() for v in pair)
        env_certs = any(
            env.get(ENV_PREFIX + name + suffix, "").strip()
            for name in cert_args
            for suffix in ("", "_PATH")
        )
        public: str | bytes | None = None
        bundle: CertBundle | None = None
        if explicit_certs or (env_certs and not explicit_public):
            if explicit_public:
                raise ConfigurationError(
                    "give alipay_public_key (public-key mode) or the three certificates "
                    "(certificate mode), not both"
                )
            if not explicit_certs and _material(None, None, "ALIPAY_PUBLIC_KEY", env) is not None:
                raise ConfigurationError(
                    f"{ENV_PREFIX}ALIPAY_PUBLIC_KEY and certificate variables are both set: "
                    "unset one (public-key mode or certificate mode)"
                )
            bundle = CertBundle.load(
                app_cert=_material(app_cert, app_cert_path, "APP_CERT", env),
                alipay_cert=_material(alipay_cert, alipay_cert_path, "ALIPAY_CERT", env),
                alipay_root_cert=_material(
                    alipay_root_cert, alipay_root_cert_path, "ALIPAY_ROOT_CERT", env
                ),
            )
        else:
            public = _material(alipay_public_key, alipay_public_key_path, "ALIPAY_PUBLIC_KEY", env)
            if public is None:
                raise ConfigurationError(
                    "alipay_public_key is missing: pass it (or alipay_public_key_path) or set "
                    f"{ENV_PREFIX}ALIPAY_PUBLIC_KEY (or {ENV_PREFIX}ALIPAY_PUBLIC_KEY_PATH); "
                    "or give app_cert, alipay_cert and alipay_root_cert for certificate mode"
                )
        gateway = _env_text(gateway_url, "GATEWAY_URL", env) or DEFAULT_GATEWAY_URL
        authorize = _env_text(authorize_url, "AUTHORIZE_URL", env) or DEFAULT_AUTHORIZE_URL
        sign = _env_text(sign_type, "SIGN_TYPE", env) or "RSA2"
        # A bad value read from a variable names the variable.
        if sign_type is None and sign not in ("RSA2", "RSA"):
            raise ConfigurationError(f"{ENV_PREFIX}SIGN_TYPE must be RSA2 or RSA, not {sign!r}")
        for name, given, url in (
            ("GATEWAY_URL", gateway_url, gateway),
            ("AUTHORIZE_URL", authorize_url, authorize),
        ):
            parts = url_parts(url)
            if given is None and (
                parts is None or parts.scheme not in ("http", "https") or not parts.netloc
            ):
                raise ConfigurationError(f"{ENV_PREFIX}{name} must be an absolute http(s) URL")
        return cls.load(
            app_id=resolved_app_id,
            app_private_key=private,
            alipay_public_key=public,
            gateway_url=gateway,
            authorize_url=authorize,
            sign_type=sign,
            encrypt_key=_env_text(encrypt_key, "ENCRYPT_KEY", env, secret=True),
            clock=clock,
            certs=bundle,
        )

    def __repr__(self) -> str:
        return f"SesameConfig(app_id={self.app_id!r}, gateway_url={self.gateway_url!r})"


#: Every setting of `SesameConfig.from_env` has a variable ``CREDITSDK_SESAME_<SETTING>``.
ENV_PREFIX = "CREDITSDK_SESAME_"
_KEY_FILES = "; or `{0}_FILE`, the path of a file holding it (`{0}_PATH` is the same)"
#: Every variable of `SesameConfig.from_env` (the transport ones come on top).
ENV_VARS = (
    EnvVar(ENV_PREFIX + "APP_ID", "your Alipay app id", required=True),
    EnvVar(
        ENV_PREFIX + "APP_PRIVATE_KEY",
        "your app's RSA private key, PEM or bare base64",
        secret=True,
        required=True,
    ),
    EnvVar(
        ENV_PREFIX + "ALIPAY_PUBLIC_KEY",
        "**Alipay's** public key (public-key mode)",
        secret=True,
    ),
    EnvVar(ENV_PREFIX + "APP_CERT", "appCertPublicKey_*.crt (certificate mode)", secret=True),
    EnvVar(
        ENV_PREFIX + "ALIPAY_CERT", "alipayCertPublicKey_RSA2.crt (certificate mode)", secret=True
    ),
    EnvVar(ENV_PREFIX + "ALIPAY_ROOT_CERT", "alipayRootCert.crt (certificate mode)", secret=True),
    EnvVar(ENV_PREFIX + "ENCRYPT_KEY", "AES content key, base64 (content encryption)", secret=True),
    EnvVar(ENV_PREFIX + "SIGN_TYPE", "`RSA2` or `RSA`", "RSA2"),
    EnvVar(ENV_PREFIX + "GATEWAY_URL", "the gateway", DEFAULT_GATEWAY_URL),
    EnvVar(ENV_PREFIX + "AUTHORIZE_URL", "the user authorization page", DEFAULT_AUTHORIZE_URL),
    EnvVar(
        ENV_PREFIX + "WATCHLIST_PRODUCT_CODE",
        "your contract's watchlist product code (`creditsdk query sesame watchlist`)",
    ),
)

KeyArg = str | bytes | os.PathLike[str] | None
PathArg = str | os.PathLike[str] | None


def _env_text(
    value: str | None,
    name: str,
    env: Mapping[str, str],
    *,
    required: bool = False,
    secret: bool = False,
) -> str | None:
    """``value`` if given (not blank), else ``$CREDITSDK_SESAME_<name>``."""
    var = ENV_PREFIX + name
    if value is not None:
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"{name.lower()} is empty (pass it or set {var})")
        return value.strip()
    found = env_value(var, secret=secret, environ=env)
    if found and found.strip():
        return found.strip()
    if required:
        raise ConfigurationError(f"{name.lower()} is missing: pass it as an argument or set {var}")
    return None


def _material(
    value: KeyArg, path: PathArg, name: str, env: Mapping[str, str]
) -> str | bytes | None:
    """A key or certificate: the value, the file at ``path``, or the ``name`` / ``name_PATH``
    variables. Errors name the setting or the variable, never the content."""
    what = name.lower()
    if value is not None and path is not None:
        raise ConfigurationError(f"give either {what} or {what}_path, not both")
    if isinstance(value, os.PathLike):
        value, path = None, value
    if path is not None:
        return _read_file(path, f"{what}_path")
    if value is not None:
        if isinstance(value, str) and not value.strip():
            raise ConfigurationError(f"{what} is empty (pass it or set {ENV_PREFIX}{name})")
        if looks_like_path(value):
            raise ConfigurationError(
                f"{what} looks like a path, not the key itself: pass {what}_path=, or the "
                "file's text"
            )
        return value
    var = ENV_PREFIX + name
    # NAME_FILE (the Docker/Kubernetes convention) and NAME_PATH (its earlier name) are one.
    file_vars = [v for v in (f"{var}_FILE", f"{var}_PATH") if env.get(v, "").strip()]
    if len(file_vars) > 1:
        raise ConfigurationError(f"{file_vars[0]} and {file_vars[1]} are both set: unset one")
    if file_vars:
        if env.get(var, "").strip():
            raise ConfigurationError(f"{var} and {file_vars[0]} are both set: unset one")
        return _read_file(env[file_vars[0]].strip(), file_vars[0])
    return env_value(var, secret=True, environ=env)


def _read_file(path: str | os.PathLike[str], what: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"{what} cannot be read: {os.fspath(path)} ({type(exc).__name__}: {exc.strerror})"
        ) from None


# -- request signing ---------------------------------------------------------------------------


def sign_content(params: Mapping[str, str | None]) -> str:
    """``k=v&…`` over every param but ``sign``, empty values skipped, sorted, not URL-encoded."""
    return "&".join(
        f"{k}={v}" for k, v in sorted(params.items()) if k != "sign" and v is not None and v != ""
    )


def beijing_timestamp(now: _dt.datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in Beijing time, whatever this machine's zone (naive = UTC)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=_dt.timezone.utc)
    return now.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def signed_params(
    config: SesameConfig,
    method: str,
    *,
    biz: Mapping[str, Any] | None = None,
    auth_token: str | None = None,
    top_level: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every request parameter, ``sign`` included. Empty optional values never appear."""
    params: dict[str, str | None] = {
        "app_id": config.app_id,
        "method": method,
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": config.sign_type,
        "timestamp": beijing_timestamp(config.clock()),
        "version": "1.0",
        "auth_token": auth_token,
    }
    if config.certs is not None:
        params["app_cert_sn"] = config.certs.app_cert_sn
        params["alipay_root_cert_sn"] = config.certs.alipay_root_cert_sn
    params.update(top_level or {})
    if biz is not None:
        content = _dumps(biz)
        if config.encrypt_key is not None:
            params["encrypt_type"] = "AES"
            cipher = aes_cbc_encrypt(config.encrypt_key, content.encode("utf-8"), bytes(16))
            content = base64.b64encode(cipher).decode("ascii")
        params["biz_content"] = content
    clean = {k: v for k, v in params.items() if v is not None and v != ""}
    clean["sign"] = rsa_sign(
        config.private_key, sign_content(clean).encode("utf-8"), config.sign_type
    )
    return clean


_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
#: quote_plus() for ASCII text as one str.translate (urlencode quotes character by character in
#: Python: ~40 us per call for the signature alone).
_FORM_TABLE = {c: (chr(c) if c in _SAFE else "+" if c == 0x20 else f"%{c:02X}") for c in range(128)}


def _form_quote(value: str) -> str:
    return value.translate(_FORM_TABLE) if value.isascii() else quote_plus(value)


def form_encode(params: Mapping[str, str]) -> str:
    """``urlencode(params)`` exactly (UTF-8, space as ``+``), faster for ASCII values."""
    return "&".join(f"{_form_quote(k)}={_form_quote(v)}" for k, v in params.items())


@functools.lru_cache(maxsize=16)
def _query_separator(gateway_url: str) -> str:
    return "&" if urlsplit(gateway_url).query else "?"


def build_request(config: SesameConfig, params: Mapping[str, str]) -> Request:
    """The official SDKs' layout: common params + ``sign`` in the URL query, the rest in a form
    body. (A body-only POST is refused by the real gateway: ``isv.invalid-signature``
    "请确认charset参数放在了URL查询字符串中".)"""
    query = {k: v for k, v in params.items() if k in QUERY_PARAMS}
    body = {k: v for k, v in params.items() if k not in QUERY_PARAMS}
    return Request(
        "POST",
        config.gateway_url + _query_separator(config.gateway_url) + form_encode(query),
        body=form_encode(body).encode("ascii"),
        headers=(("Content-Type", "application/x-www-form-urlencoded;charset=utf-8"),),
    )


# -- answer verification -----------------------------------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")


def _ws(text: str, i: int) -> int:
    """Index of the first non-whitespace character at or after ``i``."""
    return _WS.match(text, i).end()  # type: ignore[union-attr]  # "*" always matches


_DECODER = json.JSONDecoder()


def _scan_top_level(text: str) -> dict[str, tuple[int, int, Any]]:
    """``{key: (start, end, value)}`` of each top-level member of a JSON object, as received.

    One pass on the json module's own C scanner (``scanstring`` for keys, ``raw_decode`` for
    values), so a ``}`` or ``"sign"`` inside a string cannot move a boundary, the grammar is
    checked as strictly as ``json.loads`` checks it, and each value is parsed once. A duplicated
    top-level key is refused (which copy was signed would be ambiguous).
    """
    i = _ws(text, 0)
    if i >= len(text) or text[i] != "{":
        try:
            json.loads(text)
        except ValueError:
            raise ResponseIntegrityError("answer is not valid JSON", provider=PROVIDER) from None
        raise ResponseIntegrityError("answer is not a JSON object", provider=PROVIDER)
    members: dict[str, tuple[int, int, Any]] = {}
    try:
        i = _ws(text, i + 1)
        if text[i] == "}":
            i += 1
        else:
            while True:
                if text[i] != '"':
                    raise ValueError(i)
                key, i = scanstring(text, i + 1)
                i = _ws(text, i)
                if text[i] != ":":
                    raise ValueError(i)
                start = _ws(text, i + 1)
                value, end = _DECODER.raw_decode(text, start)
                if key in members:
                    raise ResponseIntegrityError(
                        f"answer repeats the top-level member {key!r}", provider=PROVIDER
                    )
                members[key] = (start, end, value)
                i = _ws(text, end)
                if text[i] == "}":
                    i += 1
                    break
                if text[i] != ",":
                    raise ValueError(i)
                i = _ws(text, i + 1)
    except (ValueError, IndexError):  # JSONDecodeError is a ValueError
        raise ResponseIntegrityError("answer is not valid JSON", provider=PROVIDER) from None
    if _ws(text, i) != len(text):
        raise ResponseIntegrityError("answer is not valid JSON (extra data)", provider=PROVIDER)
    return members


def top_level_spans(text: str) -> dict[str, tuple[int, int]]:
    """Raw ``(start, end)`` of each top-level member value of a JSON object, as received."""
    return {key: (start, end) for key, (start, end, _v) in _scan_top_level(text).items()}


def response_key(method: str) -> str:
    return method.replace(".", "_") + "_response"


def _signed_member(
    members: Mapping[str, tuple[int, int, Any]], text: str, method: str
) -> tuple[str, str, str, Any]:
    key = response_key(method)
    if key not in members:
        key = "error_response"
    if key not in members:
        raise ResponseIntegrityError(
            f"answer has neither {response_key(method)!r} nor 'error_response'", provider=PROVIDER
        )
    if "sign" not in members:
        raise ResponseIntegrityError(
            "answer carries no signature; refusing to trust it", provider=PROVIDER
        )
    sign = members["sign"][2]
    if not isinstance(sign, str) or not sign:
        raise ResponseIntegrityError("answer's signature is empty", provider=PROVIDER)
    start, end, value = members[key]
    return key, text[start:end], sign, value


def extract_signed(text: str, method: str) -> tuple[str, str, str]:
    """``(member name, raw value text, signature)`` of an answer; integrity errors otherwise."""
    key, raw, sign, _value = _signed_member(_scan_top_level(text), text, method)
    return key, raw, sign


_CHARSET_RE = re.compile(r"charset\s*=\s*\"?([A-Za-z0-9._:-]+)", re.I)


def declared_charset(response: Response) -> str | None:
    """The ``charset`` of the answer's Content-Type, if any (GBK error answers exist)."""
    match = _CHARSET_RE.search(response.headers.get("content-type", ""))
    return match.group(1) if match else None


def decode_answer(body: bytes, declared: str | None) -> tuple[str, str]:
    """``(text, charset used)``: the declared charset first, then UTF-8."""
    tried: list[str] = []
    for charset in (declared, "utf-8"):
        if not charset or charset.lower() in (t.lower() for t in tried):
            continue
        tried.append(charset)
        try:
            return body.decode(charset), charset
        except (UnicodeDecodeError, LookupError):
            continue
    raise ResponseIntegrityError(
        f"answer is neither UTF-8 nor its declared charset {declared!r}"
        if declared and declared.lower() != "utf-8"
        else "answer is not UTF-8 (and declares no other charset)",
        provider=PROVIDER,
    )


def _verify_key(
    config: SesameConfig, members: Mapping[str, tuple[int, int, Any]]
) -> tuple[RsaKey, str]:
    """The key that must have signed this answer, and its name for error messages."""
    if config.certs is None:
        return config.alipay_public_key, "alipay_public_key"
    if "alipay_cert_sn" not in members:
        return config.alipay_public_key, "alipay_cert"
    sn = members["alipay_cert_sn"][2]
    key = config.certs.alipay_keys.get(str(sn))
    if key is None:
        raise ResponseIntegrityError(
            f"answer is signed with the Alipay certificate SN {str(sn)[:40]!r}, which is not in "
            "alipay_cert: download Alipay's current public-key certificate from the console",
            provider=PROVIDER,
        )
    return key, f"alipay_cert {sn}"


def verified_content(config: SesameConfig, response: Response, method: str) -> dict[str, Any]:
    """Verify the signature over the raw value text, decrypt if needed, return the JSON object.

    The text is decoded in the answer's declared charset (else UTF-8) and the signature is
    checked over the raw value's bytes in that same charset.
    """
    text, charset = decode_answer(response.content, declared_charset(response))
    members = _scan_top_level(text)
    _key, raw, sign, content = _signed_member(members, text, method)
    key, which = _verify_key(config, members)
    if not rsa_verify(key, raw.encode(charset), sign, config.sign_type):
        raise ResponseIntegrityError(
            f"answer's signature does not verify (tampered, or {which} is not the key "
            "Alipay signs with)",
            provider=PROVIDER,
        )
    if isinstance(content, str):
        if config.encrypt_key is None:
            raise ResponseIntegrityError(
                "answer is encrypted but no encrypt_key is configured", provider=PROVIDER
            )
        cipher = b64decode_strict(content, what="encrypted answer")
        raw = aes_cbc_decrypt(
            config.encrypt_key, cipher, bytes(16), what="encrypted answer"
        ).decode("utf-8", "replace")
        try:
            content = json.loads(raw)
        except ValueError:
            raise ResponseIntegrityError("answer content is not JSON", provider=PROVIDER) from None
    if not isinstance(content, dict):
        raise ResponseIntegrityError("answer content is not a JSON object", provider=PROVIDER)
    return content


# -- codes ---------------------------------------------------------------------------------------

_AUTH_SUB_CODES = re.compile(
    r"isv\.(invalid-signature|invalid-app-id|invalid-encrypt|code-invalid|"
    r"refresh-token-invalid|refresh-token-time-out|invalid-auth-token|missing-signature|"
    r"invalid-timestamp|insufficient-isv-permissions|invalid-app-cert-sn|"
    r"invalid-alipay-root-cert-sn)"
    r"|aop\..*token.*",
    re.I,
)


_RATE_LIMIT_SUB_CODES = frozenset({"isv.app-call-limited", "isv.method-call-limited"})
SIGNATURE_HINT = (
    "usual causes: alipay_public_key is your own app public key instead of Alipay's, sign_type "
    "RSA vs RSA2 does not match the key set in the console, or the charset/common parameters "
    "were not in the URL query string"
)
_REAUTHORIZE = "send the user through authorization_url() again"
_APP_AUTH = "the merchant must authorize your app again (third-party app authorization)"
#: sub_code (lower case) -> a short English hint, appended to the error's message. From the
#: Alipay gateway's public error-code table and the Zhima product documents.
SUB_CODE_HINTS: Mapping[str, str] = {
    # 20000: Alipay's side
    "isp.unknow-error": "Alipay's service failed on its side: try again later",
    "aop.unknow-error": "Alipay's gateway failed on its side: try again later",
    # 20001: tokens
    "aop.invalid-auth-token": "the user's access token is invalid: refresh the grant or "
    + _REAUTHORIZE,
    "aop.auth-token-time-out": "the user's access token expired: refresh the grant "
    "(refresh()) or " + _REAUTHORIZE,
    "aop.invalid-app-auth-token": "the app_auth_token is invalid: " + _APP_AUTH,
    "aop.app-auth-token-time-out": "the app_auth_token expired: refresh it, or " + _APP_AUTH,
    "aop.invalid-app-auth-token-no-api": "the merchant's authorization does not cover this "
    "method: " + _APP_AUTH,
    "aop.no-product-reg-by-partner": "the merchant has signed no product for this method",
    # 40001: a missing common parameter
    "isv.missing-app-id": "no app_id was sent: set CREDITSDK_SESAME_APP_ID (or pass app_id=)",
    "isv.missing-signature": "the request carried no sign: the SDK signs every request, so "
    "something between you and Alipay dropped it",
    "isv.missing-signature-key": "the app has no public key (or certificate) uploaded in the "
    "Alipay console: upload your app's public key",
    "isv.missing-signature-config": "the app has no public key (or certificate) uploaded in "
    "the Alipay console: upload your app's public key",
    "isv.missing-timestamp": "no timestamp was sent: something between you and Alipay dropped it",
    # 40002: a refused parameter
    "isv.invalid-signature": SIGNATURE_HINT,
    "isv.invalid-signature-type": "sign_type must be RSA2 (or RSA) and match the key type "
    "set in the console (CREDITSDK_SESAME_SIGN_TYPE)",
    "isv.invalid-app-id": "Alipay does not know this app_id, or the app is not online: check "
    "CREDITSDK_SESAME_APP_ID against the console (sandbox and production app ids differ)",
    "isv.invalid-timestamp": "the request's timestamp was refused: this machine's clock is "
    "off (sync it with NTP); the SDK sends Beijing time",
    "isv.invalid-encrypt": "content encryption failed: encrypt_key (CREDITSDK_SESAME_"
    "ENCRYPT_KEY) does not match the AES key set in the console",
    "isv.decryption-error-not-valid-encrypt-key": "encrypt_key does not match the AES key set "
    "in the console",
    "isv.code-invalid": "the auth_code is invalid, already used or expired (it is single-use "
    "and short-lived): " + _REAUTHORIZE,
    "isv.refresh-token-invalid": "the refresh token is no longer valid: " + _REAUTHORIZE,
    "isv.refresh-token-time-out": "the refresh token expired: " + _REAUTHORIZE,
    "isv.invalid-app-cert-sn": "certificate mode: app_cert is not the certificate the console "
    "holds for this app; download the current appCertPublicKey_*.crt",
    "isv.invalid-alipay-root-cert-sn": "certificate mode: alipay_root_cert is not Alipay's "
    "current root certificate; download alipayRootCert.crt again",
    "isv.invalid-parameter": "a parameter was refused; sub_msg names it",
    # 40006: permissions
    "isv.insufficient-isv-permissions": "the app has not been granted this method: sign the "
    "Zhima product for this app (and add the method) in the Alipay console",
    "isv.insufficient-user-permissions": "the user has not authorized this scope: "
    + _REAUTHORIZE
    + " with the right scope",
    # rate limits (any code)
    "isv.app-call-limited": "the app's call quota is used up: slow down, or ask Alipay for a "
    "higher limit",
    "isv.method-call-limited": "this method's call quota is used up: slow down, or ask Alipay "
    "for a higher limit",
    # 40004: Zhima business failures
    "zmcredit.no_valid_arrangement": "the Zhima contract for this product is missing, frozen "
    "or expired: check it in the Alipay console",
    "zmcredit.authentication_fail": "the user revoked the Zhima authorization: " + _REAUTHORIZE,
}


def sub_code_hint(sub_code: str | None) -> str | None:
    """The English hint of an Alipay ``sub_code`` (case-insensitive), or None."""
    return SUB_CODE_HINTS.get(sub_code.lower()) if sub_code else None


def error_for(content: Mapping[str, Any], *, transaction_id: str | None = None) -> CreditSDKError:
    """The typed error for a failure answer (see the code table in docs/sesame.md); a known
    ``sub_code`` adds its English hint (`SUB_CODE_HINTS`) to the message."""
    code = str(content.get("code") or "")
    sub_code = str(content["sub_code"]) if content.get("sub_code") else None
    sub_msg = str(content["sub_msg"]) if content.get("sub_msg") else None
    msg = str(content.get("msg") or "")
    text = redact_text(
        " ".join(p for p in (sub_msg or msg, f"({sub_code})" if sub_code else "") if p)
    )
    hint = sub_code_hint(sub_code)
    common: dict[str, Any] = {
        "provider": PROVIDER,
        "code": code or None,
        "transaction_id": transaction_id,
        "sub_code": sub_code,
        "sub_msg": redact_text(sub_msg) if sub_msg else None,
    }
    cls, message = _classify(code, sub_code, text)
    return cls(f"{message}; hint: {hint}" if hint else message, **common)


def _classify(code: str, sub_code: str | None, text: str) -> tuple[type[CreditSDKError], str]:
    lowered = sub_code.lower() if sub_code else ""
    if lowered in _RATE_LIMIT_SUB_CODES:
        return SesameRateLimitedError, f"Alipay rate limit; retried after a backoff: {text}"
    if lowered == "zmcredit.no_valid_arrangement":
        return SesameProductNotEnabledError, f"no valid Zhima contract for this product: {text}"
    if lowered == "isv.invalid-signature":
        return SesameAuthenticationError, f"signature refused: {text}"
    if lowered == "zmcredit.authentication_fail":
        return AuthorizationRevokedError, f"the user revoked the Zhima authorization: {text}"
    if code == "20001":
        return SesameAuthenticationError, f"auth token refused (invalid or expired): {text}"
    if code == "40006":
        return SesameProductNotEnabledError, f"the app lacks permission for this product: {text}"
    if code == "40002" and sub_code and _AUTH_SUB_CODES.fullmatch(sub_code):
        return SesameAuthenticationError, text or "invalid credentials"
    if code == "20000":
        return SesameProviderError, f"service unavailable: {text}"
    return SesameProviderError, text or f"failure code {code or 'missing'}"


def check_success(content: Mapping[str, Any], *, transaction_id: str | None = None) -> None:
    """10000 (or, for the token call, no code at all and no ``sub_code``) is success."""
    code = content.get("code")
    if (code is None or str(code) == "10000") and not content.get("sub_code"):
        return
    raise error_for(content, transaction_id=transaction_id)


# -- transaction ids, authorization URL and redirect ----------------------------------------------


def authorization_url(
    config: SesameConfig, *, redirect_uri: str, state: str, scope: str = "auth_zhima"
) -> str:
    """The Alipay page where the user authorizes the app (no I/O: not an Operation)."""
    checked = inputs_authorization_url(redirect_uri=redirect_uri, state=state, scope=scope)
    query = urlencode(
        {
            "app_id": config.app_id,
            "scope": checked.scope,
            "redirect_uri": checked.redirect_uri,
            "state": checked.state,
        }
    )
    sep = "&" if "?" in config.authorize_url else "?"
    return f"{config.authorize_url}{sep}{query}"


def parse_redirect(url_or_params: str | Mapping[str, object], expected_state: str) -> str:
    """The ``auth_code`` of the redirect back from Alipay, after checking ``state``."""
    if isinstance(url_or_params, str):
        try:
            query = urlsplit(url_or_params).query if "?" in url_or_params else url_or_params
        except ValueError:  # e.g. "Invalid IPv6 URL" for an unclosed "[" in the host
            raise InvalidInputError(
                "is not a URL urllib can read", field="redirect", rule="format"
            ) from None
        params: dict[str, str] = dict(parse_qsl(query, keep_blank_values=True))
    elif isinstance(url_or_params, Mapping):
        params = {}
        for k, v in url_or_params.items():
            if isinstance(v, (list, tuple)):
                v = v[0] if v else ""
            params[str(k)] = str(v)
    else:
        raise InvalidInputError(
            "must be the redirect URL or a mapping of its parameters", field="redirect", rule="type"
        )
    if not isinstance(expected_state, str) or not expected_state:
        raise InvalidInputError("is empty", field="expected_state", rule="required")
    if params.get("error"):
        raise AuthorizationDeniedError(
            "the user did not authorize the app on Alipay's page",
            field="redirect",
            rule="user_denied",
        )
    state = params.get("state", "")
    if not hmac.compare_digest(state.encode("utf-8"), expected_state.encode("utf-8")):
        raise InvalidInputError(
            "state does not match the one sent (possible CSRF or a mixed-up session)",
            field="redirect",
            rule="state_mismatch",
        )
    code = params.get("auth_code") or params.get("code")
    if not code:
        raise InvalidInputError("carries no auth_code", field="redirect", rule="missing_code")
    return code


# -- operations -----------------------------------------------------------------------------------


def _number(value: Any, what: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise ResponseIntegrityError(f"{what} is not a number", provider=PROVIDER) from None


def _parse_grant(content: Mapping[str, Any], issued: _dt.datetime) -> Grant:
    token = content.get("access_token")
    user_id = content.get("user_id") or content.get("alipay_user_id") or content.get("open_id")
    if not isinstance(token, str) or not token or not user_id:
        raise ResponseIntegrityError(
            "token answer lacks access_token or user_id", provider=PROVIDER
        )
    expires_in = _number(content.get("expires_in", 0), "expires_in")
    re_expires = content.get("re_expires_in")
    return Grant(
        access_token=token,
        refresh_token=content.get("refresh_token") or None,
        user_id=str(user_id),
        open_id=content.get("open_id"),
        issued_at=issued,
        expires_at=issued + _dt.timedelta(seconds=expires_in),
        refresh_expires_at=(
            issued + _dt.timedelta(seconds=_number(re_expires, "re_expires_in"))
            if re_expires not in (None, "")
            else None
        ),
    )


def token_operation(
    config: SesameConfig, *, code: str | None = None, refresh_token: str | None = None
) -> Operation[Grant]:
    if code is not None:
        top = {"grant_type": "authorization_code", "code": code}
        name = "exchange_code"
    else:
        top = {"grant_type": "refresh_token", "refresh_token": refresh_token or ""}
        name = "refresh"

    def build() -> Request:
        return build_request(config, signed_params(config, M_TOKEN, top_level=top))

    def parse(response: Response) -> Grant:
        content = verified_content(config, response, M_TOKEN)
        check_success(content)
        # Expiry counts from our clock when the answer arrived (the answer has no timestamp).
        return _parse_grant(content, config.clock().astimezone(_dt.timezone.utc))

    # An auth code is single-use and a refresh token rotates: a blind resend could fail or
    # orphan the first grant, so these are not idempotent (not billed either).
    return Operation(
        provider=PROVIDER, name=name, build_request=build, parse_response=parse,
        billed=False, idempotent=False,
    )  # fmt: skip


def score_operation(
    config: SesameConfig,
    *,
    auth_token: str,
    consent: Consent,
    product_code: str,
    transaction_id: str,
) -> Operation[SesameScore]:
    biz = {"transaction_id": transaction_id, "product_code": product_code}

    def build() -> Request:
        # Same transaction_id on every attempt: Zhima answers a repeat with the first result.
        return build_request(config, signed_params(config, M_SCORE, biz=biz, auth_token=auth_token))

    def parse(response: Response) -> SesameScore:
        content = verified_content(config, response, M_SCORE)
        check_success(content, transaction_id=transaction_id)
        raw = content.get("zm_score")
        if raw is None:
            raise ResponseIntegrityError("answer lacks zm_score", provider=PROVIDER)
        score = None if str(raw).strip().upper() == "N/A" else _number(raw, "zm_score")
        return SesameScore(score=score, biz_no=content.get("biz_no"), transaction_id=transaction_id)

    return Operation(
        provider=PROVIDER,
        name="score",
        build_request=build,
        parse_response=parse,
        transaction_id_of_answer=lambda _answer: transaction_id,
        billed=True,
        idempotent=True,
        consent=consent,
        outcome_of=lambda r: "no_data" if r.score is None else "success",
    )


def authquery_operation(
    config: SesameConfig,
    *,
    identity_type: str,
    identity_param: Mapping[str, str],
    applicant: Mapping[str, str] | None,
    consent: Consent | None,
) -> Operation[AuthorizationStatus]:
    biz = {
        "identity_type": identity_type,
        "identity_param": _dumps(dict(identity_param)),
        "auth_category": "C2B",
    }

    def build() -> Request:
        return build_request(config, signed_params(config, M_AUTHQUERY, biz=biz))

    def parse(response: Response) -> AuthorizationStatus:
        content = verified_content(config, response, M_AUTHQUERY)
        check_success(content)
        authorized = content.get("authorized")
        if isinstance(authorized, str):
            authorized = authorized.strip().lower() == "true"
        if not isinstance(authorized, bool):
            raise ResponseIntegrityError("answer lacks 'authorized'", provider=PROVIDER)
        return AuthorizationStatus(authorized=authorized, open_id=content.get("open_id"))

    return Operation(
        provider=PROVIDER, name="authorization_status", build_request=build,
        parse_response=parse, billed=False, idempotent=True, applicant=applicant, consent=consent,
        names=tuple(v for k, v in identity_param.items() if k == "name"),
    )  # fmt: skip


def brief_operation(
    config: SesameConfig,
    *,
    name: str,
    id_card: str,
    threshold: int,
    applicant: Mapping[str, str],
    consent: Consent,
    product_code: str,
    transaction_id: str,
) -> Operation[Admittance]:
    biz = {
        "transaction_id": transaction_id,
        "product_code": product_code,
        "cert_type": "IDENTITY_CARD",
        "cert_no": id_card,
        "name": name,
        "admittance_score": threshold,
    }

    def build() -> Request:
        return build_request(config, signed_params(config, M_BRIEF, biz=biz))

    def parse(response: Response) -> Admittance:
        content = verified_content(config, response, M_BRIEF)
        check_success(content, transaction_id=transaction_id)
        flag = str(content.get("is_admittance", "")).strip().upper()
        if flag not in ("Y", "N", "N/A"):
            raise ResponseIntegrityError("answer lacks is_admittance", provider=PROVIDER)
        return Admittance(
            admitted=None if flag == "N/A" else flag == "Y",
            threshold=threshold,
            biz_no=content.get("biz_no"),
            transaction_id=transaction_id,
        )

    return Operation(
        provider=PROVIDER,
        name="admittance",
        build_request=build,
        parse_response=parse,
        transaction_id_of_answer=lambda _answer: transaction_id,
        billed=True,
        idempotent=True,
        applicant=applicant,
        names=(name,),
        consent=consent,
        outcome_of=lambda r: "no_data" if r.admitted is None else "success",
    )


WATCHLIST_LEVELS = ("0", "1", "2", "3")


def watchlist_operation(
    config: SesameConfig,
    *,
    name: str,
    id_card: str,
    applicant: Mapping[str, str],
    consent: Consent,
    product_code: str,
    transaction_id: str,
) -> Operation[WatchlistResult]:
    biz = {
        "transaction_id": transaction_id,
        "product_code": product_code,
        "cert_type": "IDENTITY_CARD",
        "cert_no": id_card,
        "name": name,
    }

    def build() -> Request:
        return build_request(config, signed_params(config, M_WATCHLIST, biz=biz))

    def parse(response: Response) -> WatchlistResult:
        content = verified_content(config, response, M_WATCHLIST)
        check_success(content, transaction_id=transaction_id)
        level = str(content.get("level", "")).strip().upper()
        if level not in (*WATCHLIST_LEVELS, "N/A"):
            raise ResponseIntegrityError(
                "answer's level is not 0, 1, 2, 3 or N/A", provider=PROVIDER
            )
        return WatchlistResult(
            level=None if level == "N/A" else int(level),
            biz_no=content.get("biz_no"),
            transaction_id=transaction_id,
        )

    return Operation(
        provider=PROVIDER,
        name="watchlist",
        build_request=build,
        parse_response=parse,
        transaction_id_of_answer=lambda _answer: transaction_id,
        billed=True,
        idempotent=True,  # same transaction_id within 24 h: first answer, not billed again
        applicant=applicant,
        names=(name,),
        consent=consent,
        outcome_of=lambda r: "no_data" if r.level is None else "success",
    )


# -- one function per operation: validate the raw inputs, build the Operation ----------------------
# Clients, batch and CLI all come through here; `inputs_<operation>` holds the input rules.


def _token_call(op: Operation[Grant], consent: Consent | None) -> Operation[Grant]:
    checked = check_consent(consent, required=False)
    return op if checked is None else attrs.evolve(op, consent=checked)


def exchange_code(
    config: SesameConfig, *, consent: Consent | None = None, code: str
) -> Operation[Grant]:
    """``alipay.system.oauth.token`` with the redirect's ``auth_code``: a Grant. Not billed."""
    checked = inputs_exchange_code(code=code)
    return _token_call(token_operation(config, code=checked.code), consent)


def refresh(
    config: SesameConfig, *, consent: Consent | None = None, grant: Grant | str
) -> Operation[Grant]:
    """A new Grant from a grant's refresh token (or the refresh token itself). Not billed."""
    checked = inputs_refresh(grant=grant)
    return _token_call(token_operation(config, refresh_token=checked.refresh_token), consent)


def _required_consent(consent: Consent | None) -> Consent:
    checked = check_consent(consent)
    assert checked is not None  # check_consent raises on None when required
    return checked


class _PersonQuery(TypedDict):
    name: str
    id_card: str
    applicant: Mapping[str, str]
    consent: Consent
    product_code: str
    transaction_id: str


def _person_query(
    checked: AdmittanceInputs | WatchlistInputs, consent: Consent | None
) -> _PersonQuery:
    """What the billed person queries (brief.get, watchlist) send: a transaction id drawn now."""
    return {
        "name": checked.person.name,
        "id_card": checked.person.id_card,
        "applicant": checked.person.masked(),
        "consent": _required_consent(consent),
        "product_code": checked.product_code,
        "transaction_id": checked.transaction_id or new_transaction_id(),
    }


def score(
    config: SesameConfig,
    *,
    consent: Consent | None = None,
    grant_or_token: Grant | str,
    product_code: str = SCORE_PRODUCT_CODE,
    transaction_id: str | None = None,
) -> Operation[SesameScore]:
    """``zhima.credit.score.get``. Billed; idempotent (one ``transaction_id`` for every attempt)."""
    checked = inputs_score(
        grant_or_token=grant_or_token, product_code=product_code, transaction_id=transaction_id
    )
    return score_operation(
        config,
        auth_token=checked.auth_token,
        consent=_required_consent(consent),
        product_code=checked.product_code,
        transaction_id=checked.transaction_id or new_transaction_id(),
    )


def authorization_status(
    config: SesameConfig,
    *,
    consent: Consent | None = None,
    who: Applicant | Grant | str | None = None,
    user_id: str | None = None,
    name: str | None = None,
    id_card: str | None = None,
) -> Operation[AuthorizationStatus]:
    """``zhima.auth.info.authquery``: has this person or Alipay user authorized the app?"""
    checked = inputs_authorization_status(who=who, user_id=user_id, name=name, id_card=id_card)
    return authquery_operation(
        config,
        identity_type=checked.identity_type,
        identity_param=checked.identity_param,
        applicant=checked.masked(),
        consent=check_consent(consent, required=False),
    )


def admittance(
    config: SesameConfig,
    *,
    consent: Consent | None = None,
    applicant: Applicant | None = None,
    name: str | None = None,
    id_card: str | None = None,
    threshold: int | str,
    product_code: str = BRIEF_PRODUCT_CODE,
    transaction_id: str | None = None,
) -> Operation[Admittance]:
    """``zhima.credit.score.brief.get``: is the score at least ``threshold``? Billed; idempotent."""
    checked = inputs_admittance(
        applicant=applicant,
        name=name,
        id_card=id_card,
        threshold=threshold,
        product_code=product_code,
        transaction_id=transaction_id,
    )
    return brief_operation(config, threshold=checked.threshold, **_person_query(checked, consent))


def watchlist(
    config: SesameConfig,
    *,
    consent: Consent | None = None,
    applicant: Applicant | None = None,
    name: str | None = None,
    id_card: str | None = None,
    product_code: str | None = None,
    transaction_id: str | None = None,
) -> Operation[WatchlistResult]:
    """``zhima.credit.watchlist.brief.get``: the industry watchlist level. Billed; idempotent."""
    checked = inputs_watchlist(
        applicant=applicant,
        name=name,
        id_card=id_card,
        product_code=product_code,
        transaction_id=transaction_id,
    )
    return watchlist_operation(config, **_person_query(checked, consent))

"""The Alipay gateway and Zhima, as the Sandbox serves them (the provider side, from the spec).

Written against docs/sesame.md and docs/protocols.md, not against the client: it verifies and signs
with pycryptodome directly and parses requests its own way, so a client ⇄ sandbox test checks
two independent readings of the protocol. It also accepts the official ``alipay-sdk-python``
layout (common params in the query string, ``biz_content`` in the form body) — and so does
our client.

Like the real gateway it wants the common parameters (``charset`` at least) in the URL query
string: a body-only POST is answered ``isv.invalid-signature`` with the hint
"请确认charset参数放在了URL查询字符串中", encoded in GBK (``require_query_charset=False``
accepts it). Answers are encoded in the request's ``charset`` and signed over those bytes.
With ``cert_mode=True`` it issues a throwaway certificate chain and runs Alipay's public-key
certificate mode (``app_cert_sn`` and ``alipay_root_cert_sn`` checked on every request,
``alipay_cert_sn`` on every answer).

Endpoints: ``POST /gateway.do`` and the authorization page ``/oauth2/publicAppAuthorize.htm``
(GET shows it, POST ``decision=approve|deny`` answers it). ``sb.sesame.approve(url)`` plays the
user saying yes and returns the redirect URL; ``deny(url)`` plays "no".
"""

from __future__ import annotations

import base64
import codecs
import datetime as _dt
import functools
import hashlib
import html
import json
import re
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

import attrs
from Crypto.Cipher import AES
from Crypto.Hash import SHA1, SHA256
from Crypto.PublicKey import RSA
from Crypto.Signature import pkcs1_15
from Crypto.Util.Padding import pad, unpad

from .._core.redact import mask_id_card
from ..errors import ConfigurationError
from ..sandbox._app import Route, SandboxContext, SandboxRequest, SandboxResponse
from ..sandbox._crypto import RsaVerifier
from ..sandbox._provider import InjectedFailure, ProviderSandboxBase
from .models import mask_user_id

if TYPE_CHECKING:
    from .client import AsyncSesameClient, SesameClient

__all__ = ["SesameSandbox", "SesameUser", "create_sandbox", "gateway_code"]

_CST = _dt.timezone(_dt.timedelta(hours=8))
GATEWAY_PATH = "/gateway.do"
AUTHORIZE_PATH = "/oauth2/publicAppAuthorize.htm"
_TXN = re.compile(r"[A-Za-z0-9_]{1,64}")
_CERT = re.compile(r"\d{17}[\dX]")
_MSG = {
    "10000": "Success",
    "20000": "Service Currently Unavailable",
    "20001": "Insufficient Token Permissions",
    "40001": "Missing Required Arguments",
    "40002": "Invalid Arguments",
    "40004": "Business Failed",
    "40006": "Insufficient Permissions",
}
_METHODS = (
    "alipay.system.oauth.token",
    "zhima.credit.score.get",
    "zhima.auth.info.authquery",
    "zhima.credit.score.brief.get",
    "zhima.credit.watchlist.brief.get",
)
#: What `SesameSandbox.fail_next` may put before a sub_code ("" = derive it): not 10000.
_FAILURE_CODES = frozenset({""} | set(_MSG) - {"10000"})
_LAYOUT_HINT = "请确认charset参数放在了URL查询字符串中"


# -- keys --------------------------------------------------------------------------------------


class _SeededRandom:
    """A deterministic byte stream (SHAKE-256 of the seed): sandbox keys per seed, not secrets."""

    def __init__(self, label: str) -> None:
        self._label = label.encode("utf-8")
        self._counter = 0

    def __call__(self, n: int) -> bytes:
        self._counter += 1
        return hashlib.shake_256(self._label + self._counter.to_bytes(8, "big")).digest(n)


@functools.lru_cache(maxsize=16)
def _seeded_key(seed: int, role: str) -> RSA.RsaKey:
    # Generating 2048-bit keys costs ~0.1-1 s; cached per (seed, role) within the process.
    return RSA.generate(2048, randfunc=_SeededRandom(f"creditsdk-sesame-sandbox:{seed}:{role}"))


def _pem(key: RSA.RsaKey, *, private: bool) -> str:
    if private:
        return key.export_key("PEM", pkcs=1).decode(
            "ascii"
        )  # "RSA PRIVATE KEY", like Alipay's tool
    return key.public_key().export_key("PEM").decode("ascii")  # X.509 "PUBLIC KEY"


def _import(value: str, what: str) -> RSA.RsaKey:
    text = value.strip()
    if "-----BEGIN" not in text:
        text = base64.b64decode("".join(text.split()))  # type: ignore[assignment]
    try:
        return RSA.import_key(text)
    except (ValueError, IndexError, TypeError):
        raise ConfigurationError(f"sandbox option {what} is not an RSA key") from None


#: Charsets in which ASCII bytes are ASCII text (so an ASCII form decodes the same per value).
_ASCII_SUPERSETS = frozenset({"utf-8", "gbk", "gb2312", "gb18030", "latin-1", "ascii", "big5"})


def _first_values(source: str) -> tuple[dict[str, str], str]:
    """``{key: first value}`` of a form (blank values kept) and its first non-blank
    ``charset`` (parse_qs without blanks is how the gateway finds the charset)."""
    first: dict[str, str] = {}
    charset = ""
    for key, value in parse_qsl(source, keep_blank_values=True, encoding="latin-1"):
        first.setdefault(key, value)
        if key == "charset" and not charset:
            charset = value
    return first, charset


def _in_charset(values: dict[str, str], charset: str) -> dict[str, str]:
    """Latin-1-decoded form text re-decoded in ``charset`` (errors replaced, as parse_qs)."""

    def dec(text: str) -> str:
        return text if text.isascii() else text.encode("latin-1").decode(charset, "replace")

    out: dict[str, str] = {}
    for key, value in values.items():
        out.setdefault(dec(key), dec(value))
    return out


class _AnswerSigner:
    """Signs the gateway's answers: OpenSSL (the ``cryptography`` package) when it is installed,
    pycryptodome otherwise. PKCS#1 v1.5 is deterministic, so both give the same bytes; OpenSSL
    is ~4x faster, which keeps the sandbox's share of every call (and of the benchmarks that
    compare clients against it) small."""

    def __init__(self, key: RSA.RsaKey) -> None:
        self._key = key
        self._openssl: Any = None
        try:
            from cryptography.hazmat.primitives import serialization
        except ImportError:
            return
        self._openssl = serialization.load_der_private_key(key.export_key("DER"), password=None)

    def sign(self, message: bytes, *, sha1: bool) -> bytes:
        if self._openssl is not None:
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import padding

            algorithm = hashes.SHA1() if sha1 else hashes.SHA256()
            return bytes(self._openssl.sign(message, padding.PKCS1v15(), algorithm))
        return pkcs1_15.new(self._key).sign((SHA1 if sha1 else SHA256).new(message))


# -- state -------------------------------------------------------------------------------------


@attrs.define
class SesameUser:
    """An Alipay user in the sandbox. ``score`` None means Zhima answers "N/A"."""

    user_id: str
    score: int | None
    id_card: str | None = None
    authorized: bool = False


@attrs.define
class _Code:
    user_id: str
    expires_at: _dt.datetime
    used: bool = False


@attrs.define
class _Token:
    user_id: str
    expires_at: _dt.datetime
    valid: bool = True


class _GatewayError(Exception):
    def __init__(self, code: str, sub_code: str, sub_msg: str, *, as_error: bool = False) -> None:
        super().__init__(sub_code)
        self.code, self.sub_code, self.sub_msg, self.as_error = code, sub_code, sub_msg, as_error


class SesameSandbox(ProviderSandboxBase["SesameClient", "AsyncSesameClient"]):
    """The sandbox's Sesame side. Options (``Sandbox(options={"sesame": {...}})``):

    ``app_id``; ``app_private_key`` / ``app_public_key`` / ``alipay_private_key`` (PEM or base64;
    generated per seed when absent); ``encrypt_key`` (base64 AES key for ``encrypt_type=AES``);
    ``timestamp_tolerance`` (seconds, default 900; None disables the check); ``code_ttl``
    (default 300), ``token_ttl`` (86400), ``refresh_ttl`` (2592000); ``default_score``;
    ``balance`` (unlimited by default; once used up, billed methods answer 40004
    ``ZMCREDIT.no_valid_arrangement`` "合约已被冻结" [I]: Alipay documents no balance code).
    ``fail_next``, ``balance`` and ``ledger`` come from `ProviderSandboxBase`; scores and
    watchlist levels are set per user / ID number (`set_score`, `set_watchlist`), not pinned.
    """

    name = "sesame"

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        opts = ctx.options
        seed = ctx.seed
        self.app_id: str = str(opts.get("app_id", f"2021{_digits(seed, 'app', 12)}"))
        if "app_private_key" in opts:
            app_key = _import(str(opts["app_private_key"]), "app_private_key")
        else:
            app_key = _seeded_key(seed, "app")
        if "app_public_key" in opts:
            self._app_public = _import(str(opts["app_public_key"]), "app_public_key")
        else:
            self._app_public = app_key.public_key()
        self._app_private = app_key if app_key.has_private() else None
        if "alipay_private_key" in opts:
            self._alipay_key = _import(str(opts["alipay_private_key"]), "alipay_private_key")
        else:
            self._alipay_key = _seeded_key(seed, "alipay")
        self._signer = _AnswerSigner(self._alipay_key)
        self._verifier: tuple[RSA.RsaKey, RsaVerifier] | None = None
        self.encrypt_key: str = str(
            opts.get(
                "encrypt_key",
                base64.b64encode(hashlib.sha256(f"aes:{seed}".encode()).digest()[:16]).decode(),
            )
        )
        self._aes = base64.b64decode(self.encrypt_key)
        self.timestamp_tolerance: float | None = opts.get("timestamp_tolerance", 900)
        self.code_ttl = float(opts.get("code_ttl", 300))
        self.token_ttl = int(opts.get("token_ttl", 86400))
        self.refresh_ttl = int(opts.get("refresh_ttl", 2592000))
        self._default_score = opts.get("default_score")
        self.require_query_charset = bool(opts.get("require_query_charset", True))
        self.cert_mode = bool(opts.get("cert_mode", False))
        self._chain: _Chain | None = (
            _Chain.issue(seed, app_key.public_key(), self._alipay_key) if self.cert_mode else None
        )
        self._watchlist: dict[str, int | None] = {}
        self._offset = _dt.timedelta(0)
        self._counter = 0
        self.users: dict[str, SesameUser] = {}
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, _Token] = {}
        self._refresh: dict[str, _Token] = {}
        self._answers: dict[tuple[str, str], tuple[_dt.datetime, dict[str, Any]]] = {}
        self.default_user_id = self.add_user()

    # -- what tests and users see -------------------------------------------------------------

    @property
    def app_private_key(self) -> str:
        """PKCS#1 PEM of the app's private key (what the client signs with)."""
        if self._app_private is None:
            raise ConfigurationError("the sandbox was given only the app's public key")
        return _pem(self._app_private, private=True)

    @property
    def app_public_key(self) -> str:
        return _pem(self._app_public, private=False)

    @property
    def alipay_public_key(self) -> str:
        """The key the sandbox's answers verify with (Alipay's public key)."""
        return _pem(self._alipay_key, private=False)

    @property
    def app_cert(self) -> str:
        """Certificate mode: the app's certificate (PEM), like appCertPublicKey_*.crt."""
        return self._need_chain().app_pem

    @property
    def alipay_cert(self) -> str:
        """Certificate mode: Alipay's certificate + issuer (PEM), like alipayCertPublicKey_RSA2"""
        return self._need_chain().alipay_pem

    @property
    def alipay_root_cert(self) -> str:
        """Certificate mode: the root bundle (PEM; two RSA roots and an ECDSA one)."""
        return self._need_chain().root_pem

    @property
    def alipay_cert_sn(self) -> str:
        return self._need_chain().alipay_sn

    def _need_chain(self) -> _Chain:
        if self._chain is None:
            raise ConfigurationError(
                "the sandbox runs in public-key mode: "
                "Sandbox(options={'sesame': {'cert_mode': True}})"
            )
        return self._chain

    def set_watchlist(self, id_card: str, level: int | None) -> None:
        """The watchlist level (0-3, or None for "N/A") answered for this ID number."""
        with self._lock:
            self._watchlist[id_card.strip().upper()] = level

    def fail_next(
        self,
        code: int | str,
        /,
        *,
        times: int = 1,
        message: str | None = None,
        **deprecated: Any,
    ) -> None:
        """The next ``times`` authenticated calls fail with the sub_code ``code`` (not billed),
        e.g. ``isv.app-call-limited`` (rate limit) or ``ZMCREDIT.no_valid_arrangement``;
        ``message`` is the ``sub_msg`` (default: the sub_code). The gateway ``code`` follows
        from the sub_code's prefix (see `gateway_code`).

        Deprecated: ``code="40002"`` (the gateway code, now derived) and ``sub_msg=`` (now
        ``message=``), the keywords of 0.x; they still work, with a DeprecationWarning.
        """
        unknown = sorted(set(deprecated) - {"code", "sub_msg"})
        if unknown:
            raise TypeError(f"fail_next() got unexpected keyword arguments {unknown}")
        if deprecated:
            warnings.warn(
                "SesameSandbox.fail_next(code=..., sub_msg=...) is deprecated: the gateway code "
                "follows from the sub_code, and the sub_msg is message=",
                DeprecationWarning,
                stacklevel=2,
            )
            message = message or deprecated.get("sub_msg") or None
        if "code" in deprecated:
            code = f"{deprecated['code']} {code}"
        super().fail_next(code, times=times, message=message)

    def _failure(self, code: int | str, message: str | None) -> InjectedFailure:
        text = str(code).strip() if isinstance(code, str) else ""
        gateway, _, sub_code = text.rpartition(" ")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.\-]*", sub_code) or gateway not in _FAILURE_CODES:
            raise ConfigurationError(
                f"fail_next({code!r}): a Sesame sub_code, e.g. 'isv.app-call-limited'"
            )
        return InjectedFailure(f"{gateway or gateway_code(sub_code)} {sub_code}", message)

    @property
    def gateway_url(self) -> str:
        return self._ctx.base_url + GATEWAY_PATH

    @property
    def authorize_url(self) -> str:
        return self._ctx.base_url + AUTHORIZE_PATH

    def now(self) -> _dt.datetime:
        """The sandbox's clock for expiries and the 24 h dedupe window (see `advance`)."""
        return _dt.datetime.now(_dt.timezone.utc) + self._offset

    def advance(self, seconds: float) -> None:
        """Move the expiry clock forward (codes, tokens, dedupe window); not the signature
        timestamp window, which follows the real clock as Alipay's does."""
        with self._lock:
            self._offset += _dt.timedelta(seconds=seconds)

    def add_user(
        self,
        user_id: str | None = None,
        *,
        score: int | str | None = "auto",
        id_card: str | None = None,
    ) -> str:
        """Create a user (deterministic id and score per seed unless given); returns its id."""
        with self._lock:
            if user_id is None:
                user_id = "2088" + _digits(self._ctx.seed, f"user:{len(self.users)}", 12)
            if score == "auto":
                score = self._default_score or 350 + int(_digits(self._ctx.seed, user_id, 6)) % 601
            self.users[user_id] = SesameUser(user_id, score, id_card)  # type: ignore[arg-type]
            return user_id

    def set_score(self, user_id: str, score: int | None) -> None:
        """Set a user's score; ``None`` makes Zhima answer "N/A"."""
        with self._lock:
            self._user(user_id).score = score

    def revoke(self, user_id: str) -> None:
        """The user withdraws the authorization: score calls now fail with authentication_fail."""
        with self._lock:
            self._user(user_id).authorized = False

    def approve(self, url: str, *, user_id: str | None = None, id_card: str | None = None) -> str:
        """The user agrees on the authorization page; returns the URL the browser goes to."""
        params = self._authorize_params(url)
        with self._lock:
            uid = user_id or self.default_user_id
            if uid not in self.users:
                self.add_user(uid, id_card=id_card)
            user = self.users[uid]
            if id_card is not None:
                user.id_card = id_card
            user.authorized = True
            code = self._new_secret("code")
            self._codes[code] = _Code(uid, self.now() + _dt.timedelta(seconds=self.code_ttl))
        return _redirect(
            params,
            {"app_id": self.app_id, "source": "alipay_wallet", "scope": params["scope"],
             "auth_code": code, "state": params.get("state", "")},
        )  # fmt: skip

    def deny(self, url: str) -> str:
        """The user declines; the redirect carries ``error=access_denied`` and no code."""
        params = self._authorize_params(url)
        return _redirect(
            params,
            {"app_id": self.app_id, "scope": params["scope"], "error": "access_denied",
             "error_description": "user cancelled", "state": params.get("state", "")},
        )  # fmt: skip

    def routes(self) -> list[Route]:
        return [
            Route.of(["POST", "GET"], GATEWAY_PATH, self._gateway),
            Route.of(["GET", "POST"], AUTHORIZE_PATH, self._authorize_page),
        ]

    def client_classes(self) -> tuple[type[SesameClient], type[AsyncSesameClient]]:
        from .client import AsyncSesameClient, SesameClient

        return SesameClient, AsyncSesameClient

    def client_defaults(self) -> dict[str, Any]:
        keys: dict[str, Any] = (
            {"app_cert": self.app_cert, "alipay_cert": self.alipay_cert,
             "alipay_root_cert": self.alipay_root_cert}
            if self.cert_mode
            else {"alipay_public_key": self.alipay_public_key}
        )  # fmt: skip
        return {
            "app_id": self.app_id,
            "app_private_key": self.app_private_key,
            **keys,
            "gateway_url": self.gateway_url,
            "authorize_url": self.authorize_url,
        }

    def __repr__(self) -> str:
        return f"SesameSandbox(app_id={self.app_id!r}, users={len(self.users)})"

    # -- internals ----------------------------------------------------------------------------

    def _user(self, user_id: str) -> SesameUser:
        try:
            return self.users[user_id]
        except KeyError:
            raise ConfigurationError(f"no sandbox user {user_id!r}") from None

    def _new_secret(self, kind: str) -> str:
        self._counter += 1
        digest = hashlib.sha256(f"{self._ctx.seed}:{kind}:{self._counter}".encode()).hexdigest()
        prefix = {"code": "", "access": "authusrB", "refresh": "authusrB"}[kind]
        return prefix + digest[:32]

    def _authorize_params(self, url: str) -> dict[str, str]:
        params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        if params.get("app_id") != self.app_id:
            raise ConfigurationError("authorization URL is for another app_id")
        if not params.get("redirect_uri"):
            raise ConfigurationError("authorization URL has no redirect_uri")
        if "auth_zhima" not in params.get("scope", "").split(","):
            raise ConfigurationError("authorization URL does not ask for scope auth_zhima")
        return params

    def _authorize_page(self, req: SandboxRequest) -> SandboxResponse:
        url = "?" + req.query_string
        try:
            self._authorize_params(url)
        except ConfigurationError as exc:
            return SandboxResponse.text(f"invalid authorization request: {exc}", 400)
        if req.method == "POST":
            decision = (req.form().get("decision") or [""])[0]
            target = self.approve(url) if decision == "approve" else self.deny(url)
            return SandboxResponse.redirect(target)
        action = html.escape(AUTHORIZE_PATH + url)
        page = (
            "<!doctype html><title>Sandbox · 芝麻信用授权</title>"
            "<p>The app asks to read your Zhima score (sandbox).</p>"
            f'<form method="post" action="{action}">'
            '<button name="decision" value="approve">同意授权 / Approve</button> '
            '<button name="decision" value="deny">取消 / Deny</button></form>'
        )
        return SandboxResponse.text(page, content_type="text/html")

    # -- the gateway --------------------------------------------------------------------------

    def _gateway(self, req: SandboxRequest) -> SandboxResponse:
        # Each source parsed once with every byte kept as one character (latin-1): the charset
        # the caller declared (ASCII, so any 8-bit decoding finds it), the URL's first.
        body = req.body.decode("latin-1") if req.method == "POST" else ""
        (query, charset), (form, form_charset) = (
            _first_values(req.query_string),
            _first_values(body),
        )
        in_query = bool(charset)
        charset = charset or form_charset or "utf-8"
        try:
            "".encode(charset)
        except LookupError:
            charset = "utf-8"
        codec = codecs.lookup(charset).name
        if not (req.query_string.isascii() and body.isascii() and codec in _ASCII_SUPERSETS):
            # Raw 8-bit bytes, or a charset where ASCII is not itself: decode as parse_qs does.
            sources = [
                {
                    k: v[0]
                    for k, v in parse_qs(
                        source, keep_blank_values=True, encoding=charset, errors="replace"
                    ).items()
                }
                for source in (req.query_string, body)
            ]
        else:  # "%XX" runs are the only non-ASCII: the same text as parse_qs in the charset
            sources = [_in_charset(query, charset), _in_charset(form, charset)]
        params: dict[str, str] = {}
        for values in sources:
            for key, value in values.items():
                if key in params and params[key] != value:
                    return self._answer("", {}, _GatewayError(
                        "40002", "isv.invalid-parameter", f"参数{key}重复且不一致", as_error=True
                    ), encrypted=False, charset=charset)  # fmt: skip
                params[key] = value
        method = params.get("method", "")
        if self.require_query_charset and not in_query:
            # As the real gateway: the signature check fails, the answer comes in GBK.
            return self._answer(method, {}, _GatewayError(
                "40002", "isv.invalid-signature", f"验签出错，{_LAYOUT_HINT}", as_error=True
            ), encrypted=False, charset="GBK")  # fmt: skip
        encrypted = params.get("encrypt_type", "").upper() == "AES"
        # Answers are signed with the request's algorithm (RSA → SHA1withRSA, else RSA2).
        sha1 = params.get("sign_type", "").upper() == "RSA"
        try:
            biz = self._authenticate(params)
            handler = {
                "alipay.system.oauth.token": self._oauth_token,
                "zhima.credit.score.get": self._score_get,
                "zhima.auth.info.authquery": self._authquery,
                "zhima.credit.score.brief.get": self._brief_get,
                "zhima.credit.watchlist.brief.get": self._watchlist_get,
            }[method]
            with self._lock:
                failure = self._next_failure()
                if failure is not None:
                    code, _, sub_code = str(failure.code).partition(" ")
                    raise _GatewayError(code, sub_code, failure.message or sub_code)
                answer = handler(params, biz)
        except _GatewayError as err:
            return self._answer(method, {}, err, encrypted=encrypted, sha1=sha1, charset=charset)
        return self._answer(method, answer, None, encrypted=encrypted, sha1=sha1, charset=charset)

    def _authenticate(self, params: dict[str, str]) -> dict[str, Any]:
        for name in ("app_id", "method", "sign_type", "timestamp", "version"):
            if not params.get(name):
                raise _GatewayError("40001", f"isv.missing-{name.replace('_', '-')}", f"缺少{name}")
        if not params.get("sign"):
            raise _GatewayError("40001", "isv.missing-signature", "缺少签名参数")
        if params["app_id"] != self.app_id:
            raise _GatewayError("40002", "isv.invalid-app-id", "无效的AppID参数")
        if params["method"] not in _METHODS:
            raise _GatewayError("40002", "isv.invalid-method", "不存在的方法名", as_error=True)
        sign_type = params["sign_type"].upper()
        if sign_type not in ("RSA2", "RSA"):
            raise _GatewayError("40002", "isv.invalid-signature-type", "无效的签名类型")
        if self._chain is not None:
            if params.get("app_cert_sn") != self._chain.app_sn:
                raise _GatewayError("40002", "isv.invalid-app-cert-sn", "应用公钥证书序列号不匹配")
            if params.get("alipay_root_cert_sn") != self._chain.root_sn:
                raise _GatewayError(
                    "40002", "isv.invalid-alipay-root-cert-sn", "支付宝根证书序列号不匹配"
                )
        content = "&".join(
            f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] != ""
        )
        charset = params.get("charset") or "utf-8"
        try:
            signed = content.encode(charset)
        except (LookupError, UnicodeEncodeError):
            raise _GatewayError("40002", "isv.invalid-charset", "字符集不合法") from None
        try:
            signature = base64.b64decode(params["sign"])
        except (ValueError, TypeError):
            signature = b""
        if not self._request_verifier().verify(signed, signature, sha1=sign_type != "RSA2"):
            raise _GatewayError("40002", "isv.invalid-signature", "验签出错")
        if self.timestamp_tolerance is not None:
            try:
                sent = _dt.datetime.strptime(params["timestamp"], "%Y-%m-%d %H:%M:%S")
            except ValueError:
                raise _GatewayError("40002", "isv.invalid-timestamp", "非法的时间戳参数") from None
            skew = abs((sent.replace(tzinfo=_CST) - _dt.datetime.now(_CST)).total_seconds())
            if skew > self.timestamp_tolerance:
                raise _GatewayError("40002", "isv.invalid-timestamp", "非法的时间戳参数")
        raw = params.get("biz_content", "")
        if raw and params.get("encrypt_type", "").upper() == "AES":
            try:
                cipher = AES.new(self._aes, AES.MODE_CBC, bytes(16))
                raw = unpad(cipher.decrypt(base64.b64decode(raw)), 16).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise _GatewayError("40002", "isv.decryption-error", "解密出错") from None
        if not raw:
            return {}
        try:
            biz = json.loads(raw)
        except ValueError:
            raise _GatewayError("40002", "isv.invalid-biz-content", "biz_content非法") from None
        if not isinstance(biz, dict):
            raise _GatewayError("40002", "isv.invalid-biz-content", "biz_content非法")
        return biz

    def _request_verifier(self) -> RsaVerifier:
        """Verifies requests against the app's public key: OpenSSL when ``cryptography`` is
        installed (~4x faster than pycryptodome), kept per key."""
        cached = self._verifier
        if cached is None or cached[0] is not self._app_public:
            cached = (self._app_public, RsaVerifier(self._app_public.export_key("DER")))
            self._verifier = cached
        return cached[1]

    def _answer(
        self,
        method: str,
        body: dict[str, Any],
        err: _GatewayError | None,
        *,
        encrypted: bool,
        sha1: bool = False,
        charset: str = "utf-8",
    ) -> SandboxResponse:
        if err is not None:
            body = {"code": err.code, "msg": _MSG[err.code], "sub_code": err.sub_code,
                    "sub_msg": err.sub_msg}  # fmt: skip
        key = "error_response" if err is not None and (err.as_error or not method) else (
            method.replace(".", "_") + "_response"
        )  # fmt: skip
        value = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        if encrypted and err is None:
            cipher = AES.new(self._aes, AES.MODE_CBC, bytes(16))
            blob = cipher.encrypt(pad(value.encode("utf-8"), 16))
            value = json.dumps(base64.b64encode(blob).decode("ascii"))
        try:
            value.encode(charset)
        except (LookupError, UnicodeEncodeError):
            charset = "utf-8"
        signature = base64.b64encode(self._signer.sign(value.encode(charset), sha1=sha1)).decode(
            "ascii"
        )
        cert_sn = "" if self._chain is None else ',"alipay_cert_sn":"' + self._chain.alipay_sn + '"'
        text = '{"' + key + '":' + value + cert_sn + ',"sign":"' + signature + '"}'
        return SandboxResponse(
            200, text.encode(charset), (("Content-Type", f"application/json;charset={charset}"),)
        )

    # -- methods ------------------------------------------------------------------------------

    def _oauth_token(self, params: dict[str, str], _biz: dict[str, Any]) -> dict[str, Any]:
        now = self.now()
        grant_type = params.get("grant_type", "")
        if grant_type == "authorization_code":
            code = self._codes.get(params.get("code", ""))
            if code is None or code.used or code.expires_at <= now:
                raise _GatewayError("40002", "isv.code-invalid", "授权码code无效", as_error=True)
            code.used = True
            user_id = code.user_id
        elif grant_type == "refresh_token":
            old = self._refresh.get(params.get("refresh_token", ""))
            if old is None or not old.valid:
                raise _GatewayError(
                    "40002", "isv.refresh-token-invalid", "刷新令牌refresh_token无效", as_error=True
                )
            if old.expires_at <= now:
                raise _GatewayError(
                    "40002", "isv.refresh-token-time-out", "刷新令牌refresh_token过期",
                    as_error=True,
                )  # fmt: skip
            old.valid = False  # refresh tokens rotate
            user_id = old.user_id
        else:
            raise _GatewayError(
                "40002", "isv.grant-type-invalid", "grant_type参数不正确", as_error=True
            )
        access, refresh = self._new_secret("access"), self._new_secret("refresh")
        self._access[access] = _Token(user_id, now + _dt.timedelta(seconds=self.token_ttl))
        self._refresh[refresh] = _Token(user_id, now + _dt.timedelta(seconds=self.refresh_ttl))
        # No code/msg on success, and the numbers as strings: both seen from the real gateway.
        return {
            "access_token": access,
            "alipay_user_id": "2088" + user_id[4:],
            "expires_in": str(self.token_ttl),
            "re_expires_in": str(self.refresh_ttl),
            "refresh_token": refresh,
            "user_id": user_id,
        }

    def _txn(self, biz: Mapping[str, Any]) -> str:
        txn = biz.get("transaction_id")
        if not isinstance(txn, str) or not _TXN.fullmatch(txn):
            raise _GatewayError("40004", "ZMCREDIT.transaction_id_invalid", "transaction_id不合法")
        if not biz.get("product_code"):
            raise _GatewayError("40001", "isv.missing-product-code", "缺少product_code")
        return txn

    def _repeat(self, method: str, txn: str) -> dict[str, Any] | None:
        stored = self._answers.get((method, txn))
        if stored is not None and self.now() - stored[0] < _dt.timedelta(hours=24):
            return stored[1]
        return None

    def _biz_no(self, txn: str) -> str:
        return "ZM" + hashlib.sha256(f"{self._ctx.seed}:biz:{txn}".encode()).hexdigest()[:30]

    def _score_get(self, params: dict[str, str], biz: dict[str, Any]) -> dict[str, Any]:
        token = self._access.get(params.get("auth_token", ""))
        if token is None or not token.valid:
            raise _GatewayError("20001", "aop.invalid-auth-token", "无效的访问令牌")
        if token.expires_at <= self.now():
            raise _GatewayError("20001", "aop.auth-token-time-out", "访问令牌已过期")
        txn = self._txn(biz)
        again = self._repeat("score", txn)
        if again is not None:
            return again
        user = self.users[token.user_id]
        if not user.authorized:
            raise _GatewayError("40004", "ZMCREDIT.authentication_fail", "用户已取消授权")
        body = {
            "code": "10000",
            "msg": "Success",
            "biz_no": self._biz_no(txn),
            "zm_score": "N/A" if user.score is None else str(user.score),
        }
        return self._settle(
            "score",
            "zhima.credit.score.get",
            txn,
            body,
            product_code=str(biz["product_code"]),
            user_id=mask_user_id(user.user_id),
            result="N/A" if user.score is None else "scored",
        )

    def _settle(
        self, kind: str, method: str, txn: str, body: dict[str, Any], **details: Any
    ) -> dict[str, Any]:
        """Bill an answer and keep it for repeats of ``txn``; refused once the balance is out."""
        if not self._spend():
            raise _GatewayError("40004", "ZMCREDIT.no_valid_arrangement", "合约已被冻结")
        self._answers[(kind, txn)] = (self.now(), body)
        self._bill(method, txn, **details)
        return body

    def _certified(self, kind: str, biz: dict[str, Any]) -> tuple[str, str, dict[str, Any] | None]:
        """The transaction id and ID number of a brief query, and the answer of a repeat."""
        txn = self._txn(biz)
        again = self._repeat(kind, txn)
        if again is not None:
            return txn, "", again
        cert = str(biz.get("cert_no", ""))
        if biz.get("cert_type") != "IDENTITY_CARD" or not _CERT.fullmatch(cert):
            raise _GatewayError("40004", "ZMCREDIT.cert_no_invalid", "证件号码不合法")
        if not biz.get("name"):
            raise _GatewayError("40001", "isv.missing-name", "缺少name")
        return txn, cert, None

    def _authquery(self, _params: dict[str, str], biz: dict[str, Any]) -> dict[str, Any]:
        kind = str(biz.get("identity_type", ""))
        try:
            ident = json.loads(biz.get("identity_param") or "{}")
        except ValueError:
            raise _GatewayError("40002", "isv.invalid-parameter", "identity_param非法") from None
        if kind == "2":  # certificate number + name + certificate type
            matches = [u for u in self.users.values() if u.id_card == ident.get("certNo")]
        elif kind == "5":  # Alipay user id (Java ZhimaAuthInfoAuthqueryModel)
            matches = [u for u in self.users.values() if u.user_id == ident.get("userId")]
        else:
            raise _GatewayError("40004", "ZMCREDIT.identity_type_invalid", "identity_type不支持")
        authorized = [u for u in matches if u.authorized]
        out: dict[str, Any] = {"code": "10000", "msg": "Success", "authorized": bool(authorized)}
        if authorized:
            out["open_id"] = "0" + hashlib.sha256(authorized[0].user_id.encode()).hexdigest()[:31]
        return out

    def _brief_get(self, _params: dict[str, str], biz: dict[str, Any]) -> dict[str, Any]:
        txn, cert, again = self._certified("brief", biz)
        if again is not None:
            return again
        if "admittance_score" not in biz:
            raise _GatewayError("40001", "isv.missing-admittance-score", "缺少admittance_score")
        try:
            threshold = int(biz["admittance_score"])
        except (ValueError, TypeError):
            raise _GatewayError(
                "40004", "ZMCREDIT.admittance_score_invalid", "admittance_score不合法"
            ) from None
        known = [u for u in self.users.values() if u.id_card == cert]
        score = known[0].score if known else 350 + int(_digits(self._ctx.seed, cert, 6)) % 601
        flag = "N/A" if score is None else ("Y" if score >= threshold else "N")
        body = {
            "code": "10000",
            "msg": "Success",
            "biz_no": self._biz_no(txn),
            "is_admittance": flag,
        }
        return self._settle(
            "brief",
            "zhima.credit.score.brief.get",
            txn,
            body,
            product_code=str(biz["product_code"]),
            cert_no=mask_id_card(cert),
            admittance_score=threshold,
            result=flag,
        )

    def _watchlist_get(self, _params: dict[str, str], biz: dict[str, Any]) -> dict[str, Any]:
        txn, cert, again = self._certified("watchlist", biz)
        if again is not None:
            return again
        if cert in self._watchlist:
            level = self._watchlist[cert]
        else:  # most people are not on it
            draw = int(_digits(self._ctx.seed, f"watch:{cert}", 4))
            level = 0 if draw < 8500 else 1 + draw % 3
        flag = "N/A" if level is None else str(level)
        body = {"code": "10000", "msg": "Success", "biz_no": self._biz_no(txn), "level": flag}
        return self._settle(
            "watchlist",
            "zhima.credit.watchlist.brief.get",
            txn,
            body,
            product_code=str(biz["product_code"]),
            cert_no=mask_id_card(cert),
            result=flag,
        )


@attrs.frozen
class _Chain:
    """A throwaway certificate chain for certificate mode (the ``cryptography`` package)."""

    app_pem: str
    alipay_pem: str
    root_pem: str
    app_sn: str
    alipay_sn: str
    root_sn: str

    @classmethod
    def issue(cls, seed: int, app_public: RSA.RsaKey, alipay_key: RSA.RsaKey) -> _Chain:
        try:
            from cryptography import x509
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec
            from cryptography.x509.oid import NameOID
        except ImportError:
            raise ConfigurationError(
                "sandbox cert_mode needs the 'cryptography' package: "
                "pip install 'creditsdk[cryptography]'"
            ) from None

        def name(cn: str, ou: str = "Certification Authority") -> Any:
            return x509.Name([
                x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Sandbox Ant Financial"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
            ])  # fmt: skip

        def load(key: RSA.RsaKey) -> Any:
            return serialization.load_der_private_key(key.export_key("DER"), password=None)

        def public(key: RSA.RsaKey) -> Any:
            return serialization.load_der_public_key(key.public_key().export_key("DER"))

        ca_key = load(_seeded_key(seed, "ca"))
        start = _dt.datetime(2020, 1, 1, tzinfo=_dt.timezone.utc)
        end = _dt.datetime(2045, 1, 1, tzinfo=_dt.timezone.utc)

        def serial(label: str) -> int:
            return int(_digits(seed, f"serial:{label}", 18)) + 1

        def build(subject: Any, issuer: Any, key: Any, label: str, signer: Any, algo: Any,
                  ca: bool) -> Any:  # fmt: skip
            return (
                x509.CertificateBuilder()
                .subject_name(subject)
                .issuer_name(issuer)
                .public_key(key)
                .serial_number(serial(label))
                .not_valid_before(start)
                .not_valid_after(end)
                .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                .sign(signer, algo)
            )

        root_name = name("Sandbox Ant Financial Certification Authority R1")
        root = build(root_name, root_name, ca_key.public_key(), "root", ca_key, hashes.SHA256(),
                     True)  # fmt: skip
        old_name = name("Sandbox iTrusChina Class 2 Root CA - G3", "China Trust Network")
        # (the real bundle's second RSA root is sha1WithRSA; cryptography no longer signs SHA-1)
        old_root = build(old_name, old_name, ca_key.public_key(), "old", ca_key, hashes.SHA256(),
                         True)  # fmt: skip
        ec_key = ec.derive_private_key(int(_digits(seed, "ec", 30)) + 1, ec.SECP256R1())
        ec_name = name("Sandbox Ant Financial Certification Authority E1")
        ec_root = build(ec_name, ec_name, ec_key.public_key(), "ec", ec_key, hashes.SHA256(), True)
        app = build(name("2088000000000000", "Alipay"), root_name, public(app_public), "app",
                    ca_key, hashes.SHA256(), False)  # fmt: skip
        alipay = build(name("支付宝(中国)网络技术有限公司-Sandbox", "Alipay"), root_name,
                       public(alipay_key), "alipay", ca_key, hashes.SHA256(), False)  # fmt: skip

        def pem(*certs: Any) -> str:
            return "".join(
                c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in certs
            )

        def sn(cert: Any) -> str:
            # Written from the rule (md5 of the RFC 4514 issuer string + decimal serial), not
            # with the client's code.
            text = cert.issuer.rfc4514_string() + str(cert.serial_number)
            return hashlib.md5(text.encode("utf-8")).hexdigest()

        return cls(
            app_pem=pem(app),
            alipay_pem=pem(alipay, root),
            root_pem=pem(root, ec_root, old_root),
            app_sn=sn(app),
            alipay_sn=sn(alipay),
            root_sn=f"{sn(root)}_{sn(old_root)}",
        )


def gateway_code(sub_code: str) -> str:
    """The gateway ``code`` that goes with a ``sub_code``, by Alipay's public error-code table
    [I]: ``isp.*`` 20000, ``aop.*`` 20001, ``isv.missing-*`` 40001, ``isv.insufficient-*``
    40006, other ``isv.*`` 40002, anything else (``ZMCREDIT.*``, ...) 40004."""
    if sub_code.startswith("isp."):
        return "20000"
    if sub_code.startswith("aop."):
        return "20001"
    if sub_code.startswith("isv.missing-"):
        return "40001"
    if sub_code.startswith("isv.insufficient-"):
        return "40006"
    return "40002" if sub_code.startswith("isv.") else "40004"


def _digits(seed: int, label: str, n: int) -> str:
    value = int.from_bytes(hashlib.sha256(f"{seed}:{label}".encode()).digest()[:8], "big")
    return f"{value % 10**n:0{n}d}"


def _redirect(params: Mapping[str, str], extra: Mapping[str, str]) -> str:
    target = urlsplit(params["redirect_uri"])
    query = "&".join(q for q in (target.query, urlencode(extra)) if q)
    return urlunsplit((target.scheme, target.netloc, target.path, query, target.fragment))


def create_sandbox(ctx: SandboxContext) -> SesameSandbox:
    return SesameSandbox(ctx)

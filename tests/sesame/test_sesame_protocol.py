"""Pure protocol: signing content, wire layout, raw-text extraction, keys, redirect, codes."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.PublicKey import RSA
from Crypto.Signature import pkcs1_15
from Crypto.Util.Padding import unpad

from creditsdk._core.executors import as_httpx
from creditsdk.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidInputError,
    ProductNotEnabledError,
    ProviderError,
    ResponseIntegrityError,
)
from creditsdk.sesame import (
    AuthorizationDeniedError,
    AuthorizationRevokedError,
    Grant,
    SesameScore,
)
from creditsdk.sesame import _protocol as p


def _config(app_key: RSA.RsaKey, alipay_key: RSA.RsaKey, **kw: object) -> p.SesameConfig:
    args: dict[str, object] = {
        "app_id": "2021000000000001",
        "app_private_key": app_key.export_key().decode(),
        "alipay_public_key": alipay_key.public_key().export_key().decode(),
        "gateway_url": "https://gw.example/gateway.do",
        "authorize_url": "https://auth.example/oauth2/publicAppAuthorize.htm",
    }
    args.update(kw)
    return p.SesameConfig.load(**args)  # type: ignore[arg-type]


def _body(pem: bytes) -> str:
    return "".join(line for line in pem.decode().splitlines() if "-----" not in line)


# -- signing ------------------------------------------------------------------------------------


def test_sign_content_sorts_skips_empty_and_sign_and_does_not_url_encode() -> None:
    params = {
        "method": "zhima.credit.score.get",
        "app_id": "1",
        "notify_url": "",
        "auth_token": None,
        "sign": "ignored",
        "biz_content": '{"a":"b c&d"}',
    }
    assert p.sign_content(params) == (
        'app_id=1&biz_content={"a":"b c&d"}&method=zhima.credit.score.get'
    )


def test_timestamp_is_beijing_time_whatever_the_clock_zone() -> None:
    utc = dt.datetime(2026, 1, 1, 20, 30, 0, tzinfo=dt.timezone.utc)
    assert p.beijing_timestamp(utc) == "2026-01-02 04:30:00"
    ny = utc.astimezone(dt.timezone(dt.timedelta(hours=-5)))
    assert p.beijing_timestamp(ny) == "2026-01-02 04:30:00"
    assert p.beijing_timestamp(utc.replace(tzinfo=None)) == "2026-01-02 04:30:00"


def test_request_layout_is_the_official_sdks(
    app_key: RSA.RsaKey, alipay_key: RSA.RsaKey, fixed_clock: Callable[[], dt.datetime]
) -> None:
    """Common params + sign in the URL query, biz_content and the method's own params in the
    body (alipay-sdk-python DefaultAlipayClient; a body-only POST fails on the real gateway)."""
    config = _config(app_key, alipay_key, clock=fixed_clock)
    params = p.signed_params(
        config,
        "zhima.credit.score.get",
        biz={"transaction_id": "t_1", "product_code": "w1"},
        auth_token="authusrBtok",
        top_level={"notify_url": "", "grant_type": "authorization_code"},
    )
    request = as_httpx(p.build_request(config, params))
    assert request.method == "POST"
    query = dict(parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True))
    body = dict(parse_qsl(request.content.decode("ascii"), keep_blank_values=True))
    assert set(query) == {"app_id", "method", "format", "charset", "sign_type", "timestamp",
                          "version", "auth_token", "sign"}  # fmt: skip
    assert set(body) == {"biz_content", "grant_type"}
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    sent = {**query, **body}
    assert "notify_url" not in sent  # an empty optional is neither signed nor sent
    assert query["charset"] == "utf-8"
    assert sent["timestamp"] == "2026-01-01 08:00:05"
    assert json.loads(sent["biz_content"]) == {"transaction_id": "t_1", "product_code": "w1"}
    assert (sent["sign_type"], sent["version"], sent["format"]) == ("RSA2", "1.0", "JSON")
    # Independent check of the signature with pycryptodome
    content = "&".join(f"{k}={sent[k]}" for k in sorted(sent) if k != "sign")
    pkcs1_15.new(app_key.public_key()).verify(
        SHA256.new(content.encode()), base64.b64decode(sent["sign"])
    )


def test_no_auth_token_param_when_not_given(app_key: RSA.RsaKey, alipay_key: RSA.RsaKey) -> None:
    params = p.signed_params(_config(app_key, alipay_key), "alipay.system.oauth.token")
    assert "auth_token" not in params
    assert "biz_content" not in params


def test_aes_biz_content_follows_the_spec(app_key: RSA.RsaKey, alipay_key: RSA.RsaKey) -> None:
    # (The official SDK's own AES helper passes its IV as a str, which current pycryptodome
    # refuses, so the spec is checked with pycryptodome directly: CBC, zero IV, PKCS#7.)
    key = bytes(range(16))
    params = p.signed_params(
        _config(app_key, alipay_key, encrypt_key=base64.b64encode(key).decode()),
        "x.y",
        biz={"transaction_id": "t_9", "name": "芝麻"},
    )
    assert params["encrypt_type"] == "AES"
    assert "t_9" not in params["biz_content"]
    cipher = AES.new(key, AES.MODE_CBC, bytes(16))
    plain = unpad(cipher.decrypt(base64.b64decode(params["biz_content"])), 16)
    assert json.loads(plain) == {"transaction_id": "t_9", "name": "芝麻"}


# -- keys ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt",
    ["pkcs1_pem", "pkcs8_pem", "pkcs1_body", "pkcs8_body"],
)
def test_private_key_formats_all_load(
    app_key: RSA.RsaKey, alipay_key: RSA.RsaKey, fmt: str
) -> None:
    pem = app_key.export_key(pkcs=8 if "pkcs8" in fmt else 1)
    value = pem.decode() if fmt.endswith("pem") else _body(pem)
    public = _body(alipay_key.public_key().export_key())
    config = _config(app_key, alipay_key, app_private_key=value, alipay_public_key=public)
    assert config.private_key.n == app_key.n
    assert config.alipay_public_key.n == alipay_key.n


def test_bad_keys_name_which_key(app_key: RSA.RsaKey, alipay_key: RSA.RsaKey) -> None:
    with pytest.raises(ConfigurationError, match="app_private_key"):
        _config(app_key, alipay_key, app_private_key="bm90IGEga2V5")
    with pytest.raises(ConfigurationError, match="alipay_public_key"):
        _config(app_key, alipay_key, alipay_public_key="not base64 !!")


def test_own_public_key_in_place_of_alipays_is_caught(
    app_key: RSA.RsaKey, alipay_key: RSA.RsaKey
) -> None:
    with pytest.raises(ConfigurationError, match="your own app_private_key") as info:
        _config(app_key, alipay_key, alipay_public_key=app_key.public_key().export_key().decode())
    assert "BEGIN" not in str(info.value)


def test_bad_encrypt_key(app_key: RSA.RsaKey, alipay_key: RSA.RsaKey) -> None:
    with pytest.raises(ConfigurationError, match="encrypt_key"):
        _config(app_key, alipay_key, encrypt_key=base64.b64encode(b"short").decode())


# -- raw-text extraction ------------------------------------------------------------------------


def test_spans_are_quote_and_escape_aware() -> None:
    value = '{"msg":"} \\" {\\\\","n":[1,{"x":"]"}],"s":"\\"},\\"sign\\":\\"x"}'
    text = '{ "a_b_response" :' + value + ' , "sign":"SIG"}'
    key, raw, sign = p.extract_signed(text, "a.b")
    assert (key, raw, sign) == ("a_b_response", value, "SIG")


def test_error_response_is_used_when_the_method_member_is_absent() -> None:
    key, raw, _ = p.extract_signed('{"error_response":{"code":"40002"},"sign":"S"}', "a.b")
    assert (key, raw) == ("error_response", '{"code":"40002"}')


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"a_b_response":{"code":"10000"}}', "no signature"),
        ('{"a_b_response":{"code":"10000"},"sign":""}', "empty"),
        ('{"other_response":{},"sign":"S"}', "neither"),
        ('{"a_b_response":{},"a_b_response":{},"sign":"S"}', "repeats"),
        ('{"a_b_response":{', "not valid JSON"),
        ("[1,2]", "not a JSON object"),
    ],
)
def test_malformed_or_unsigned_answers_are_integrity_errors(text: str, match: str) -> None:
    with pytest.raises(ResponseIntegrityError, match=match):
        p.extract_signed(text, "a.b")


def test_spans_of_scalars_and_empty_object() -> None:
    assert p.top_level_spans("{}") == {}
    text = '{"a":1,"b":true,"c":"x","d":null}'
    spans = p.top_level_spans(text)
    assert {k: text[s:e] for k, (s, e) in spans.items()} == {
        "a": "1",
        "b": "true",
        "c": '"x"',
        "d": "null",
    }


# -- authorization URL and redirect -------------------------------------------------------------


def test_authorization_url(app_key: RSA.RsaKey, alipay_key: RSA.RsaKey) -> None:
    url = p.authorization_url(
        _config(app_key, alipay_key), redirect_uri="https://l.example/cb?x=1", state="order-42"
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://auth.example/oauth2/publicAppAuthorize.htm"
    )
    assert parse_qs(parts.query) == {
        "app_id": ["2021000000000001"],
        "scope": ["auth_zhima"],
        "redirect_uri": ["https://l.example/cb?x=1"],
        "state": ["order-42"],
    }
    with pytest.raises(InvalidInputError) as info:
        p.authorization_url(_config(app_key, alipay_key), redirect_uri="/relative", state="s")
    assert info.value.field == "redirect_uri"


def test_parse_redirect_accepts_url_query_or_mapping() -> None:
    url = "https://l.example/cb?app_id=1&auth_code=CODE1&state=s%201"
    assert p.parse_redirect(url, "s 1") == "CODE1"
    assert p.parse_redirect({"auth_code": ["CODE2"], "state": ["s"]}, "s") == "CODE2"
    assert p.parse_redirect({"auth_code": "CODE3", "state": "s"}, "s") == "CODE3"


@pytest.mark.parametrize(
    ("params", "rule", "error"),
    [
        ({"auth_code": "SECRETCODE", "state": "other"}, "state_mismatch", InvalidInputError),
        ({"state": "s"}, "missing_code", InvalidInputError),
        ({"error": "access_denied", "state": "s"}, "user_denied", AuthorizationDeniedError),
    ],
)
def test_parse_redirect_errors(params: dict[str, str], rule: str, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        p.parse_redirect(params, "s")
    assert isinstance(info.value, InvalidInputError)
    assert (info.value.field, info.value.rule) == ("redirect", rule)
    assert "SECRETCODE" not in str(info.value)


# -- codes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected", "not_expected"),
    [
        (
            {"code": "20000", "msg": "Service Currently Unavailable"},
            ProviderError,
            AuthenticationError,
        ),
        ({"code": "20001", "sub_code": "aop.invalid-auth-token"}, AuthenticationError, None),
        ({"code": "40001", "sub_code": "isv.missing-method"}, ProviderError, AuthenticationError),
        ({"code": "40002", "sub_code": "isv.invalid-signature"}, AuthenticationError, None),
        ({"code": "40002", "sub_code": "isv.invalid-app-id"}, AuthenticationError, None),
        ({"code": "40002", "sub_code": "isv.code-invalid"}, AuthenticationError, None),
        (
            {"code": "40002", "sub_code": "isv.invalid-parameter"},
            ProviderError,
            AuthenticationError,
        ),
        ({"code": "40004", "sub_code": "ZMCREDIT.x"}, ProviderError, AuthenticationError),
        (
            {"code": "40004", "sub_code": "ZMCREDIT.authentication_fail"},
            AuthorizationRevokedError,
            None,
        ),
        (
            {"code": "40006", "sub_code": "isv.insufficient-isv-permissions"},
            ProductNotEnabledError,
            None,
        ),
    ],
)
def test_code_table(
    content: dict[str, str], expected: type[Exception], not_expected: type[Exception] | None
) -> None:
    with pytest.raises(expected) as info:
        p.check_success(content, transaction_id="t_1")
    err = info.value
    assert isinstance(err, ProviderError)
    if not_expected is not None:
        assert not isinstance(err, not_expected)
    assert err.code == content["code"]
    assert err.provider == "sesame"
    assert err.transaction_id == "t_1"
    assert getattr(err, "sub_code", None) == content.get("sub_code")


def test_sub_msg_is_masked_in_messages() -> None:
    with pytest.raises(ProviderError) as info:
        p.check_success({"code": "40004", "sub_code": "X", "sub_msg": "证件11010519491231002X有误"})
    assert "11010519491231002X" not in str(info.value)
    assert "110105********002X" in str(info.value)


def test_success_without_code_and_with_10000() -> None:
    p.check_success({"access_token": "x"})
    p.check_success({"code": "10000", "msg": "Success"})
    with pytest.raises(ProviderError):
        p.check_success({"sub_code": "isv.code-invalid"})


# -- ids and models -----------------------------------------------------------------------------


def test_transaction_ids() -> None:
    ids = {p.new_transaction_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(p.check_transaction_id(t) == t and len(t) <= 64 for t in ids)
    for bad in ("", "a-b", "x" * 65, "空"):
        with pytest.raises(InvalidInputError):
            p.check_transaction_id(bad)


def test_grant_masks_tokens_and_round_trips() -> None:
    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    grant = Grant("authusrBSECRETA", "authusrBSECRETR", "2088123456789012", at, at, at)
    assert "SECRET" not in repr(grant)
    assert "2088123456789012" not in repr(grant)
    assert "SECRET" not in json.dumps(grant.to_dict())
    assert Grant.from_dict(grant.to_dict(reveal_tokens=True)) == grant
    assert grant.expired(at)
    assert not grant.expired(at - dt.timedelta(seconds=1))
    assert SesameScore(None, "b", "t").to_dict() == {
        "score": None,
        "biz_no": "b",
        "transaction_id": "t",
    }

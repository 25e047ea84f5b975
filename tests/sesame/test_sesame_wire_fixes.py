"""Issue 12's wire fixes, each with a test that fails on the old client or Sandbox."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Iterator
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
import respx
from Crypto.Hash import SHA256
from Crypto.PublicKey import RSA
from Crypto.Signature import pkcs1_15

from creditsdk import Applicant, Consent, RetryPolicy
from creditsdk._core.executors import as_httpx
from creditsdk.errors import (
    AuthenticationError,
    ProductNotEnabledError,
    RateLimitedError,
    ResponseIntegrityError,
)
from creditsdk.sandbox import Sandbox
from creditsdk.sesame import AsyncSesameClient, SesameClient, WatchlistResult
from creditsdk.sesame import _protocol as p

GW = "https://gw.example/gateway.do"
NO_WAIT = RetryPolicy(max_attempts=3, initial_backoff=0)
WATCH_CODE = "w1010100000000009999"  # the contract's product code (a placeholder here)


def _signed(key: RSA.RsaKey, member: str, value: str, charset: str = "utf-8") -> bytes:
    sig = base64.b64encode(pkcs1_15.new(key).sign(SHA256.new(value.encode(charset)))).decode()
    return ('{"' + member + '":' + value + ',"sign":"' + sig + '"}').encode(charset)


@pytest.fixture
def client(app_key: RSA.RsaKey, alipay_key: RSA.RsaKey, fixed_clock: Callable[[], dt.datetime]):  # type: ignore[no-untyped-def]
    with SesameClient(
        app_id="2021000000000001",
        app_private_key=app_key.export_key().decode(),
        alipay_public_key=alipay_key.public_key().export_key().decode(),
        gateway_url=GW,
        retry=NO_WAIT,
        clock=fixed_clock,
    ) as c:
        yield c


def _params(request: httpx.Request) -> dict[str, str]:
    query = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
    return {**query, **dict(parse_qsl(request.content.decode(), keep_blank_values=True))}


# -- 2. authquery for an Alipay user id is identity_type 5 -----------------------------------


@respx.mock
def test_authquery_for_a_user_id_is_identity_type_5(
    client: SesameClient, alipay_key: RSA.RsaKey, applicant: Applicant
) -> None:
    value = '{"code":"10000","msg":"Success","authorized":true}'
    route = respx.post(url__startswith=GW).respond(
        200, content=_signed(alipay_key, "zhima_auth_info_authquery_response", value)
    )
    assert client.authorization_status("2088000000000001").authorized is True
    biz = json.loads(_params(route.calls.last.request)["biz_content"])
    assert biz["identity_type"] == "5"
    assert json.loads(biz["identity_param"]) == {"userId": "2088000000000001"}
    client.authorization_status(applicant)
    biz = json.loads(_params(route.calls.last.request)["biz_content"])
    assert biz["identity_type"] == "2"
    assert set(json.loads(biz["identity_param"])) == {"certNo", "certType", "name"}


# -- 4. answers in the charset they declare ----------------------------------------------------


@respx.mock
def test_gbk_error_answer_is_decoded_and_verified_in_gbk(
    client: SesameClient, alipay_key: RSA.RsaKey
) -> None:
    value = ('{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-signature",'
             '"sub_msg":"验签出错，请确认charset参数放在了URL查询字符串中"}')  # fmt: skip
    respx.post(url__startswith=GW).respond(
        200,
        content=_signed(alipay_key, "error_response", value, "gbk"),
        headers={"Content-Type": "application/json;charset=GBK"},
    )
    with pytest.raises(AuthenticationError) as info:
        client.exchange_code("code-1")
    assert info.value.sub_code == "isv.invalid-signature"  # type: ignore[attr-defined]
    assert "请确认charset参数放在了URL查询字符串中" in str(info.value)
    # the hint lists the usual causes
    assert "own app public key" in str(info.value)
    assert "RSA vs RSA2" in str(info.value)


@respx.mock
def test_neither_utf8_nor_the_declared_charset_names_it(
    client: SesameClient, alipay_key: RSA.RsaKey
) -> None:
    respx.post(url__startswith=GW).respond(
        200, content=b'{"error_response":{"x":"\x81\x20"}}',
        headers={"Content-Type": "application/json; charset=GBK"},
    )  # fmt: skip
    with pytest.raises(ResponseIntegrityError, match="GBK"):
        client.exchange_code("code-1")


def test_decode_answer_prefers_the_declared_charset() -> None:
    text = "芝麻".encode("gbk")
    assert p.decode_answer(text, "GBK") == ("芝麻", "GBK")
    assert p.decode_answer("芝麻".encode(), None) == ("芝麻", "utf-8")
    assert p.decode_answer("芝麻".encode(), "no-such-charset") == ("芝麻", "utf-8")


# -- 5. the error codes users hit -----------------------------------------------------------------


def _failure(sub_code: str, code: str = "40004") -> str:
    return (f'{{"code":"{code}","msg":"Business Failed","sub_code":"{sub_code}",'
            f'"sub_msg":"{sub_code}"}}')  # fmt: skip


@pytest.mark.parametrize("sub_code", ["isv.app-call-limited", "isv.method-call-limited"])
@respx.mock
def test_rate_limits_are_retried_after_a_backoff(
    client: SesameClient, alipay_key: RSA.RsaKey, consent: Consent, sub_code: str
) -> None:
    member = "zhima_credit_score_get_response"
    ok = '{"code":"10000","msg":"Success","biz_no":"ZM1","zm_score":"700"}'
    route = respx.post(url__startswith=GW).mock(side_effect=[
        httpx.Response(200, content=_signed(alipay_key, member, _failure(sub_code, "40002"))),
        httpx.Response(200, content=_signed(alipay_key, member, ok)),
    ])  # fmt: skip
    assert client.score("tok", consent=consent).score == 700
    assert route.call_count == 2
    txns = {json.loads(_params(c.request)["biz_content"])["transaction_id"] for c in route.calls}
    assert len(txns) == 1  # the retry reuses the transaction id: no second bill


@respx.mock
def test_rate_limit_that_persists_is_a_rate_limited_error(
    client: SesameClient, alipay_key: RSA.RsaKey, consent: Consent
) -> None:
    respx.post(url__startswith=GW).respond(200, content=_signed(
        alipay_key, "zhima_credit_score_get_response", _failure("isv.app-call-limited", "40002")
    ))  # fmt: skip
    with pytest.raises(RateLimitedError):
        client.score("tok", consent=consent)


@respx.mock
def test_frozen_contract_is_product_not_enabled(
    client: SesameClient, alipay_key: RSA.RsaKey, consent: Consent
) -> None:
    respx.post(url__startswith=GW).respond(200, content=_signed(
        alipay_key, "zhima_credit_score_get_response", _failure("ZMCREDIT.no_valid_arrangement")
    ))  # fmt: skip
    with pytest.raises(ProductNotEnabledError, match="contract"):
        client.score("tok", consent=consent)


# -- the Sandbox: layout, GBK, admittance_score, watchlist -------------------------------------


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(providers=["sesame"], seed=11) as sandbox:
        yield sandbox


def _all_in_body(sb: Sandbox) -> httpx.Response:
    config = p.SesameConfig.load(
        app_id=sb.sesame.app_id, app_private_key=sb.sesame.app_private_key,
        alipay_public_key=sb.sesame.alipay_public_key, gateway_url=sb.sesame.gateway_url,
        authorize_url=sb.sesame.authorize_url,
    )  # fmt: skip
    params = p.signed_params(config, p.M_TOKEN, top_level={"grant_type": "authorization_code",
                                                           "code": "x"})  # fmt: skip
    return httpx.post(
        sb.sesame.gateway_url, content=urlencode(params).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip


def test_sandbox_refuses_a_body_only_post_in_gbk_as_the_gateway_does(sb: Sandbox) -> None:
    response = _all_in_body(sb)
    assert "charset=GBK" in response.headers["content-type"]
    with pytest.raises(UnicodeDecodeError):
        response.content.decode("utf-8")
    config = p.SesameConfig.load(
        app_id=sb.sesame.app_id, app_private_key=sb.sesame.app_private_key,
        alipay_public_key=sb.sesame.alipay_public_key, gateway_url=sb.sesame.gateway_url,
        authorize_url=sb.sesame.authorize_url,
    )  # fmt: skip
    content = p.verified_content(config, response, p.M_TOKEN)  # the signature covers GBK bytes
    assert content["sub_code"] == "isv.invalid-signature"
    assert "请确认charset参数放在了URL查询字符串中" in content["sub_msg"]


def test_sandbox_can_accept_the_all_form_layout_when_told() -> None:
    with Sandbox(providers=["sesame"], options={"sesame": {"require_query_charset": False}}) as sb:
        body = _all_in_body(sb).json()
    assert body["error_response"]["sub_code"] == "isv.code-invalid"  # got past the layout


def test_sandbox_wants_admittance_score_not_admit_score(sb: Sandbox, consent: Consent) -> None:
    config = p.SesameConfig.load(
        app_id=sb.sesame.app_id, app_private_key=sb.sesame.app_private_key,
        alipay_public_key=sb.sesame.alipay_public_key, gateway_url=sb.sesame.gateway_url,
        authorize_url=sb.sesame.authorize_url,
    )  # fmt: skip
    biz = {"transaction_id": "t_old", "product_code": p.BRIEF_PRODUCT_CODE,
           "cert_type": "IDENTITY_CARD", "cert_no": "11010519491231002X", "name": "张三",
           "admit_score": 600}  # fmt: skip
    request = as_httpx(p.build_request(config, p.signed_params(config, p.M_BRIEF, biz=biz)))
    response = httpx.Client().send(request)
    content = p.verified_content(config, response, p.M_BRIEF)
    assert content["sub_code"] == "isv.missing-admittance-score"
    assert sb.ledger("sesame") == []


def test_sandbox_rate_limit_is_retried_end_to_end(
    sb: Sandbox, applicant: Applicant, consent: Consent
) -> None:
    sb.sesame.fail_next("40002 isv.app-call-limited")
    with sb.sesame_client(retry=NO_WAIT) as zm:
        assert zm.admittance(applicant, 400, consent=consent).admitted is not None
    assert len(sb.ledger("sesame")) == 1


def test_watchlist_through_the_sandbox(sb: Sandbox, applicant: Applicant, consent: Consent) -> None:
    sb.sesame.set_watchlist(applicant.id_card, 2)
    with sb.sesame_client() as zm:
        first = zm.watchlist(
            applicant, consent=consent, product_code=WATCH_CODE, transaction_id="watch_1"
        )
        again = zm.watchlist(
            applicant, consent=consent, product_code=WATCH_CODE, transaction_id="watch_1"
        )
        sb.sesame.set_watchlist(applicant.id_card, None)
        na = zm.watchlist(applicant, consent=consent, product_code=WATCH_CODE)
    assert isinstance(first, WatchlistResult)
    assert (first.level, first.listed) == (2, True)
    assert again == first
    assert (na.level, na.listed) == (None, None)
    billed = sb.ledger("sesame")
    assert [e.operation for e in billed] == ["zhima.credit.watchlist.brief.get"] * 2
    assert billed[0].details["cert_no"] == "110105********002X"


async def test_watchlist_async(sb: Sandbox, applicant: Applicant, consent: Consent) -> None:
    sb.sesame.set_watchlist(applicant.id_card, 0)
    async with sb.async_sesame_client() as zm:
        result = await zm.watchlist(applicant, consent=consent, product_code=WATCH_CODE)
    assert (result.level, result.listed) == (0, False)
    assert isinstance(zm, AsyncSesameClient)


@respx.mock
def test_watchlist_refuses_an_unknown_level(
    client: SesameClient, alipay_key: RSA.RsaKey, applicant: Applicant, consent: Consent
) -> None:
    value = '{"code":"10000","msg":"Success","biz_no":"ZM","level":"7"}'
    respx.post(url__startswith=GW).respond(
        200, content=_signed(alipay_key, "zhima_credit_watchlist_brief_get_response", value)
    )
    with pytest.raises(ResponseIntegrityError, match="level"):
        client.watchlist(applicant, consent=consent, product_code=WATCH_CODE)


def test_query_with_auth_token_and_sign_stays_out_of_httpx_logs(
    sb: Sandbox, consent: Consent, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="httpx")
    with sb.sesame_client() as zm:
        back = sb.sesame.approve(zm.authorization_url("https://l.example/cb", "q"))
        grant = zm.exchange_code(zm.parse_redirect(back, "q"))
        zm.score(grant, consent=consent)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "gateway.do" in text  # httpx did log the requests…
    assert grant.access_token not in text  # …without the query (auth_token, sign)
    assert "sign=" not in text

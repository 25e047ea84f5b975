"""Cross-checks against the official ``alipay-sdk-python`` (a test-only dependency).

The official client runs unmodified against the Sandbox, except for one bug in its connection
helper: ``WebUtils.get_http_connection`` connects to port 80/443 whatever the URL says (and
crashes adding an int port to the URL string). The replacement below is the original with only
the port fixed: it still sends the absolute-form request target (``POST http://host:port/
gateway.do?... HTTP/1.1``, RFC 9112 §3.2.2) and the official layout (common params in the query,
biz_content in the body). Nothing of its signing or verification is touched.
"""

from __future__ import annotations

import http.client
import json
import os
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

pytest.importorskip("alipay.aop.api")

from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
from alipay.aop.api.domain.ZhimaCreditScoreGetModel import ZhimaCreditScoreGetModel
from alipay.aop.api.request.AlipaySystemOauthTokenRequest import (
    AlipaySystemOauthTokenRequest,
)
from alipay.aop.api.request.ZhimaCreditScoreGetRequest import (
    ZhimaCreditScoreGetRequest,
)
from alipay.aop.api.util import SignatureUtils, WebUtils

from creditsdk._core.crypto import load_rsa_private_key, load_rsa_public_key
from creditsdk.sandbox import Sandbox
from creditsdk.sesame import _protocol as p


def _body(pem: str) -> str:
    """The bare base64 body, as Alipay's console hands keys out (and the official SDK wants)."""
    return "".join(line for line in pem.strip().splitlines() if "-----" not in line)


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(providers=["sesame"], seed=7) as sandbox:
        yield sandbox


@pytest.fixture
def beijing_local_time() -> Iterator[None]:
    # The official client stamps requests with the machine's *local* time; Alipay wants Beijing
    # time. Run it the way it is meant to run: on a machine set to UTC+8 (POSIX TZ, no tzdata).
    if not hasattr(time, "tzset"):
        pytest.skip("needs time.tzset")
    old = os.environ.get("TZ")
    os.environ["TZ"] = "CST-8"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


@pytest.fixture
def official(sb: Sandbox, beijing_local_time: None, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def get_http_connection(url: str, query_string: str, timeout: int):  # type: ignore[no-untyped-def]
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname, port=parts.port, timeout=timeout)
        # as the original: scheme://host[:port]/path?query, the absolute form
        return f"{parts.scheme}://{parts.netloc}{parts.path}?{query_string}", connection

    monkeypatch.setattr(WebUtils, "get_http_connection", get_http_connection)
    config = AlipayClientConfig()
    config.server_url = sb.sesame.gateway_url
    config.app_id = sb.sesame.app_id
    config.app_private_key = _body(sb.sesame.app_private_key)
    config.alipay_public_key = _body(sb.sesame.alipay_public_key)
    return DefaultAlipayClient(alipay_client_config=config)


def test_official_client_runs_the_whole_flow_against_the_sandbox(sb: Sandbox, official) -> None:  # type: ignore[no-untyped-def]
    ours = sb.sesame_client()
    back = sb.sesame.approve(ours.authorization_url("https://lender.example/cb", "st-1"))
    code = ours.parse_redirect(back, "st-1")

    token_request = AlipaySystemOauthTokenRequest()
    token_request.grant_type = "authorization_code"
    token_request.code = code
    token_answer = json.loads(official.execute(token_request))  # verifies the sandbox's sign
    assert token_answer["user_id"] == sb.sesame.default_user_id
    assert token_answer["access_token"].startswith("authusrB")

    sb.sesame.set_score(sb.sesame.default_user_id, 731)
    model = ZhimaCreditScoreGetModel()
    model.transaction_id = "official_txn_0001"
    model.product_code = p.SCORE_PRODUCT_CODE
    score_request = ZhimaCreditScoreGetRequest(biz_model=model)
    score_request.add_other_text_param("auth_token", token_answer["access_token"])
    first = json.loads(official.execute(score_request))
    again = json.loads(official.execute(score_request))
    assert first["zm_score"] == "731"
    assert again == first
    billed = [e for e in sb.ledger("sesame") if e.transaction_id == "official_txn_0001"]
    assert len(billed) == 1

    # A code is single-use: the official client now gets a signed error_response.
    replay = json.loads(official.execute(token_request))
    assert replay["code"] == "40002"
    assert replay["sub_code"] == "isv.code-invalid"


def test_official_client_signature_refused_with_a_wrong_app_key(sb: Sandbox, official) -> None:  # type: ignore[no-untyped-def]
    from Crypto.PublicKey import RSA

    other = RSA.generate(1024).export_key(pkcs=1).decode()
    config = AlipayClientConfig()
    config.server_url = sb.sesame.gateway_url
    config.app_id = sb.sesame.app_id
    config.app_private_key = _body(other)
    config.alipay_public_key = _body(sb.sesame.alipay_public_key)
    request = AlipaySystemOauthTokenRequest()
    request.grant_type = "authorization_code"
    request.code = "whatever"
    answer = json.loads(DefaultAlipayClient(config).execute(request))
    assert (answer["code"], answer["sub_code"]) == ("40002", "isv.invalid-signature")


def test_our_signature_verifies_with_the_official_verifier(sb: Sandbox) -> None:
    content = 'app_id=1&biz_content={"a":"芝麻 }"}&method=zhima.credit.score.get'
    key = load_rsa_private_key(sb.sesame.app_private_key)
    from creditsdk._core.crypto import rsa_sign

    ours = rsa_sign(key, content.encode("utf-8"))
    assert SignatureUtils.verify_with_rsa(
        _body(sb.sesame.app_public_key), content.encode("utf-8"), ours
    )
    # and theirs is byte-identical (PKCS#1 v1.5 is deterministic)
    assert SignatureUtils.sign_with_rsa2(_body(sb.sesame.app_private_key), content, "utf-8") == ours


def test_official_signature_verifies_with_ours(sb: Sandbox) -> None:
    from creditsdk._core.crypto import rsa_verify

    content = "timestamp=2026-11-22 09:00:00&zm=芝麻"
    theirs = SignatureUtils.sign_with_rsa2(_body(sb.sesame.app_private_key), content, "utf-8")
    public = load_rsa_public_key(sb.sesame.app_public_key)
    assert rsa_verify(public, content.encode("utf-8"), theirs)
    assert not rsa_verify(public, (content + "x").encode("utf-8"), theirs)


def test_official_params_sign_content_matches_ours() -> None:
    params = {"b": "2", "a": "1", "biz_content": '{"x":"y"}'}
    assert SignatureUtils.get_sign_content(params) == p.sign_content(params)


def _grant(sb: Sandbox, official) -> dict:  # type: ignore[no-untyped-def, type-arg]
    ours = sb.sesame_client()
    back = sb.sesame.approve(
        ours.authorization_url("https://lender.example/cb", "st-2"), id_card="11010519491231002X"
    )
    request = AlipaySystemOauthTokenRequest()
    request.grant_type = "authorization_code"
    request.code = ours.parse_redirect(back, "st-2")
    return json.loads(official.execute(request))  # type: ignore[no-any-return]


def test_official_client_brief_get_with_admittance_score(sb: Sandbox, official) -> None:  # type: ignore[no-untyped-def]
    from alipay.aop.api.domain.ZhimaCreditScoreBriefGetModel import ZhimaCreditScoreBriefGetModel
    from alipay.aop.api.request.ZhimaCreditScoreBriefGetRequest import (
        ZhimaCreditScoreBriefGetRequest,
    )

    user = sb.sesame.add_user(score=700, id_card="11010519491231002X")
    assert user
    model = ZhimaCreditScoreBriefGetModel()
    model.transaction_id = "official_brief_1"
    model.product_code = p.BRIEF_PRODUCT_CODE
    model.cert_type = "IDENTITY_CARD"
    model.cert_no = "11010519491231002X"
    model.name = "张三"
    model.admittance_score = 650
    answer = json.loads(official.execute(ZhimaCreditScoreBriefGetRequest(biz_model=model)))
    assert (answer["code"], answer["is_admittance"]) == ("10000", "Y")
    model.transaction_id = "official_brief_2"
    model.admittance_score = 701
    answer = json.loads(official.execute(ZhimaCreditScoreBriefGetRequest(biz_model=model)))
    assert answer["is_admittance"] == "N"


def test_official_client_authquery_with_identity_type_5(sb: Sandbox, official) -> None:  # type: ignore[no-untyped-def]
    from alipay.aop.api.domain.ZhimaAuthInfoAuthqueryModel import ZhimaAuthInfoAuthqueryModel
    from alipay.aop.api.request.ZhimaAuthInfoAuthqueryRequest import (
        ZhimaAuthInfoAuthqueryRequest,
    )

    grant = _grant(sb, official)
    model = ZhimaAuthInfoAuthqueryModel()
    model.identity_type = "5"
    model.identity_param = json.dumps({"userId": grant["user_id"]})
    model.auth_category = "C2B"
    answer = json.loads(official.execute(ZhimaAuthInfoAuthqueryRequest(biz_model=model)))
    assert (answer["code"], answer["authorized"]) == ("10000", True)
    model.identity_param = json.dumps({"userId": "2088999999999999"})
    answer = json.loads(official.execute(ZhimaAuthInfoAuthqueryRequest(biz_model=model)))
    assert answer["authorized"] is False


def test_official_client_watchlist(sb: Sandbox, official) -> None:  # type: ignore[no-untyped-def]
    from alipay.aop.api.domain.ZhimaCreditWatchlistBriefGetModel import (
        ZhimaCreditWatchlistBriefGetModel,
    )
    from alipay.aop.api.request.ZhimaCreditWatchlistBriefGetRequest import (
        ZhimaCreditWatchlistBriefGetRequest,
    )

    sb.sesame.set_watchlist("11010519491231002X", 3)
    model = ZhimaCreditWatchlistBriefGetModel()
    model.transaction_id = "official_watch_1"
    model.product_code = "w1010100000000009999"
    model.cert_type = "IDENTITY_CARD"
    model.cert_no = "11010519491231002X"
    model.name = "张三"
    answer = json.loads(official.execute(ZhimaCreditWatchlistBriefGetRequest(biz_model=model)))
    assert (answer["code"], answer["level"]) == ("10000", "3")
    billed = [e for e in sb.ledger("sesame") if e.transaction_id == "official_watch_1"]
    assert len(billed) == 1

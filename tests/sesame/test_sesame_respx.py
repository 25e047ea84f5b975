"""The clients against a mocked gateway (respx): every code, tampering, retries, wire bytes."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import respx
from Crypto.Hash import SHA256
from Crypto.PublicKey import RSA
from Crypto.Signature import pkcs1_15

from creditsdk import Consent, RetryPolicy
from creditsdk._core.consent import MemoryAuditSink
from creditsdk.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidInputError,
    ProductNotEnabledError,
    ProviderError,
    ResponseIntegrityError,
    TransportError,
)
from creditsdk.sesame import (
    AsyncSesameClient,
    AuthorizationRevokedError,
    Grant,
    SesameClient,
    SesameProviderError,
)

GW = "https://gw.example/gateway.do"
NO_WAIT = RetryPolicy(max_attempts=3, initial_backoff=0)


def sign(key: RSA.RsaKey, text: str) -> str:
    return base64.b64encode(pkcs1_15.new(key).sign(SHA256.new(text.encode()))).decode()


def answer(key: RSA.RsaKey, member: str, value: str, *, signature: str | None = None) -> bytes:
    sig = sign(key, value) if signature is None else signature
    return ('{"' + member + '":' + value + ',"sign":"' + sig + '"}').encode()


def score_value(score: str = "731") -> str:
    return '{"code":"10000","msg":"Success","biz_no":"ZM1","zm_score":"' + score + '"}'


@pytest.fixture
def client(app_key: RSA.RsaKey, alipay_key: RSA.RsaKey, fixed_clock: Callable[[], dt.datetime]):  # type: ignore[no-untyped-def]
    with SesameClient(
        app_id="2021000000000001",
        app_private_key=app_key.export_key().decode(),
        alipay_public_key=alipay_key.public_key().export_key().decode(),
        gateway_url=GW,
        retry=NO_WAIT,
        clock=fixed_clock,
        audit=[],
    ) as c:
        yield c


def _sent(request: httpx.Request) -> dict[str, str]:
    """Every parameter, from the URL query and the form body (no name in both)."""
    query = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
    body = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
    assert not set(query) & set(body)
    return {**query, **body}


@respx.mock
def test_score_success_and_wire(
    client: SesameClient, consent: Consent, alipay_key: RSA.RsaKey, app_key: RSA.RsaKey
) -> None:
    route = respx.post(GW).respond(
        200, content=answer(alipay_key, "zhima_credit_score_get_response", score_value())
    )
    result = client.score("authusrBTOKEN", consent=consent)
    assert result.score == 731
    assert result.biz_no == "ZM1"
    sent = _sent(route.calls.last.request)
    assert sent["method"] == "zhima.credit.score.get"
    assert sent["auth_token"] == "authusrBTOKEN"
    assert sent["timestamp"] == "2026-01-01 08:00:05"
    biz = json.loads(sent["biz_content"])
    assert biz == {"transaction_id": result.transaction_id, "product_code": "w1010100100000000001"}
    content = "&".join(f"{k}={sent[k]}" for k in sorted(sent) if k != "sign")
    pkcs1_15.new(app_key.public_key()).verify(
        SHA256.new(content.encode()), base64.b64decode(sent["sign"])
    )


@respx.mock
def test_score_na_is_none(client: SesameClient, consent: Consent, alipay_key: RSA.RsaKey) -> None:
    respx.post(GW).respond(
        200, content=answer(alipay_key, "zhima_credit_score_get_response", score_value("N/A"))
    )
    assert client.score("tok", consent=consent, transaction_id="mine_1").score is None


@pytest.mark.parametrize(
    ("code", "sub_code", "expected", "not_expected"),
    [
        ("20000", "isp.unknow-error", SesameProviderError, AuthenticationError),
        ("20001", "aop.invalid-auth-token", AuthenticationError, None),
        ("40001", "isv.missing-method", SesameProviderError, AuthenticationError),
        ("40002", "isv.invalid-signature", AuthenticationError, None),
        ("40002", "isv.invalid-app-id", AuthenticationError, None),
        ("40002", "isv.invalid-parameter", SesameProviderError, AuthenticationError),
        ("40004", "ZMCREDIT.product_code_invalid", SesameProviderError, AuthenticationError),
        ("40004", "ZMCREDIT.authentication_fail", AuthorizationRevokedError, None),
        ("40006", "isv.insufficient-isv-permissions", ProductNotEnabledError, None),
    ],
)
@respx.mock
def test_every_code_maps_to_a_typed_error(
    client: SesameClient,
    consent: Consent,
    alipay_key: RSA.RsaKey,
    code: str,
    sub_code: str,
    expected: type[Exception],
    not_expected: type[Exception] | None,
) -> None:
    value = json.dumps({"code": code, "msg": "m", "sub_code": sub_code, "sub_msg": "s"})
    route = respx.post(GW).respond(
        200, content=answer(alipay_key, "zhima_credit_score_get_response", value)
    )
    with pytest.raises(expected) as info:
        client.score("tok", consent=consent, transaction_id="txn_code")
    err = info.value
    assert isinstance(err, ProviderError)
    if not_expected is not None:
        assert not isinstance(err, not_expected)
    assert (err.code, getattr(err, "sub_code", None)) == (code, sub_code)
    assert err.transaction_id == "txn_code"
    assert route.call_count == 1  # a provider's answer is never retried


@respx.mock
def test_error_response_member_is_verified_and_mapped(
    client: SesameClient, alipay_key: RSA.RsaKey
) -> None:
    value = (
        '{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.code-invalid",'
        '"sub_msg":"授权码code无效"}'
    )
    respx.post(GW).respond(200, content=answer(alipay_key, "error_response", value))
    with pytest.raises(AuthenticationError) as info:
        client.exchange_code("c1")
    assert getattr(info.value, "sub_code", None) == "isv.code-invalid"


@respx.mock
def test_token_answer_without_code_and_with_string_numbers(
    client: SesameClient, alipay_key: RSA.RsaKey
) -> None:
    value = json.dumps(
        {"access_token": "authusrBA", "alipay_user_id": "20880", "expires_in": "3600",
         "re_expires_in": 7200, "refresh_token": "authusrBR", "user_id": "2088000000000001"}
    )  # fmt: skip
    route = respx.post(GW).respond(
        200, content=answer(alipay_key, "alipay_system_oauth_token_response", value)
    )
    grant = client.exchange_code("CODE1")
    sent = _sent(route.calls.last.request)
    assert (sent["grant_type"], sent["code"]) == ("authorization_code", "CODE1")
    assert "biz_content" not in sent
    issued = dt.datetime(2026, 1, 1, 0, 0, 5, tzinfo=dt.timezone.utc)
    assert grant == Grant(
        access_token="authusrBA",
        refresh_token="authusrBR",
        user_id="2088000000000001",
        expires_at=issued + dt.timedelta(seconds=3600),
        refresh_expires_at=issued + dt.timedelta(seconds=7200),
        issued_at=issued,
    )
    client.refresh(grant)
    sent = _sent(route.calls.last.request)
    assert (sent["grant_type"], sent["refresh_token"]) == ("refresh_token", "authusrBR")
    assert "code" not in sent


def test_one_changed_byte_anywhere_is_an_integrity_error(
    client: SesameClient, consent: Consent, alipay_key: RSA.RsaKey
) -> None:
    value = score_value()
    good = answer(alipay_key, "zhima_credit_score_get_response", value)
    start = good.index(value.encode())
    errors: list[ResponseIntegrityError] = []
    with respx.mock:
        route = respx.post(GW)
        for i in range(start, start + len(value)):
            tampered = bytearray(good)
            tampered[i] = ord("7") if tampered[i] != ord("7") else ord("8")
            route.respond(200, content=bytes(tampered))
            try:
                client.score("tok", consent=consent, transaction_id="txn_t")
            except ResponseIntegrityError as exc:
                errors.append(exc)
    assert len(errors) == len(value)
    assert all(e.maybe_billed and e.transaction_id == "txn_t" for e in errors)


@pytest.mark.parametrize(
    "body",
    [
        b'{"zhima_credit_score_get_response":{"code":"10000","zm_score":"700"}}',
        b'{"zhima_credit_score_get_response":{"code":"10000","zm_score":"700"},"sign":""}',
        b"<html>gateway</html>",
        b'{"zhima_credit_score_get_response":{"code":"10000","zm_score":"700"},"sign":"AAAA"}',
    ],
    ids=["unsigned", "empty-sign", "not-json", "bad-sign"],
)
@respx.mock
def test_unsigned_or_garbled_answers_are_refused(
    client: SesameClient, consent: Consent, body: bytes
) -> None:
    respx.post(GW).respond(200, content=body)
    with pytest.raises(ResponseIntegrityError):
        client.score("tok", consent=consent)


@respx.mock
def test_answer_signed_by_another_key_is_refused(
    client: SesameClient, consent: Consent, app_key: RSA.RsaKey
) -> None:
    respx.post(GW).respond(
        200, content=answer(app_key, "zhima_credit_score_get_response", score_value())
    )
    with pytest.raises(ResponseIntegrityError, match="signature"):
        client.score("tok", consent=consent)


@respx.mock
def test_a_brace_and_fake_sign_inside_a_string_do_not_fool_the_scan(
    client: SesameClient, consent: Consent, alipay_key: RSA.RsaKey
) -> None:
    value = '{"code":"10000","msg":"ok }\\",\\"sign\\":\\"x","biz_no":"Z{1}","zm_score":"600"}'
    body = answer(alipay_key, "zhima_credit_score_get_response", value)
    respx.post(GW).respond(200, content=body.replace(b'":{', b'" : {', 1))
    assert client.score("tok", consent=consent).biz_no == "Z{1}"


@respx.mock
def test_retries_reuse_the_transaction_id(
    client: SesameClient, consent: Consent, alipay_key: RSA.RsaKey
) -> None:
    route = respx.post(GW)
    route.side_effect = [
        httpx.ReadTimeout("slow"),
        httpx.Response(502, text="bad gateway"),
        httpx.Response(
            200, content=answer(alipay_key, "zhima_credit_score_get_response", score_value())
        ),
    ]
    result = client.score("tok", consent=consent)
    ids = {json.loads(_sent(c.request)["biz_content"])["transaction_id"] for c in route.calls}
    assert route.call_count == 3
    assert ids == {result.transaction_id}


@respx.mock
def test_code_exchange_is_not_resent_after_a_lost_answer(client: SesameClient) -> None:
    route = respx.post(GW)
    route.side_effect = httpx.ReadTimeout("slow")
    with pytest.raises(TransportError):
        client.exchange_code("CODE1")
    assert route.call_count == 1


@respx.mock
def test_inputs_are_checked_before_any_io(client: SesameClient, consent: Consent) -> None:
    route = respx.post(GW)
    expired = Consent(
        reference="R1",
        purpose="p",
        granted_at=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc),
        expires_at=dt.datetime(2020, 2, 1, tzinfo=dt.timezone.utc),
    )
    with pytest.raises(InvalidInputError):
        client.score("tok", consent=expired)
    with pytest.raises(InvalidInputError):
        client.score("tok", consent=None)
    with pytest.raises(InvalidInputError):
        client.score("", consent=consent)
    with pytest.raises(InvalidInputError):
        client.score("tok", consent=consent, transaction_id="bad-id!")
    with pytest.raises(InvalidInputError):
        client.exchange_code("")
    assert route.call_count == 0


@respx.mock
def test_admittance_and_audit(
    app_key: RSA.RsaKey, alipay_key: RSA.RsaKey, consent: Consent, applicant: Any
) -> None:
    sink = MemoryAuditSink()
    route = respx.post(GW).respond(
        200,
        content=answer(
            alipay_key,
            "zhima_credit_score_brief_get_response",
            '{"code":"10000","msg":"Success","biz_no":"ZMB","is_admittance":"Y"}',
        ),
    )
    with SesameClient(
        "1", app_key.export_key(), alipay_key.public_key().export_key(), GW, audit=sink
    ) as c:
        result = c.admittance(applicant, 600, consent=consent)
        with pytest.raises(InvalidInputError):
            c.admittance(applicant, 1000, consent=consent)
    assert (result.admitted, result.threshold, result.biz_no) == (True, 600, "ZMB")
    biz = json.loads(_sent(route.calls.last.request)["biz_content"])
    assert biz["cert_no"] == "11010519491231002X"
    assert biz["admittance_score"] == 600  # ZhimaCreditScoreBriefGetModel's name
    assert "admit_score" not in biz
    [event] = sink.events
    assert event.applicant == {
        "name": "张*",
        "id_card": "110105********002X",
        "mobile": "138****8000",
    }
    assert event.transaction_id == result.transaction_id


def test_configuration_errors_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, app_key: RSA.RsaKey
) -> None:
    for var in ("APP_ID", "APP_PRIVATE_KEY", "ALIPAY_PUBLIC_KEY"):
        monkeypatch.delenv(f"CREDITSDK_SESAME_{var}", raising=False)
    with pytest.raises(ConfigurationError, match="CREDITSDK_SESAME_APP_ID"):
        SesameClient()
    pem = app_key.export_key().decode()
    with pytest.raises(ConfigurationError, match="alipay_public_key") as info:
        SesameClient("1", pem, app_key.public_key().export_key().decode())
    assert "BEGIN" not in str(info.value)
    client = SesameClient("1", pem, RSA.generate(1024).public_key().export_key().decode())
    assert "PRIVATE" not in repr(client)
    client.close()


@respx.mock
async def test_async_client_score_and_code_map(
    app_key: RSA.RsaKey, alipay_key: RSA.RsaKey, consent: Consent
) -> None:
    route = respx.post(GW)
    route.side_effect = [
        httpx.Response(
            200, content=answer(alipay_key, "zhima_credit_score_get_response", score_value("612"))
        ),
        httpx.Response(
            200,
            content=answer(
                alipay_key,
                "zhima_credit_score_get_response",
                '{"code":"20001","sub_code":"aop.auth-token-time-out"}',
            ),
        ),
    ]
    async with AsyncSesameClient(
        "1", app_key.export_key().decode(), alipay_key.public_key().export_key().decode(), GW
    ) as c:
        assert (await c.score("tok", consent=consent)).score == 612
        with pytest.raises(AuthenticationError):
            await c.score("tok", consent=consent)

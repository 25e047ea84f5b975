"""The clients against respx: every code, both layouts, retries, logging, audit, validation."""

from __future__ import annotations

import datetime as dt
import json
import logging
import warnings
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from creditsdk import Consent, MemoryAuditSink, RetryPolicy
from creditsdk.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidInputError,
    ProductNotEnabledError,
    ProviderError,
    ResponseIntegrityError,
    TransportError,
    UnverifiedCardWarning,
)
from creditsdk.fireeye import AsyncFireEyeClient, FireEyeClient

BASE = "https://fireeye.test"
TX_URL = BASE + "/fireeye/creditScore/transationAuthentication"
SCORE_URL = BASE + "/fireeye/creditScore/UnionPayModelScore"
INSTITUTION = "INST0001"
APP_KEY = "s3cr3t-app-key-0123456789"
CARD = "6222021234567890128"  # passes Luhn
SAMPLE_CARD = "6262320120123210"  # the seed's card: fails Luhn
ID_CARD = "11010519491231002X"
MOBILE = "13800138000"
DAY = dt.date(2016, 12, 1)
AMOUNT = Decimal("212.00")


def _client(**kw: Any) -> FireEyeClient:
    return FireEyeClient(INSTITUTION, APP_KEY, BASE, **kw)


def _aclient(**kw: Any) -> AsyncFireEyeClient:
    return AsyncFireEyeClient(INSTITUTION, APP_KEY, BASE, **kw)


def _sent(request: httpx.Request) -> dict[str, Any]:
    """The envelope a request carried, from the form body or the query."""
    if request.method == "GET":
        raw = parse_qs(request.url.query.decode())["data"][0]
    else:
        raw = parse_qs(request.content.decode())["data"][0]
    envelope: dict[str, Any] = json.loads(raw)
    return envelope


def _answer(code: str, data: object = None, field: str = "respCd") -> httpx.Response:
    body: dict[str, Any] = {field: code, "msg": "Success" if code == "0000" else "Failed"}
    if data is not None:
        body["data"] = data
    return httpx.Response(200, json=body)


# -- every code, sync and async ------------------------------------------------------------

TX_CASES = [
    ("0000", 1, None),
    ("0000", 0, None),
    ("0003", None, None),
    ("0001", None, ProductNotEnabledError),
    ("0002", None, AuthenticationError),
    ("0004", None, ProviderError),
    ("0042", None, ProviderError),
]


@pytest.mark.parametrize(("code", "data", "error"), TX_CASES)
@pytest.mark.parametrize("field", ["respCd", "resp"])
@respx.mock
def test_verify_transaction_codes_sync(
    code: str, data: object, error: type[Exception] | None, field: str, consent: Consent
) -> None:
    route = respx.post(TX_URL).mock(return_value=_answer(code, data, field))
    with _client() as fe:
        if error is None:
            check = fe.verify_transaction(CARD, DAY, AMOUNT, consent=consent)
            assert check.matched is (data == 1)
            assert check.code == code
            expected_reason = {1: None, 0: "details do not match"}.get(data, "no such transaction")  # type: ignore[call-overload]
            assert check.reason == expected_reason
        else:
            with pytest.raises(error) as info:
                fe.verify_transaction(CARD, DAY, AMOUNT, consent=consent)
            assert type(info.value) is error
            assert info.value.code == code  # type: ignore[attr-defined]
            assert info.value.attempts == 1  # type: ignore[attr-defined]
    assert route.call_count == 1  # provider refusals are never retried


@pytest.mark.parametrize(("code", "data", "error"), TX_CASES)
async def test_verify_transaction_codes_async(
    code: str, data: object, error: type[Exception] | None, consent: Consent
) -> None:
    with respx.mock:
        route = respx.post(TX_URL).mock(return_value=_answer(code, data))
        async with _aclient() as fe:
            if error is None:
                check = await fe.verify_transaction(CARD, DAY, AMOUNT, consent=consent)
                assert check.matched is (data == 1)
            else:
                with pytest.raises(error) as info:
                    await fe.verify_transaction(CARD, DAY, AMOUNT, consent=consent)
                assert info.value.code == code  # type: ignore[attr-defined]
        assert route.call_count == 1


SCORE_CASES = [
    ("0000", 888, None),
    ("0000", 300, None),
    ("0000", 1000, None),
    ("0000", 299, ResponseIntegrityError),
    ("0000", 1001, ResponseIntegrityError),
    ("0001", None, ProductNotEnabledError),
    ("0002", None, AuthenticationError),
    ("0004", None, ProviderError),
    ("7777", None, ProviderError),
]


@pytest.mark.parametrize(("code", "data", "error"), SCORE_CASES)
@pytest.mark.parametrize("field", ["resp", "respCd"])
@respx.mock
def test_model_score_codes_sync(
    code: str, data: object, error: type[Exception] | None, field: str, consent: Consent
) -> None:
    route = respx.post(SCORE_URL).mock(return_value=_answer(code, data, field))
    with _client() as fe:
        if error is None:
            assert fe.model_score(CARD, ID_CARD, MOBILE, consent=consent).score == data
        else:
            with pytest.raises(error) as info:
                fe.model_score(CARD, ID_CARD, MOBILE, consent=consent)
            assert type(info.value) is error
    assert route.call_count == 1
    assert _sent(route.calls.last.request) == {
        "id": INSTITUTION,
        "appKey": APP_KEY,
        "data": {"cardNo": CARD, "certid": ID_CARD, "mobile": MOBILE},
    }


@pytest.mark.parametrize(("code", "data", "error"), SCORE_CASES)
async def test_model_score_codes_async(
    code: str, data: object, error: type[Exception] | None, consent: Consent
) -> None:
    with respx.mock:
        respx.post(SCORE_URL).mock(return_value=_answer(code, data, "resp"))
        async with _aclient() as fe:
            if error is None:
                assert (await fe.model_score(CARD, ID_CARD, MOBILE, consent=consent)).score == data
            else:
                with pytest.raises(error):
                    await fe.model_score(CARD, ID_CARD, MOBILE, consent=consent)


def test_out_of_range_score_is_marked_maybe_billed(consent: Consent) -> None:
    with respx.mock:
        respx.post(SCORE_URL).mock(return_value=_answer("0000", 5000))
        with _client() as fe, pytest.raises(ResponseIntegrityError) as info:
            fe.model_score(CARD, ID_CARD, MOBILE, consent=consent)
    assert info.value.maybe_billed is True
    assert "5000" in str(info.value)


# -- the wire ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "amount", "wire"),
    [
        ("fen", Decimal("212.00"), "21200"),
        ("fen", Decimal("0.5"), "50"),
        ("yuan", Decimal("212.00"), 212.0),
        ("yuan", Decimal("212.35"), 212.35),
    ],
)
@respx.mock
def test_amount_unit_on_the_wire(
    unit: str, amount: Decimal, wire: object, consent: Consent
) -> None:
    route = respx.post(TX_URL).mock(return_value=_answer("0000", 1))
    with _client(amount_unit=unit) as fe:
        fe.verify_transaction(
            CARD, DAY, amount, consent=consent, id_card=ID_CARD, mobile=MOBILE, location="上海"
        )
    assert _sent(route.calls.last.request) == {
        "id": INSTITUTION,
        "appKey": APP_KEY,
        "data": {
            "cardNo": CARD,
            "transDate": "20161201",
            "transAmount": wire,
            "certid": ID_CARD,
            "mobile": MOBILE,
            "transLocation": "上海",
        },
    }


@respx.mock
def test_default_unit_is_fen_and_default_method_is_post_form(consent: Consent) -> None:
    route = respx.post(TX_URL).mock(return_value=_answer("0000", 1))
    with _client() as fe:
        assert (fe.amount_unit, fe.method) == ("fen", "POST")
        fe.verify_transaction(CARD, DAY, AMOUNT, consent=consent)
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.url.query == b""
    assert _sent(request)["data"]["transAmount"] == "21200"


@respx.mock
def test_get_method_sends_data_in_the_query(consent: Consent) -> None:
    route = respx.get(TX_URL).mock(return_value=_answer("0000", 1))
    with _client(method="GET") as fe:
        assert fe.verify_transaction(CARD, DAY, AMOUNT, consent=consent).matched is True
    request = route.calls.last.request
    assert request.content == b""
    assert _sent(request)["appKey"] == APP_KEY


@respx.mock
def test_default_base_url_is_the_production_host(
    consent: Consent, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDITSDK_FIREEYE_BASE_URL", raising=False)
    route = respx.post(
        "https://risktech.unionpay.com/fireeye/creditScore/transationAuthentication"
    ).mock(return_value=_answer("0000", 1))
    with FireEyeClient(INSTITUTION, APP_KEY) as fe:
        fe.verify_transaction(CARD, DAY, AMOUNT, consent=consent)
    assert route.called


@respx.mock
def test_env_fallbacks(consent: Consent, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITSDK_FIREEYE_INSTITUTION_ID", "ENVINST")
    monkeypatch.setenv("CREDITSDK_FIREEYE_APP_KEY", "envkey")
    monkeypatch.setenv("CREDITSDK_FIREEYE_BASE_URL", "https://env.test/")
    route = respx.post("https://env.test/fireeye/creditScore/UnionPayModelScore").mock(
        return_value=_answer("0000", 700, "resp")
    )
    with FireEyeClient() as fe:
        assert fe.model_score(CARD, ID_CARD, MOBILE, consent=consent).score == 700
    envelope = _sent(route.calls.last.request)
    assert (envelope["id"], envelope["appKey"]) == ("ENVINST", "envkey")


def test_missing_credentials_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDITSDK_FIREEYE_INSTITUTION_ID", raising=False)
    monkeypatch.delenv("CREDITSDK_FIREEYE_APP_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="CREDITSDK_FIREEYE_INSTITUTION_ID"):
        FireEyeClient(app_key=APP_KEY)
    with pytest.raises(ConfigurationError, match="CREDITSDK_FIREEYE_APP_KEY"):
        FireEyeClient(institution_id=INSTITUTION)


@pytest.mark.parametrize(
    "kw",
    [{"amount_unit": "jiao"}, {"method": "PUT"}, {"card_guard": 3}, {"base_url": "ftp://x"}],
)
def test_bad_options(kw: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        FireEyeClient(INSTITUTION, APP_KEY, **kw)


def test_repr_hides_the_key() -> None:
    with _client() as fe:
        text = repr(fe)
    assert APP_KEY not in text
    assert INSTITUTION in text
    assert "<redacted>" in text


# -- validation before I/O -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"card_no": "6222-abc"}, "card_no"),
        ({"trans_date": "2016-13-01"}, "trans_date"),
        ({"amount": Decimal("-1")}, "amount"),
        ({"amount": Decimal("1.001")}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"id_card": "411524198810280018"}, "id_card"),  # bad check digit
        ({"mobile": "12345"}, "mobile"),
        ({"location": ""}, "location"),
        ({"consent": None}, "consent"),
    ],
)
@respx.mock
def test_bad_inputs_fail_before_any_io(kw: dict[str, Any], field: str, consent: Consent) -> None:
    route = respx.post(TX_URL).mock(return_value=_answer("0000", 1))
    args: dict[str, Any] = {
        "card_no": CARD,
        "trans_date": DAY,
        "amount": AMOUNT,
        "consent": consent,
        **kw,
    }
    with _client() as fe, pytest.raises(InvalidInputError) as info:
        fe.verify_transaction(**args)
    assert info.value.field == field
    assert not route.called


@respx.mock
def test_expired_consent_fails_before_io() -> None:
    route = respx.post(SCORE_URL).mock(return_value=_answer("0000", 700))
    expired = Consent(
        reference="R",
        purpose="p",
        granted_at=dt.datetime(2020, 1, 1),
        expires_at=dt.datetime(2020, 2, 1),
    )
    with _client() as fe, pytest.raises(InvalidInputError) as info:
        fe.model_score(CARD, ID_CARD, MOBILE, consent=expired)
    assert info.value.rule == "expired"
    assert not route.called


@respx.mock
def test_luhn_failure_is_a_warning_pointing_at_the_caller(consent: Consent) -> None:
    route = respx.post(TX_URL).mock(return_value=_answer("0000", 1))
    with _client() as fe, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check = fe.verify_transaction(
            f"{SAMPLE_CARD[:4]} {SAMPLE_CARD[4:]}", DAY, AMOUNT, consent=consent
        )
    assert check.matched is True
    assert [w.category for w in caught] == [UnverifiedCardWarning]
    assert caught[0].filename == __file__
    assert SAMPLE_CARD not in str(caught[0].message)
    assert _sent(route.calls.last.request)["data"]["cardNo"] == SAMPLE_CARD  # spaces removed


# -- retries: billing-safe -----------------------------------------------------------------


@respx.mock
def test_gateway_503_is_retried(consent: Consent, no_wait: RetryPolicy) -> None:
    route = respx.post(TX_URL).mock(
        side_effect=[httpx.Response(503, text="<html>unavailable</html>"), _answer("0000", 1)]
    )
    with _client(retry=no_wait) as fe:
        assert fe.verify_transaction(CARD, DAY, AMOUNT, consent=consent).matched is True
    assert route.call_count == 2


@respx.mock
def test_gateway_502_is_maybe_billed_not_retried(consent: Consent, no_wait: RetryPolicy) -> None:
    route = respx.post(TX_URL).mock(
        side_effect=[httpx.Response(502, text="<html>bad gateway</html>"), _answer("0000", 1)]
    )
    with _client(retry=no_wait) as fe, pytest.raises(TransportError) as caught:
        fe.verify_transaction(CARD, DAY, AMOUNT, consent=consent)
    assert caught.value.maybe_billed is True
    assert route.call_count == 1


@respx.mock
def test_connect_error_is_retried(consent: Consent, no_wait: RetryPolicy) -> None:
    route = respx.post(SCORE_URL).mock(
        side_effect=[httpx.ConnectError("refused"), _answer("0000", 640, "resp")]
    )
    with _client(retry=no_wait) as fe:
        assert fe.model_score(CARD, ID_CARD, MOBILE, consent=consent).score == 640
    assert route.call_count == 2


@pytest.mark.parametrize("failure", [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("eof")])
@respx.mock
def test_lost_answer_is_not_retried_and_maybe_billed(
    failure: Exception, consent: Consent, no_wait: RetryPolicy
) -> None:
    route = respx.post(TX_URL).mock(side_effect=[failure, _answer("0000", 1)])
    sink = MemoryAuditSink()
    with _client(retry=no_wait, audit=sink) as fe, pytest.raises(TransportError) as info:
        fe.verify_transaction(CARD, DAY, AMOUNT, consent=consent)
    assert info.value.maybe_billed is True
    assert route.call_count == 1
    assert [(e.outcome, e.maybe_billed) for e in sink.events] == [("transport_error", True)]


async def test_async_lost_answer_is_not_retried(consent: Consent, no_wait: RetryPolicy) -> None:
    with respx.mock:
        route = respx.post(SCORE_URL).mock(side_effect=[httpx.ReadTimeout("x"), _answer("0000", 1)])
        async with _aclient(retry=no_wait) as fe:
            with pytest.raises(TransportError) as info:
                await fe.model_score(CARD, ID_CARD, MOBILE, consent=consent)
    assert info.value.maybe_billed is True
    assert route.call_count == 1


# -- audit and logs ------------------------------------------------------------------------


@respx.mock
def test_audit_events_are_masked(consent: Consent) -> None:
    respx.post(TX_URL).mock(side_effect=[_answer("0000", 1), _answer("0003")])
    sink = MemoryAuditSink()
    with _client(audit=sink) as fe:
        fe.verify_transaction(CARD, DAY, AMOUNT, consent=consent, id_card=ID_CARD)
        fe.verify_transaction(CARD, DAY, AMOUNT, consent=consent)
    assert [e.outcome for e in sink.events] == ["success", "no_data"]
    event = sink.events[0]
    assert event.provider == "fireeye"
    assert event.operation == "transaction_auth"
    assert event.consent_reference == consent.reference
    assert dict(event.applicant or {}) == {
        "card_no": "6222***********0128",
        "id_card": "110105********002X",
    }
    dumped = json.dumps([e.to_dict() for e in sink.events], ensure_ascii=False)
    for secret in (CARD, ID_CARD, APP_KEY):
        assert secret not in dumped


@pytest.mark.parametrize("method", ["POST", "GET"])
@respx.mock
def test_logs_carry_no_credentials_or_personal_data(
    method: str, consent: Consent, caplog: pytest.LogCaptureFixture
) -> None:
    respx.route(url=TX_URL).mock(return_value=_answer("0004"))
    caplog.set_level(logging.DEBUG)
    with _client(method=method) as fe, pytest.raises(ProviderError):
        fe.verify_transaction(CARD, DAY, AMOUNT, consent=consent, mobile=MOBILE)
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("creditsdk"))
    assert "transationAuthentication" in text  # the path is logged ...
    for secret in (APP_KEY, CARD, MOBILE, "data=", "appKey"):
        assert secret not in text  # ... never the query string or the body

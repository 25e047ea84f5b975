"""The pure half: inputs, wire bytes, answers. No network."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditsdk import Consent
from creditsdk._core.executors import as_httpx
from creditsdk.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidInputError,
    ProductNotEnabledError,
    ProviderError,
    ResponseIntegrityError,
)
from creditsdk.fireeye import FireEyeScore, TransactionCheck
from creditsdk.fireeye import _protocol as proto

CREDS = proto.Credentials("INST0001", "s3cr3t-app-key")
CARD = "6222021234567890128"


def _resp(body: object) -> httpx.Response:
    return httpx.Response(200, content=json.dumps(body).encode())


# -- amounts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "fen", "yuan"),
    [
        (Decimal("212.00"), "21200", 212.0),
        (Decimal("212"), "21200", 212.0),
        (Decimal("0.01"), "1", 0.01),
        (Decimal("212.5"), "21250", 212.5),
        (Decimal("1234567.89"), "123456789", 1234567.89),
        (7, "700", 7.0),
    ],
)
def test_amount_encoding_per_unit(amount: Decimal, fen: str, yuan: float) -> None:
    normalized = proto.normalize_amount(amount)
    assert proto.encode_amount(normalized, "fen") == fen
    assert proto.encode_amount(normalized, "yuan") == yuan
    # the JSON text of a yuan amount is the decimal a human would write
    assert json.dumps(proto.encode_amount(normalized, "yuan")) == repr(float(normalized))


@pytest.mark.parametrize(
    ("amount", "rule"),
    [
        (Decimal("0"), "range"),
        (Decimal("-1.00"), "range"),
        (Decimal("0.001"), "precision"),
        (Decimal(10) ** 13, "range"),
        (Decimal("212.123"), "precision"),
        (Decimal("NaN"), "format"),
        (Decimal("Infinity"), "format"),
        (212.0, "type"),
        ("212.00", "type"),
        (True, "type"),
        (None, "type"),
    ],
)
def test_bad_amounts_are_rejected(amount: object, rule: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        proto.normalize_amount(amount)
    assert info.value.field == "amount"
    assert info.value.rule == rule


def test_float_amount_error_suggests_decimal() -> None:
    with pytest.raises(InvalidInputError, match="Decimal"):
        proto.normalize_amount(212.0)


def test_trailing_zero_decimals_are_fine() -> None:
    assert proto.normalize_amount(Decimal("212.1000")) == Decimal("212.10")


# -- dates and locations -------------------------------------------------------------------


def test_trans_date_accepts_date_and_datetime() -> None:
    assert proto.normalize_trans_date(dt.date(2016, 12, 1)) == dt.date(2016, 12, 1)
    assert proto.normalize_trans_date(dt.datetime(2016, 12, 1, 23, 59)) == dt.date(2016, 12, 1)


@pytest.mark.parametrize("value", ["20161201", 20161201, None])
def test_trans_date_must_be_a_date(value: object) -> None:
    with pytest.raises(InvalidInputError) as info:
        proto.normalize_trans_date(value)
    assert (info.value.field, info.value.rule) == ("trans_date", "type")


def test_trans_date_in_the_future_is_rejected() -> None:
    today = dt.date(2026, 11, 22)
    assert proto.normalize_trans_date(dt.date(2026, 11, 23), today=today)  # time zones: tomorrow ok
    with pytest.raises(InvalidInputError) as info:
        proto.normalize_trans_date(dt.date(2026, 11, 24), today=today)
    assert info.value.rule == "future"


def test_location() -> None:
    assert proto.normalize_location(None) is None
    assert proto.normalize_location(" 上海 ") == "上海"
    for bad, rule in (("  ", "required"), (5, "type"), ("x" * 101, "length")):
        with pytest.raises(InvalidInputError) as info:
            proto.normalize_location(bad)
        assert (info.value.field, info.value.rule) == ("location", rule)


# -- configuration -------------------------------------------------------------------------


def test_configuration_checks() -> None:
    assert proto.check_base_url("https://risktech.unionpay.com/") == "https://risktech.unionpay.com"
    assert proto.check_method("get") == "GET"
    for bad in ("ftp://x", "risktech.unionpay.com", "https://x/?a=1"):
        with pytest.raises(ConfigurationError):
            proto.check_base_url(bad)
    with pytest.raises(ConfigurationError):
        proto.check_method("PUT")
    with pytest.raises(ConfigurationError):
        proto.check_amount_unit("jiao")


def test_credentials_repr_hides_the_key() -> None:
    assert "s3cr3t" not in repr(CREDS)
    assert "INST0001" in repr(CREDS)


# -- requests ------------------------------------------------------------------------------


def _op(method: proto.HttpMethod = "POST", unit: proto.AmountUnit = "fen", **extra: object):  # type: ignore[no-untyped-def]
    consent = Consent(reference="R1", purpose="p", granted_at=dt.datetime(2026, 1, 1))
    return proto.transaction_operation(
        base_url="https://h.test/base",
        method=method,
        creds=CREDS,
        amount_unit=unit,
        card_no=CARD,
        trans_date=dt.date(2016, 12, 1),
        amount=Decimal("212.00"),
        consent=consent,
        **extra,  # type: ignore[arg-type]
    )


def test_post_request_wire_bytes() -> None:
    request = as_httpx(_op().build_request())
    assert request.method == "POST"
    assert str(request.url) == "https://h.test/base/fireeye/creditScore/transationAuthentication"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = parse_qs(request.content.decode("ascii"))
    assert list(form) == ["data"]
    assert json.loads(form["data"][0]) == {
        "id": "INST0001",
        "appKey": "s3cr3t-app-key",
        "data": {"cardNo": CARD, "transDate": "20161201", "transAmount": "21200"},
    }


def test_get_request_carries_data_in_the_query() -> None:
    request = as_httpx(
        _op("GET", "yuan", id_card="11010519491231002X", location="上海").build_request()
    )
    assert request.method == "GET"
    assert request.content == b""
    url = urlsplit(str(request.url))
    assert url.path == "/base/fireeye/creditScore/transationAuthentication"
    envelope = json.loads(parse_qs(url.query)["data"][0])
    assert envelope["data"] == {
        "cardNo": CARD,
        "transDate": "20161201",
        "transAmount": 212.0,
        "certid": "11010519491231002X",
        "transLocation": "上海",
    }
    assert '"transAmount":212.0' in parse_qs(url.query)["data"][0]


def test_operation_is_billed_and_not_idempotent_with_masked_applicant() -> None:
    op = _op(id_card="11010519491231002X", mobile="13800138000")
    assert op.billed is True
    assert op.idempotent is False
    assert op.name == "transaction_auth"
    assert dict(op.applicant or {}) == {
        "card_no": "6222***********0128",
        "id_card": "110105********002X",
        "mobile": "138****8000",
    }


def test_model_score_request() -> None:
    consent = Consent(reference="R1", purpose="p", granted_at=dt.datetime(2026, 1, 1))
    op = proto.model_score_operation(
        base_url="https://h.test",
        method="POST",
        creds=CREDS,
        card_no=CARD,
        id_card="11010519491231002X",
        mobile="13800138000",
        consent=consent,
    )
    request = as_httpx(op.build_request())
    assert request.url.path == "/fireeye/creditScore/UnionPayModelScore"
    envelope = json.loads(parse_qs(request.content.decode())["data"][0])
    assert envelope == {
        "id": "INST0001",
        "appKey": "s3cr3t-app-key",
        "data": {"cardNo": CARD, "certid": "11010519491231002X", "mobile": "13800138000"},
    }
    assert (op.billed, op.idempotent) == (True, False)


# -- answers -------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["respCd", "resp"])
def test_transaction_answers(field: str) -> None:
    ok = proto.parse_transaction(_resp({field: "0000", "msg": "Success", "data": 1}), card="c")
    assert ok == TransactionCheck(True, "0000", "Success", None, "c")
    no = proto.parse_transaction(_resp({field: "0000", "msg": "Success", "data": 0}), card="c")
    assert (no.matched, no.reason, no.transaction_found) == (False, "details do not match", True)
    missing = proto.parse_transaction(_resp({field: "0003", "msg": "Failed"}), card="c")
    assert (missing.matched, missing.reason) == (False, "no such transaction")
    assert missing.transaction_found is False
    assert missing.code == "0003"


def test_string_data_and_integer_codes_are_tolerated() -> None:
    assert proto.parse_transaction(_resp({"respCd": 0, "data": "1"}), card="c").matched is True
    assert proto.parse_score(_resp({"resp": "0000", "data": " 888 "}), card="c").score == 888


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("0001", ProductNotEnabledError),
        ("0002", AuthenticationError),
        ("0004", ProviderError),
        ("9999", ProviderError),
        ("E42", ProviderError),
    ],
)
@pytest.mark.parametrize("field", ["respCd", "resp"])
def test_error_codes(code: str, error: type[ProviderError], field: str) -> None:
    with pytest.raises(error) as info:
        proto.parse_transaction(_resp({field: code, "msg": "Failed"}), card="c")
    assert type(info.value) is error
    assert info.value.code == code
    assert info.value.provider == "fireeye"
    with pytest.raises(error):
        proto.parse_score(_resp({field: code, "msg": "Failed"}), card="c")


def test_provider_message_is_redacted_in_errors() -> None:
    with pytest.raises(ProviderError) as info:
        proto.parse_envelope(_resp({"respCd": "0004", "msg": "bad card 6222021234567890128"}))
    assert "6222021234567890128" not in str(info.value)
    assert "6222***********0128" in str(info.value)


@pytest.mark.parametrize(
    "body",
    [
        {"msg": "Success", "data": 1},  # no code
        {"respCd": None, "data": 1},
        {"respCd": True, "data": 1},
        {"respCd": "0000", "data": 2},
        {"respCd": "0000", "data": True},
        {"respCd": "0000"},
        [1, 2],
    ],
)
def test_malformed_transaction_answers(body: object) -> None:
    with pytest.raises(ResponseIntegrityError):
        proto.parse_transaction(_resp(body), card="c")


def test_non_json_answer() -> None:
    with pytest.raises(ResponseIntegrityError, match="not JSON"):
        proto.parse_envelope(httpx.Response(200, content=b"<html>maintenance</html>"))


@pytest.mark.parametrize("score", [300, 301, 999, 1000])
def test_scores_in_range(score: int) -> None:
    result = proto.parse_score(_resp({"resp": "0000", "msg": "Success", "data": score}), card="c")
    assert result == FireEyeScore(score, "0000", "Success", "c")


@pytest.mark.parametrize("data", [299, 1001, 0, -5, "abc", None, 888.5, True, "9" * 5])
def test_scores_out_of_range_or_malformed(data: object) -> None:
    with pytest.raises(ResponseIntegrityError):
        proto.parse_score(_resp({"respCd": "0000", "data": data}), card="c")


def test_model_score_0003_is_malformed() -> None:
    with pytest.raises(ResponseIntegrityError):
        proto.parse_score(_resp({"resp": "0003", "msg": "Failed"}), card="c")


def test_models_to_dict_and_repr() -> None:
    check = TransactionCheck(False, "0003", "Failed", "no such transaction", "6222****0128")
    assert check.to_dict() == {
        "matched": False,
        "reason": "no such transaction",
        "code": "0003",
        "message": "Failed",
        "card": "6222****0128",
    }
    assert "no such transaction" in repr(check)
    score = FireEyeScore(720, card="6222****0128")
    assert score.to_dict()["score"] == 720
    assert repr(score) == "FireEyeScore(score=720, card='6222****0128')"


@given(fen=st.integers(min_value=1, max_value=10**15 - 1))
def test_amounts_round_trip_in_both_units(fen: int) -> None:
    amount = proto.normalize_amount(Decimal(fen) / 100)
    assert proto.encode_amount(amount, "fen") == str(fen)
    as_json = json.dumps(proto.encode_amount(amount, "yuan"))
    assert Decimal(as_json).quantize(Decimal("0.01")) == amount  # the double is exact to the fen

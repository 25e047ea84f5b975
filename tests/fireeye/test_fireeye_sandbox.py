"""The FireEye sandbox as a provider, spoken to without the SDK client (httpx and requests)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import requests

from creditsdk.errors import ConfigurationError
from creditsdk.fireeye.sandbox import FireEyeSandbox
from creditsdk.sandbox import Sandbox

TX_PATH = "/fireeye/creditScore/transationAuthentication"
SCORE_PATH = "/fireeye/creditScore/UnionPayModelScore"
CARD = "6262320120123210"
ID_CARD = "11010519491231002X"
MOBILE = "13800138000"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(providers=["fireeye"], seed=7) as sandbox:
        yield sandbox


@pytest.fixture
def fe(sb: Sandbox) -> FireEyeSandbox:
    sb.clear_ledger()
    provider: FireEyeSandbox = sb.fireeye
    provider.enabled = {"transaction_auth", "model_score"}
    provider.amount_unit = "fen"
    provider.score_code_field = "resp"
    return provider


def _envelope(fe: FireEyeSandbox, data: dict[str, Any], **override: Any) -> str:
    body = {"id": fe.institution_id, "appKey": fe.app_key, "data": data, **override}
    return json.dumps(body, ensure_ascii=False)


def _post(sb: Sandbox, path: str, envelope: str) -> dict[str, Any]:
    response = httpx.post(sb.base_url + path, data={"data": envelope})
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


def _tx_data(card: str, day: dt.date, amount: object, **extra: Any) -> dict[str, Any]:
    return {"cardNo": card, "transDate": day.strftime("%Y%m%d"), "transAmount": amount, **extra}


# -- the seed's own clients ----------------------------------------------------------------


def test_java_sample_shaped_get_with_credentials_as_parameters(
    sb: Sandbox, fe: FireEyeSandbox
) -> None:
    fe.add_transaction(CARD, dt.date(2016, 12, 1), Decimal("212.00"), id_card="411524198810280019")
    data = {"transDate": "20161201", "cardNo": CARD, "certid": "411524198810280019"}
    data["transAmount"] = "21200"
    # exactly what TransationAuthenticationTest.java does, plus id/appKey parameters
    url = f"{sb.base_url}{TX_PATH}?data={quote(json.dumps(data))}"
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Connection": "close"}
    with requests.Session() as http:
        anonymous = http.get(url, headers=headers, timeout=5)
        answer = http.get(
            url, params={"id": fe.institution_id, "appKey": fe.app_key}, headers=headers, timeout=5
        )
    assert anonymous.json() == {"respCd": "0002", "msg": "Failed"}
    assert answer.status_code == 200
    assert answer.json() == {"respCd": "0000", "msg": "Success", "data": 1}
    assert [(e.operation, e.details["result"]) for e in fe.ledger()] == [
        ("transaction_auth", "match")
    ]


def test_java_sample_shaped_model_score_post(sb: Sandbox, fe: FireEyeSandbox) -> None:
    # ModelScoreTest.java: body "data=" + json, not URL-encoded, sent as "JSON"
    body = "data=" + _envelope(fe, {"mobile": MOBILE, "cardNo": CARD, "certid": ID_CARD})
    response = requests.post(
        sb.base_url + SCORE_PATH,
        data=body.encode(),
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.json() == {
        "resp": "0000",
        "msg": "Success",
        "data": fe.score_for(CARD, ID_CARD, MOBILE),
    }


def test_only_the_real_misspelled_path_exists(sb: Sandbox, fe: FireEyeSandbox) -> None:
    envelope = _envelope(fe, _tx_data(CARD, dt.date(2016, 12, 1), "21200"))
    right = httpx.post(sb.base_url + TX_PATH, data={"data": envelope})
    wrong = httpx.post(
        sb.base_url + "/fireeye/creditScore/transactionAuthentication", data={"data": envelope}
    )
    assert right.json()["respCd"] in ("0000", "0003")
    assert wrong.status_code == 404


# -- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "override",
    [{"appKey": "wrong"}, {"id": "SOMEONE"}, {"appKey": None}],
)
def test_wrong_credentials_answer_0002_unbilled(
    sb: Sandbox, fe: FireEyeSandbox, override: dict[str, Any]
) -> None:
    envelope = _envelope(fe, _tx_data(CARD, dt.date(2016, 12, 1), "1"), **override)
    assert _post(sb, TX_PATH, envelope) == {"respCd": "0002", "msg": "Failed"}
    assert fe.ledger() == []


def test_disabled_product_answers_0001_unbilled(sb: Sandbox, fe: FireEyeSandbox) -> None:
    fe.enabled.discard("model_score")
    envelope = _envelope(fe, {"cardNo": CARD, "certid": ID_CARD, "mobile": MOBILE})
    assert _post(sb, SCORE_PATH, envelope) == {"resp": "0001", "msg": "Failed"}
    tx = fe.transactions(CARD)[0]
    tx_envelope = _envelope(fe, _tx_data(CARD, tx.date, str(int(tx.amount * 100))))
    assert _post(sb, TX_PATH, tx_envelope)["respCd"] == "0000"  # the other product still works
    assert [e.operation for e in fe.ledger()] == ["transaction_auth"]


@pytest.mark.parametrize(
    "data",
    [
        "{not json",
        json.dumps({"cardNo": CARD}),  # no inner data object
        None,
    ],
)
def test_unreadable_payloads_answer_0004(sb: Sandbox, fe: FireEyeSandbox, data: str | None) -> None:
    params = {"id": fe.institution_id, "appKey": fe.app_key}
    if data is not None:
        params["data"] = data
    response = httpx.post(sb.base_url + TX_PATH, data=params)
    # a bare object with only a card number, or nothing at all, cannot be checked
    assert response.json()["respCd"] == "0004"
    assert fe.ledger() == []


@pytest.mark.parametrize(
    "data",
    [
        _tx_data("12ab", dt.date(2016, 12, 1), "100"),
        {"cardNo": CARD, "transDate": "2016-12-01", "transAmount": "100"},
        {"cardNo": CARD, "transDate": "20161301", "transAmount": "100"},
        _tx_data(CARD, dt.date(2016, 12, 1), "-100"),
        _tx_data(CARD, dt.date(2016, 12, 1), "0"),
        _tx_data(CARD, dt.date(2016, 12, 1), "abc"),
        _tx_data(CARD, dt.date(2016, 12, 1), None),
        {"transDate": "20161201", "transAmount": "100"},
    ],
)
def test_bad_transaction_fields_answer_0004(
    sb: Sandbox, fe: FireEyeSandbox, data: dict[str, Any]
) -> None:
    assert _post(sb, TX_PATH, _envelope(fe, data))["respCd"] == "0004"
    assert fe.ledger() == []


@pytest.mark.parametrize(
    "data",
    [
        {"cardNo": CARD, "certid": ID_CARD},
        {"cardNo": CARD, "certid": "123", "mobile": MOBILE},
        {"cardNo": CARD, "certid": ID_CARD, "mobile": "999"},
    ],
)
def test_bad_score_fields_answer_0004(
    sb: Sandbox, fe: FireEyeSandbox, data: dict[str, Any]
) -> None:
    assert _post(sb, SCORE_PATH, _envelope(fe, data)) == {"resp": "0004", "msg": "Failed"}
    assert fe.ledger() == []


def test_fail_next_injects_codes(sb: Sandbox, fe: FireEyeSandbox) -> None:
    fe.fail_next("0004", times=2)
    envelope = _envelope(fe, {"cardNo": CARD, "certid": ID_CARD, "mobile": MOBILE})
    assert [_post(sb, SCORE_PATH, envelope)["resp"] for _ in range(3)] == ["0004", "0004", "0000"]
    assert len(fe.ledger()) == 1
    for billed_code in ("0000", "0003"):
        with pytest.raises(ConfigurationError, match="refusal"):
            fe.fail_next(billed_code)


# -- the transaction book ------------------------------------------------------------------


def test_generated_book_is_deterministic_per_seed_and_card() -> None:
    a, b, c = Sandbox(seed=1), Sandbox(seed=1), Sandbox(seed=2)
    book = a.fireeye.transactions(CARD)
    assert book == b.fireeye.transactions(CARD)
    assert book != c.fireeye.transactions(CARD)
    assert book != a.fireeye.transactions("6222021234567890128")
    assert len(book) == 3
    for tx in book:
        assert dt.date(2024, 1, 1) <= tx.date <= dt.date(2025, 12, 31)
        assert Decimal("1.00") <= tx.amount <= Decimal("5000.00")
        assert tx.amount == tx.amount.quantize(Decimal("0.01"))
    assert CARD not in repr(book)


def test_generated_count_is_an_option() -> None:
    assert (
        Sandbox(options={"fireeye": {"generated_transactions": 0}}).fireeye.transactions(CARD) == []
    )


@pytest.mark.parametrize(
    ("unit", "wire", "expected"),
    [
        ("fen", "21200", 1),
        ("fen", 21200, 1),
        ("fen", "212.00", "0003"),  # ¥2.12: no such transaction
        ("yuan", 212.0, 1),
        ("yuan", "212.00", 1),
        ("yuan", "21200", "0003"),  # ¥21,200: no such transaction
    ],
)
def test_amount_unit_of_the_sandbox(
    sb: Sandbox, fe: FireEyeSandbox, unit: str, wire: object, expected: object
) -> None:
    fe.amount_unit = unit
    fe.add_transaction(CARD, dt.date(2016, 12, 1), Decimal("212.00"))
    answer = _post(sb, TX_PATH, _envelope(fe, _tx_data(CARD, dt.date(2016, 12, 1), wire)))
    if expected == "0003":
        assert answer == {"respCd": "0003", "msg": "Failed", "data": 0}
        assert fe.ledger()[-1].details["result"] == "no_such_transaction"
    else:
        assert answer == {"respCd": "0000", "msg": "Success", "data": expected}


def test_optional_details_must_agree(sb: Sandbox, fe: FireEyeSandbox) -> None:
    card = "6222021234567890128"
    day = dt.date(2025, 6, 30)
    fe.add_transaction(card, day, "88.80", id_card=ID_CARD, mobile=MOBILE, location="上海")

    def check(**extra: Any) -> Any:
        return _post(sb, TX_PATH, _envelope(fe, _tx_data(card, day, "8880", **extra)))["data"]

    assert check() == 1
    assert check(certid=ID_CARD, mobile=MOBILE, transLocation="上海") == 1
    assert check(certid="110105194912310037") == 0
    assert check(mobile="13900139000") == 0
    assert check(transLocation="北京") == 0
    assert [e.details["result"] for e in fe.ledger()] == [
        "match",
        "match",
        "mismatch",
        "mismatch",
        "mismatch",
    ]
    for entry in fe.ledger():
        assert entry.details["card"] == "6222***********0128"
        assert entry.provider == "fireeye"


# -- scores --------------------------------------------------------------------------------


def test_scores_are_deterministic_and_in_range() -> None:
    a, b = Sandbox(seed=3).fireeye, Sandbox(seed=3).fireeye
    scores = [a.score_for(CARD, ID_CARD, f"138{i:08d}") for i in range(500)]
    assert scores == [b.score_for(CARD, ID_CARD, f"138{i:08d}") for i in range(500)]
    hits = [s for s in scores if s != -1]  # -1: not hit, for about 12 % of cards
    assert 0.05 < 1 - len(hits) / len(scores) < 0.2
    assert min(hits) >= 300
    assert max(hits) <= 1000
    assert len(set(scores)) > 200  # spread out, not a constant


def test_score_code_field_option(fe: FireEyeSandbox) -> None:
    with Sandbox(providers=["fireeye"], options={"fireeye": {"score_code_field": "respCd"}}) as s:
        envelope = json.dumps(
            {
                "id": s.fireeye.institution_id,
                "appKey": s.fireeye.app_key,
                "data": {"cardNo": CARD, "certid": ID_CARD, "mobile": MOBILE},
            }
        )
        answer = _post(s, SCORE_PATH, envelope)
    assert set(answer) == {"respCd", "msg", "data"}
    ledger = s.ledger("fireeye")
    assert ledger[0].details == {
        "card": "6262********3210",
        "id_card": "110105********002X",
        "mobile": "138****8000",
        "code": "0000",
    }


def test_bad_options_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="amount_unit"):
        Sandbox(options={"fireeye": {"amount_unit": "jiao"}})
    with pytest.raises(ConfigurationError, match="score_code_field"):
        Sandbox(options={"fireeye": {"score_code_field": "code"}})


def test_credentials_are_seeded_and_overridable() -> None:
    assert Sandbox(seed=5).fireeye.app_key == Sandbox(seed=5).fireeye.app_key
    assert Sandbox(seed=5).fireeye.app_key != Sandbox(seed=6).fireeye.app_key
    custom = Sandbox(options={"fireeye": {"institution_id": "I1", "app_key": "K1"}}).fireeye
    assert (custom.institution_id, custom.app_key) == ("I1", "K1")
    assert "K1" not in repr(custom)

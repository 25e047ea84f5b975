"""The Tianyuan sandbox's cheap answer path: kept payload bytes, a fresh IV per call, a spliced
envelope that is exactly the JSON a serialiser writes, and caches that follow the knobs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from ty_helpers import seal, unseal

from creditsdk.sandbox import Sandbox

ID = "11010519491231002X"
PARAMS = {
    "name": "张三",
    "id_card": ID,
    "mobile_no": "13800138000",
    "auth_authorize_file_code": "AUTH1",
}


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(providers=["tianyuan"], seed=3)
    sandbox.tianyuan.balance = None
    yield sandbox
    sandbox.stop()


def post(sb: Sandbox, product: str, params: dict[str, str] = PARAMS) -> httpx.Response:
    key = bytes.fromhex(sb.tianyuan.access_key)
    with httpx.Client(transport=sb.transport(), base_url="http://sandbox.invalid") as http:
        resp = http.post(
            f"/api/v1/{product}",
            json={"data": seal(key, params)},
            headers={"Access-Id": sb.tianyuan.access_id},
        )
    assert resp.status_code == 200
    return resp


@pytest.mark.parametrize("product", ["JRZQ9E2A", "JRZQ8F7C", "COMB86PM"])
def test_envelope_bytes_are_what_a_serialiser_writes(sb: Sandbox, product: str) -> None:
    resp = post(sb, product)
    doc = json.loads(resp.content)
    assert list(doc) == ["code", "message", "transaction_id", "data"]
    assert doc["code"] == 0
    assert doc["message"] == "成功"
    expected = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert resp.content == expected
    assert resp.headers["content-type"] == "application/json;charset=utf-8"


def test_each_call_has_its_own_id_and_iv_over_the_same_payload(sb: Sandbox) -> None:
    first, second = (json.loads(post(sb, "JRZQ9E2A").content) for _ in range(2))
    assert first["transaction_id"] != second["transaction_id"]
    assert first["data"][:24] != second["data"][:24]  # the IV differs
    key = bytes.fromhex(sb.tianyuan.access_key)
    payload: Any = unseal(key, first["data"])
    assert payload == unseal(key, second["data"]) == sb.tianyuan.factors_for(ID)
    entries = sb.ledger("tianyuan")
    assert [e.transaction_id for e in entries] == [
        first["transaction_id"],
        second["transaction_id"],
    ]
    assert [e.seq for e in entries] == [1, 2]
    assert entries[0].details["id_card"] != ID
    assert entries[0].details["result"] == "success"


def test_a_pin_changes_the_answer_and_no_data_is_empty(sb: Sandbox) -> None:
    before = json.loads(post(sb, "JRZQ9E2A").content)
    sb.tianyuan.pin(ID, "no_data")
    after = json.loads(post(sb, "JRZQ9E2A").content)
    assert before["data"]
    assert after["data"] == ""
    sb.tianyuan.pin(ID, "heavy_borrower")
    heavy = unseal(
        bytes.fromhex(sb.tianyuan.access_key), json.loads(post(sb, "JRZQ9E2A").content)["data"]
    )
    assert heavy == sb.tianyuan.factors_for(ID)
    assert [e.details["scenario"] for e in sb.ledger("tianyuan")][1:] == [
        "no_data",
        "heavy_borrower",
    ]


def test_a_new_access_key_is_used_from_the_next_call(sb: Sandbox) -> None:
    post(sb, "JRZQ8F7C")
    sb.tianyuan.access_key = "00112233445566778899aabbccddeeff"
    doc = json.loads(post(sb, "JRZQ8F7C").content)  # sealed with the new key by post()
    assert doc["code"] == 0
    risk = unseal(bytes.fromhex("00112233445566778899aabbccddeeff"), doc["data"])
    assert set(risk) == {"risk_level", "score", "hit_blacklist"}

"""The Tianyuan sandbox on its own (in-process): codes, ledger, balance, determinism, scenarios."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from stdnum.cn import ric
from ty_helpers import seal, unseal

from creditsdk import Applicant, RetryPolicy
from creditsdk.errors import (
    AuthenticationError,
    ConfigurationError,
    InsufficientBalanceError,
    ProductNotEnabledError,
    ProviderError,
)
from creditsdk.sandbox import Sandbox
from creditsdk.tianyuan import SANDBOX_BUCKET_TABLES, load_bucket_tables

ID = "11010519491231002X"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(providers=["tianyuan"], seed=7)
    yield sandbox
    sandbox.stop()


def raw_post(sb: Sandbox, product: str, params: Any, headers: dict[str, str] | None = None) -> Any:
    key = bytes.fromhex(sb.tianyuan.access_key)
    hdrs = {"Access-Id": sb.tianyuan.access_id} if headers is None else headers
    with httpx.Client(transport=sb.transport(), base_url="http://sandbox.invalid") as http:
        resp = http.post(f"/api/v1/{product}", json={"data": seal(key, params)}, headers=hdrs)
    assert resp.status_code == 200
    return resp.json()


def params(id_card: str = ID, **extra: str) -> dict[str, str]:
    return {
        "name": "张三",
        "id_card": id_card,
        "mobile_no": "13800138000",
        "auth_authorize_file_code": "AUTH1",
        **extra,
    }


def ids(n: int) -> list[str]:
    out = []
    for i in range(n):
        body = f"110105{1950 + i % 50}0{1 + i % 9}1{i % 10}{i % 1000:03d}"
        out.append(body + ric.calc_check_digit(body + "0"))
    return out


def test_success_is_billed_with_price_and_masked_details(sb: Sandbox, applicant, consent) -> None:  # type: ignore[no-untyped-def]
    with sb.tianyuan_client() as ty:
        report = ty.multi_lending(applicant, consent=consent)
    (entry,) = sb.ledger("tianyuan")
    assert entry.operation == "JRZQ9E2A"
    assert entry.transaction_id == report.transaction_id
    assert entry.details["price_yuan"] == "0.80"
    assert Decimal(entry.details["price_yuan"]) == sb.tianyuan.prices["JRZQ9E2A"]
    assert entry.details["id_card"] == "110105********002X"
    assert ID not in json.dumps(dict(entry.details), default=str)
    assert sb.tianyuan.balance == 999
    assert dict(report.raw) == sb.tianyuan.factors_for(ID)


@pytest.mark.parametrize(
    ("setup", "error", "code"),
    [
        (lambda sb: setattr(sb.tianyuan, "balance", 0), InsufficientBalanceError, "1007"),
        (
            lambda sb: sb.tianyuan.enabled_products.discard("JRZQ9E2A"),
            ProductNotEnabledError,
            "1008",
        ),
        (lambda sb: setattr(sb.tianyuan, "allowed_ips", {"10.1.2.3"}), AuthenticationError, "1004"),
        (lambda sb: sb.tianyuan.fail_next(1001), ProviderError, "1001"),
        (lambda sb: sb.tianyuan.fail_next(2001, message="查无此人"), ProviderError, "2001"),
    ],
)
def test_refusals_are_typed_and_not_billed(
    sb: Sandbox, setup, error, code, applicant, consent
) -> None:  # type: ignore[no-untyped-def]
    setup(sb)
    with sb.tianyuan_client() as ty, pytest.raises(error) as info:
        ty.multi_lending(applicant, consent=consent)
    assert info.value.code == code
    assert info.value.transaction_id
    assert sb.ledger("tianyuan") == []


def test_fault_injection_is_consumed(sb: Sandbox, applicant, consent) -> None:  # type: ignore[no-untyped-def]
    sb.tianyuan.fail_next(1001, times=2)
    with sb.tianyuan_client(retry=RetryPolicy(initial_backoff=0)) as ty:
        for _ in range(2):
            with pytest.raises(ProviderError):
                ty.multi_lending(applicant, consent=consent)
        assert ty.multi_lending(applicant, consent=consent).transaction_id
    assert len(sb.ledger("tianyuan")) == 1


def test_wrong_access_id_and_wrong_key(sb: Sandbox, applicant, consent) -> None:  # type: ignore[no-untyped-def]
    with (
        sb.tianyuan_client(access_id="someone-else") as ty,
        pytest.raises(AuthenticationError) as a,
    ):
        ty.multi_lending(applicant, consent=consent)
    assert a.value.code == "1006"
    with sb.tianyuan_client(access_key="ab" * 16) as ty, pytest.raises(ProviderError) as b:
        ty.multi_lending(applicant, consent=consent)
    assert b.value.code == "1002"
    assert "key_format" in str(b.value)
    # the seed's reading of a hex key (its first 16 characters) is refused too
    key16 = sb.tianyuan.access_key[:16]
    with (
        sb.tianyuan_client(access_key=key16, key_format="utf8") as ty,
        pytest.raises(ProviderError) as c,
    ):
        ty.multi_lending(applicant, consent=consent)
    assert c.value.code == "1002"
    assert sb.ledger("tianyuan") == []


def test_raw_protocol_checks(sb: Sandbox) -> None:
    assert raw_post(sb, "JRZQ9E2A", params(), headers={})["code"] == 1005
    assert raw_post(sb, "JRZQ9E2A", params(), headers={"Access-Id": "x"})["code"] == 1006
    bad_id = raw_post(sb, "JRZQ9E2A", params(id_card="110101199001011234"))  # seed's number
    assert bad_id["code"] == 1003
    assert "id_card" in bad_id["message"]
    missing = {k: v for k, v in params().items() if k != "auth_authorize_file_code"}
    assert raw_post(sb, "JRZQ9E2A", missing)["code"] == 1003
    assert raw_post(sb, "NOPE0001", params())["code"] == 1008
    assert raw_post(sb, "FLXG0V4B", params())["code"] == 1008  # known, not enabled
    ok = raw_post(sb, "JRZQ9E2A", params())
    assert ok["code"] == 0
    assert unseal(bytes.fromhex(sb.tianyuan.access_key), ok["data"]) == sb.tianyuan.factors_for(ID)
    with httpx.Client(transport=sb.transport(), base_url="http://sandbox.invalid") as http:
        garbage = http.post(
            "/api/v1/JRZQ9E2A", content=b"{}", headers={"Access-Id": sb.tianyuan.access_id}
        ).json()
        not_b64 = http.post(
            "/api/v1/JRZQ9E2A",
            json={"data": "%%%"},
            headers={"Access-Id": sb.tianyuan.access_id},
        ).json()
    assert garbage["code"] == 1002
    assert not_b64["code"] == 1002
    assert len(sb.ledger("tianyuan")) == 1


def test_no_data_scenario_is_billed(sb: Sandbox, applicant, consent) -> None:  # type: ignore[no-untyped-def]
    sb.tianyuan.pin(applicant.id_card, "no_data")
    with sb.tianyuan_client() as ty:
        report = ty.multi_lending(applicant, consent=consent)
    assert report.has_data is False
    assert [e.details["result"] for e in sb.ledger("tianyuan")] == ["no_data"]
    with pytest.raises(ConfigurationError, match="unknown scenario"):
        sb.tianyuan.pin(ID, "rich")


def test_deterministic_per_id_and_seed() -> None:
    a, b, c = (Sandbox(providers=["tianyuan"], seed=s) for s in (1, 1, 2))
    for id_card in ids(20):
        assert a.tianyuan.factors_for(id_card) == b.tianyuan.factors_for(id_card)
    assert a.tianyuan.access_key == b.tianyuan.access_key != c.tianyuan.access_key
    assert len(a.tianyuan.access_key) == 32
    int(a.tianyuan.access_key, 16)
    assert any(a.tianyuan.factors_for(i) != c.tianyuan.factors_for(i) for i in ids(20))


def test_scenarios(sb: Sandbox) -> None:
    tables = load_bucket_tables(SANDBOX_BUCKET_TABLES)
    t = sb.tianyuan
    thin, heavy, overdue = ids(3)
    t.pin(thin, "thin_file")
    t.pin(heavy, "heavy_borrower")
    t.pin(overdue, "currently_overdue")
    thin_f, heavy_f, over_f = (t.factors_for(i) for i in (thin, heavy, overdue))
    assert 350 <= len(thin_f) <= 370
    assert sum(v == "" for v in thin_f.values()) / len(thin_f) > 0.85
    assert sum(v == "" for v in heavy_f.values()) / len(heavy_f) < 0.35
    assert int(heavy_f["xyp_cpl0009"]) >= 3
    assert int(heavy_f["xyp_cpl0001"]) >= int(heavy_f["xyp_cpl0002"] or 0)
    assert over_f["xyp_cpl0044"] == "1"
    assert over_f["xyp_cpl0071"] != ""
    assert heavy_f["xyp_cpl0044"] in ("", "0")
    for f in (heavy_f, over_f):
        assert 350 <= int(f["xyp_model_score_high"]) <= 950
        assert 0 <= float(f["xyp_cpl0081"]) <= 1
    # every bucket code the sandbox emits decodes with its synthetic tables
    from creditsdk.tianyuan import MultiLendingReport

    for f in (thin_f, heavy_f, over_f):
        counts = MultiLendingReport.from_factors(f, tables=tables).counts()
        assert "unrecognized" not in counts


def test_population_is_mostly_thin_with_some_heavy_borrowers(sb: Sandbox) -> None:
    scenarios = [sb.tianyuan.scenario_for(i) for i in ids(400)]
    share = {s: scenarios.count(s) / len(scenarios) for s in set(scenarios)}
    assert 0.4 < share["thin_file"] < 0.7
    assert 0.05 < share["heavy_borrower"] < 0.2
    assert share.get("currently_overdue", 0) > 0.02


def test_composite_product_end_to_end(sb: Sandbox, applicant, consent) -> None:  # type: ignore[no-untyped-def]
    with sb.tianyuan_client() as ty:
        result = ty.call("COMB86PM", params(applicant.id_card), consent=consent)
    assert [r.api_code for r in result.responses] == ["JRZQ9E2A", "JRZQ8F7C"]
    assert result.response("JRZQ9E2A").data == sb.tianyuan.factors_for(applicant.id_card)
    assert result.response("JRZQ8F7C").data["risk_level"] in ("low", "medium", "high")
    (entry,) = sb.ledger("tianyuan")
    assert (entry.operation, entry.details["price_yuan"]) == ("COMB86PM", "1.20")


def test_sandbox_repr_and_knobs_hide_nothing_personal(sb: Sandbox) -> None:
    assert sb.tianyuan.access_key not in repr(sb.tianyuan)
    assert "JRZQ9E2A" in sb.tianyuan.enabled_products
    assert any(p.startswith("COMB") for p in sb.tianyuan.enabled_products)
    assert all(ric.is_valid(i) for i in ids(400))  # the population above is of valid IDs
    Applicant(name="李四", id_card=ids(1)[0], mobile="13900139000")

"""Typed products are one declaration: a test-only product (ty_probe_product) registers, is
called through the client (wire bytes decrypted with pycryptodome, not the client) and through
the Sandbox, and the generic entry points (by code or name) pick it up."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from ty_helpers import ACCESS_ID, BASE, KEY_HEX, seal, unseal
from ty_probe_product import CODE, PROBE, ProbeResult

from creditsdk import Applicant, Consent, MemoryAuditSink
from creditsdk.errors import ConfigurationError, InvalidInputError
from creditsdk.sandbox import Sandbox
from creditsdk.tianyuan import AsyncTianyuanClient, MultiLendingReport, TianyuanClient
from creditsdk.tianyuan import _protocol as proto

KEY = bytes.fromhex(KEY_HEX)
APPLICANT = Applicant(name="张三", id_card="11010519491231002X", mobile="13800138000")
CONSENT = Consent(
    reference="AUTH20251210001", purpose="credit_underwriting", granted_at=dt.datetime(2026, 11, 1)
)


@pytest.fixture
def probe() -> Iterator[proto.Product[Any, ProbeResult]]:
    proto.register_product(PROBE)
    try:
        yield PROBE
    finally:
        proto.unregister_product(PROBE)
    assert PROBE not in proto.products()


def proto_config() -> proto.TianyuanConfig:
    return proto.TianyuanConfig.from_env(access_id=ACCESS_ID, access_key=KEY_HEX, base_url=BASE)


def _answer(data: Any, tid: str = "TID-PROBE-1") -> httpx.Response:
    return httpx.Response(
        200, json={"code": 0, "message": "成功", "transaction_id": tid, "data": seal(KEY, data)}
    )


def test_multi_lending_is_a_registered_declaration() -> None:
    assert proto.MULTI_LENDING in proto.products()
    assert proto.find_product("JRZQ9E2A") is proto.MULTI_LENDING
    assert proto.find_product("multi_lending") is proto.MULTI_LENDING
    assert proto.MULTI_LENDING.result is MultiLendingReport
    assert proto.MULTI_LENDING.columns == ("name", "id_card", "mobile")


@pytest.mark.usefixtures("probe")
def test_every_product_has_a_valid_example_of_its_columns() -> None:
    for product in proto.products():
        assert set(product.example) <= set(product.columns)
        inputs = product.inputs(**product.example)
        op = proto.query(proto_config(), product.code, consent=CONSENT, **product.example)
        assert op.name == product.code
        assert op.applicant == dict(inputs.masked())


def test_the_client_calls_a_registered_product(probe: Any) -> None:
    sink = MemoryAuditSink()
    with respx.mock(base_url=BASE) as mock:
        route = mock.post(f"/api/v1/{CODE}").mock(return_value=_answer({"b": 1, "a": 2}))
        with TianyuanClient(ACCESS_ID, KEY_HEX, BASE, audit=sink) as ty:
            result = ty.query(probe, applicant=APPLICANT, months="12", consent=CONSENT)
    assert isinstance(result, ProbeResult)
    assert result == ProbeResult("TID-PROBE-1", True, ("a", "b"))
    (call,) = route.calls
    assert call.request.headers["Access-Id"] == ACCESS_ID
    sent = unseal(KEY, json.loads(call.request.content)["data"])
    assert sent == {
        "name": "张三",
        "id_card": "11010519491231002X",
        "mobile_no": "13800138000",
        "months": "12",
        "authorized": "1",
    }
    (event,) = sink.events
    assert event.operation == CODE
    assert event.applicant == APPLICANT.masked()


@pytest.mark.parametrize("product", [CODE, "probe"])
async def test_by_code_or_name_and_async(probe: Any, product: str) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.post(f"/api/v1/{CODE}").mock(return_value=_answer(None))
        async with AsyncTianyuanClient(ACCESS_ID, KEY_HEX, BASE) as ty:
            result = await ty.query(
                product,
                name="张三",
                id_card="11010519491231002x",
                mobile="138 0013 8000",
                consent=CONSENT,
            )
    assert result == ProbeResult("TID-PROBE-1", False, ())


@pytest.mark.parametrize(
    ("raw", "field", "rule"),
    [
        ({"applicant": APPLICANT, "months": "0"}, "months", "range"),
        ({"applicant": APPLICANT, "months": "6x"}, "months", "range"),
        ({"applicant": APPLICANT, "colour": "red"}, "colour", "unknown"),
        ({"name": "张三", "id_card": "110101199001011234", "mobile": "13800138000"}, "id_card",
         "checksum"),
        ({"name": "张三", "id_card": "11010519491231002X"}, "mobile", "required"),
    ],
)  # fmt: skip
def test_bad_inputs_are_refused_before_io(
    probe: Any, raw: dict[str, Any], field: str, rule: str
) -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        route = mock.post(f"/api/v1/{CODE}")
        with TianyuanClient(ACCESS_ID, KEY_HEX, BASE) as ty, pytest.raises(InvalidInputError) as e:
            ty.query(PROBE, consent=CONSENT, **raw)
    assert (e.value.field, e.value.rule) == (field, rule)
    assert not route.called


def test_unregistered_products_are_refused_before_io() -> None:
    assert PROBE not in proto.products()
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        route = mock.post(f"/api/v1/{CODE}")
        with TianyuanClient(ACCESS_ID, KEY_HEX, BASE) as ty:
            for product in (CODE, "probe", 42):
                with pytest.raises(InvalidInputError) as e:
                    ty.query(product, applicant=APPLICANT, consent=CONSENT)  # type: ignore[call-overload]
                assert (e.value.field, e.value.rule) == ("product", "unknown")
    assert not route.called


def test_a_code_or_name_is_declared_once(probe: Any) -> None:
    assert proto.register_product(PROBE) is PROBE  # the same declaration again: a no-op
    import attrs

    with pytest.raises(ConfigurationError, match="already declared"):
        proto.register_product(attrs.evolve(PROBE, name="other"))
    with pytest.raises(ConfigurationError, match="already declared"):
        proto.register_product(attrs.evolve(PROBE, code="JRZQ9E2A", name="other"))
    with pytest.raises(ConfigurationError):
        proto.register_product(attrs.evolve(PROBE, code="lower1"))


def test_through_the_sandbox(probe: Any) -> None:
    with Sandbox(providers=["tianyuan"], seed=5) as sb:
        # The Sandbox answers the product as its declaration says (the folder's own payload).
        sandbox_data = probe.sandbox_data
        assert sandbox_data is not None
        sb.tianyuan.add_product(CODE, sandbox_data)
        sb.tianyuan.pin(APPLICANT.id_card, "light")
        with sb.tianyuan_client() as ty:
            result = ty.query(CODE, applicant=APPLICANT, consent=CONSENT)
            report = ty.query("multi_lending", applicant=APPLICANT, consent=CONSENT)
            named = ty.multi_lending(APPLICANT, consent=CONSENT)
        ledger = sb.ledger("tianyuan")
    assert isinstance(result, ProbeResult)
    assert result.has_data
    assert [(e.operation, e.transaction_id) for e in ledger] == [
        (CODE, result.transaction_id),
        ("JRZQ9E2A", report.transaction_id),
        ("JRZQ9E2A", named.transaction_id),
    ]
    assert isinstance(report, MultiLendingReport)
    assert report.factors == named.factors


def test_add_product_refuses_a_bad_code_a_known_one_and_a_non_callable() -> None:
    from creditsdk.errors import ConfigurationError

    with Sandbox(providers=["tianyuan"]) as sb:
        with pytest.raises(ConfigurationError, match="not a product code"):
            sb.tianyuan.add_product("jrzq 1", lambda params, scenario: None)
        with pytest.raises(ConfigurationError, match="already answers JRZQ9E2A"):
            sb.tianyuan.add_product("JRZQ9E2A", lambda params, scenario: None)
        with pytest.raises(ConfigurationError, match="callable"):
            sb.tianyuan.add_product("TSTADD01", "data")  # type: ignore[arg-type]
        assert "TSTADD01" not in sb.tianyuan.implemented_products
        sb.tianyuan.add_product("TSTADD01", lambda params, scenario: None, enabled=False)
        assert "TSTADD01" in sb.tianyuan.implemented_products
        assert "TSTADD01" not in sb.tianyuan.enabled_products

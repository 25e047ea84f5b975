"""Every provider code and failure, over respx: typed errors, no decryption on error, billing."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
import respx
from ty_helpers import ACCESS_ID, BASE, KEY_HEX, seal

from creditsdk import MemoryAuditSink, RetryPolicy
from creditsdk.errors import (
    AuthenticationError,
    InsufficientBalanceError,
    InvalidInputError,
    ProductNotEnabledError,
    ProviderError,
    ResponseIntegrityError,
    TransportError,
)
from creditsdk.tianyuan import AsyncTianyuanClient, TianyuanClient

KEY = bytes.fromhex(KEY_HEX)


def client(**kw: Any) -> TianyuanClient:
    return TianyuanClient(ACCESS_ID, KEY_HEX, BASE, **kw)


@pytest.mark.parametrize(
    ("code", "error", "fragment"),
    [
        (1001, ProviderError, "interface exception"),
        (1002, ProviderError, "could not decrypt the request"),
        (1003, ProviderError, "parameter validation"),
        (1004, AuthenticationError, "IP"),
        (1005, AuthenticationError, "Access-Id header missing"),
        (1006, AuthenticationError, "Access-Id not authorised"),
        (1007, InsufficientBalanceError, "insufficient balance"),
        (1008, ProductNotEnabledError, "not enabled"),
        (2001, ProviderError, "business failure"),
        (4242, ProviderError, "unknown error code"),
    ],
)
def test_codes_map_to_typed_errors(
    code: int, error: type[ProviderError], fragment: str, applicant, consent
) -> None:  # type: ignore[no-untyped-def]
    sink = MemoryAuditSink()
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/api/v1/JRZQ9E2A").respond(
            json={"code": code, "message": "错误说明", "transaction_id": f"E{code}", "data": "%%"}
        )
        with client(audit=sink) as ty, pytest.raises(ProviderError) as info:
            ty.multi_lending(applicant, consent=consent)
    err = info.value
    assert type(err) is error
    assert err.code == str(code)
    assert err.provider == "tianyuan"
    assert err.transaction_id == f"E{code}"
    assert fragment in err.message
    assert "错误说明" in err.message
    assert route.call_count == 1  # a provider "no" is never retried
    assert [e.outcome for e in sink.events] == ["provider_error"]
    assert sink.events[0].error_code == str(code)


def test_1002_says_check_the_key_format(applicant, consent) -> None:  # type: ignore[no-untyped-def]
    with respx.mock(base_url=BASE) as mock:
        mock.post("/api/v1/JRZQ9E2A").respond(
            json={"code": 1002, "message": "参数解密失败", "transaction_id": "x"}
        )
        with client() as ty, pytest.raises(ProviderError) as info:
            ty.multi_lending(applicant, consent=consent)
    assert not isinstance(info.value, ResponseIntegrityError)
    assert "key_format" in str(info.value)


def test_error_data_is_never_decrypted(monkeypatch: pytest.MonkeyPatch, applicant, consent) -> None:  # type: ignore[no-untyped-def]
    from creditsdk.tianyuan import _protocol

    def boom(*_a: object, **_k: object) -> bytes:
        raise AssertionError("decrypt called on an error answer")

    monkeypatch.setattr(_protocol, "decrypt_envelope", boom)
    with respx.mock(base_url=BASE) as mock:
        mock.post("/api/v1/JRZQ9E2A").respond(
            json={"code": 1007, "message": "余额不足", "data": seal(KEY, {"a": "b"})}
        )
        with client() as ty, pytest.raises(InsufficientBalanceError):
            ty.multi_lending(applicant, consent=consent)


@pytest.mark.parametrize("data", ["", None, "<absent>"])
def test_code_0_without_data_is_no_data(data: object, applicant, consent) -> None:  # type: ignore[no-untyped-def]
    body: dict[str, Any] = {"code": 0, "message": "成功", "transaction_id": "T0"}
    if data != "<absent>":
        body["data"] = data
    sink = MemoryAuditSink()
    with respx.mock(base_url=BASE) as mock:
        mock.post("/api/v1/JRZQ9E2A").respond(json=body)
        mock.post("/api/v1/JRZQ8F7C").respond(json=body)
        with client(audit=sink) as ty:
            report = ty.multi_lending(applicant, consent=consent)
            result = ty.call(
                "JRZQ8F7C",
                {"id_card": applicant.id_card, "name": "张三", "mobile_no": "13800138000"},
                consent=consent,
            )
    assert report.has_data is False
    assert dict(report.raw) == {}
    assert report.transaction_id == "T0"
    assert report.total_institutions.status == "absent"
    assert result.data is None
    assert result.has_data is False
    assert [e.outcome for e in sink.events] == ["no_data", "no_data"]


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ("@@not-base64@@", "not valid base64"),
        (base64.b64encode(b"\x00" * 40).decode(), "ciphertext length"),
        (seal(b"w" * 16, {"xyp_cpl0001": "1"}), "could not be decrypted"),
        ("<not json>", "not UTF-8 JSON"),
        ("<a list>", "not an object of factors"),
        ("<nested>", "not a string"),
        (12345, "not a string"),
    ],
)
def test_unusable_data_is_an_integrity_error(data: object, why: str, applicant, consent) -> None:  # type: ignore[no-untyped-def]
    if data == "<not json>":
        iv = b"\x02" * 16
        from Crypto.Cipher import AES
        from Crypto.Util.Padding import pad

        data = base64.b64encode(
            iv + AES.new(KEY, AES.MODE_CBC, iv).encrypt(pad(b"{nope", 16))
        ).decode()
    elif data == "<a list>":
        data = seal(KEY, ["xyp_cpl0001"])
    elif data == "<nested>":
        data = seal(KEY, {"xyp_cpl0001": {"a": 1}})
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/api/v1/JRZQ9E2A").respond(
            json={"code": 0, "message": "成功", "transaction_id": "T5", "data": data}
        )
        with client() as ty, pytest.raises(ResponseIntegrityError) as info:
            ty.multi_lending(applicant, consent=consent)
    assert why in str(info.value)
    assert info.value.transaction_id == "T5"
    assert info.value.maybe_billed is True  # the provider answered code 0: it billed
    assert route.call_count == 1


@pytest.mark.parametrize(
    "content", [b"<html>gateway</html>", b"[1,2]", b'{"message":"no code"}', b'{"code":true}']
)
def test_malformed_envelopes(content: bytes, applicant, consent) -> None:  # type: ignore[no-untyped-def]
    with respx.mock(base_url=BASE) as mock:
        mock.post("/api/v1/JRZQ9E2A").respond(200, content=content)
        with client() as ty, pytest.raises(ResponseIntegrityError):
            ty.multi_lending(applicant, consent=consent)


def test_string_code_is_tolerated(applicant, consent) -> None:  # type: ignore[no-untyped-def]
    with respx.mock(base_url=BASE) as mock:
        mock.post("/api/v1/JRZQ9E2A").respond(
            json={"code": "1008", "message": "产品未开通", "transaction_id": "T"}
        )
        with client() as ty, pytest.raises(ProductNotEnabledError):
            ty.multi_lending(applicant, consent=consent)


def test_gateway_503_is_retried_but_a_read_timeout_is_not(applicant, consent) -> None:  # type: ignore[no-untyped-def]
    ok = {"code": 0, "message": "", "transaction_id": "T", "data": seal(KEY, {"xyp_cpl0001": "1"})}
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/api/v1/JRZQ9E2A")
        route.side_effect = [httpx.Response(503, text="busy"), httpx.Response(200, json=ok)]
        with client(retry=RetryPolicy(initial_backoff=0)) as ty:
            report = ty.multi_lending(applicant, consent=consent)
        assert route.call_count == 2
        assert report.raw == {"xyp_cpl0001": "1"}
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/api/v1/JRZQ9E2A").mock(side_effect=httpx.ReadTimeout("slow"))
        with (
            client(retry=RetryPolicy(initial_backoff=0)) as ty,
            pytest.raises(TransportError) as info,
        ):
            ty.multi_lending(applicant, consent=consent)
        assert info.value.maybe_billed is True
        assert route.call_count == 1


def test_inputs_are_validated_before_any_io(applicant, consent) -> None:  # type: ignore[no-untyped-def]
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        route = mock.post(path__regex=r"/api/v1/.*").respond(json={"code": 0})
        with client() as ty:
            with pytest.raises(InvalidInputError, match="consent"):
                ty.multi_lending(applicant, consent=None)  # type: ignore[arg-type]
            with pytest.raises(InvalidInputError, match="applicant"):
                ty.multi_lending({"id_card": "x"}, consent=consent)  # type: ignore[arg-type]
            with pytest.raises(InvalidInputError, match="product_code"):
                ty.call("jrzq9e2a", {}, consent=consent)
            with pytest.raises(InvalidInputError) as info:
                ty.call("JRZQ8F7C", {"id_card": "110101199001011234"}, consent=consent)
            assert info.value.rule == "checksum"
            assert "110101199001011234" not in str(info.value)
            with pytest.raises(InvalidInputError, match=r"params\.mobile_no"):
                ty.call("JRZQ8F7C", {"mobile_no": "1234"}, consent=consent)
            with pytest.raises(InvalidInputError, match="params"):
                ty.call("JRZQ8F7C", {"x": object()}, consent=consent)
        assert route.call_count == 0


def test_call_sends_params_as_given_and_masks_the_audit(applicant, consent) -> None:  # type: ignore[no-untyped-def]
    from ty_helpers import unseal

    sink = MemoryAuditSink()
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/api/v1/IVYZ5733").respond(
            json={"code": 0, "message": "成功", "transaction_id": "T7", "data": seal(KEY, {"r": 1})}
        )
        params = {"idCard": " 11010519491231002x ", "phone": "138 0013 8000", "authorized": "1"}
        with client(audit=sink) as ty:
            result = ty.call("IVYZ5733", params, consent=consent)
    sent = unseal(KEY, __import__("json").loads(route.calls.last.request.content)["data"])
    assert sent == {"idCard": "11010519491231002X", "phone": "13800138000", "authorized": "1"}
    assert result.data == {"r": 1}
    assert result.responses == ()
    assert sink.events[0].applicant == {"id_card": "110105********002X", "mobile": "138****8000"}
    assert "11010519491231002X" not in repr(result)


def test_composite_responses_are_parsed(applicant, consent) -> None:  # type: ignore[no-untyped-def]
    payload = {
        "responses": [
            {"api_code": "JRZQ9E2A", "success": True, "data": {"xyp_cpl0001": "2"}},
            {"api_code": "JRZQ8F7C", "success": False, "data": '{"risk_level":"low"}'},
        ]
    }
    with respx.mock(base_url=BASE) as mock:
        mock.post("/api/v1/COMB86PM").respond(
            json={"code": 0, "message": "成功", "transaction_id": "TC", "data": seal(KEY, payload)}
        )
        mock.post("/api/v1/COMBBAD1").respond(
            json={"code": 0, "message": "成功", "transaction_id": "TB", "data": seal(KEY, {"x": 1})}
        )
        with client() as ty:
            result = ty.call("COMB86PM", {"id_card": applicant.id_card}, consent=consent)
            with pytest.raises(ResponseIntegrityError, match="responses"):
                ty.call("COMBBAD1", {}, consent=consent)
    assert [(r.api_code, r.success) for r in result.responses] == [
        ("JRZQ9E2A", True),
        ("JRZQ8F7C", False),
    ]
    assert result.response("JRZQ9E2A").data == {"xyp_cpl0001": "2"}
    assert result.response("JRZQ8F7C").data == {"risk_level": "low"}
    assert result.to_dict()["responses"][0]["api_code"] == "JRZQ9E2A"


async def test_async_client_maps_codes_too(applicant, consent) -> None:  # type: ignore[no-untyped-def]
    with respx.mock(base_url=BASE) as mock:
        mock.post("/api/v1/JRZQ9E2A").respond(
            json={"code": 1006, "message": "未经授权的AccessId", "transaction_id": "A1"}
        )
        async with AsyncTianyuanClient(ACCESS_ID, KEY_HEX, BASE) as ty:
            with pytest.raises(AuthenticationError) as info:
                await ty.multi_lending(applicant, consent=consent)
    assert info.value.code == "1006"

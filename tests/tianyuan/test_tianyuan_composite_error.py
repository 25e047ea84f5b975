"""A failed part of a composite (COMB…) answer carries "error" with data null (PROTOCOLS §1)."""

from __future__ import annotations

import respx
from ty_helpers import ACCESS_ID, BASE, KEY_HEX, seal

from creditsdk import Applicant, Consent
from creditsdk.sandbox import Sandbox
from creditsdk.tianyuan import TianyuanClient

KEY = bytes.fromhex(KEY_HEX)


def test_failed_part_keeps_its_error_masked(applicant: Applicant, consent: Consent) -> None:
    payload = {
        "responses": [
            {"api_code": "JRZQ9E2A", "success": True, "data": {"xyp_cpl0001": "2"}},
            # the provider's reason, echoing the ID number it refused
            {"api_code": "JRZQ8F7C", "success": False, "data": None,
             "error": "参数校验不正确: id_card 11010519491231002X"},
        ]
    }  # fmt: skip
    with respx.mock(base_url=BASE) as mock:
        mock.post("/api/v1/COMB86PM").respond(
            json={"code": 0, "message": "成功", "transaction_id": "TC", "data": seal(KEY, payload)}
        )
        with TianyuanClient(ACCESS_ID, KEY_HEX, BASE) as ty:
            result = ty.call("COMB86PM", {"id_card": applicant.id_card}, consent=consent)
    failed = result.response("JRZQ8F7C")
    assert (failed.success, failed.data) == (False, None)
    assert failed.error == "参数校验不正确: id_card 110105********002X"
    assert result.response("JRZQ9E2A").error is None
    assert result.to_dict()["responses"][1]["error"] == failed.error
    assert "11010519491231002X" not in repr(failed)
    assert "参数校验不正确" in repr(failed)


def test_sandbox_sends_error_and_null_data_for_a_failed_part(
    applicant: Applicant, consent: Consent
) -> None:
    with Sandbox(providers=["tianyuan"], seed=3) as sb:
        sb.tianyuan.pin(applicant.id_card, "no_data")
        params = {"name": applicant.name, "id_card": applicant.id_card,
                  "mobile_no": applicant.mobile, "auth_authorize_file_code": "AUTH1"}  # fmt: skip
        with sb.tianyuan_client() as ty:
            result = ty.call("COMB86PM", params, consent=consent)
    assert [(r.success, r.data, r.error) for r in result.responses] == [
        (False, None, "查询无结果"),
        (False, None, "查询无结果"),
    ]

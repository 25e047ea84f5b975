"""The request a Tianyuan operation builds, byte for byte: the body and query written directly
(not through json.dumps / urlencode) and the params encoded once are what they were."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

import attrs
import pytest
from ty_helpers import ACCESS_ID, BASE, KEY_HEX

from creditsdk import Consent
from creditsdk._core.crypto import aes_cbc_decrypt, aes_cbc_encrypt
from creditsdk.tianyuan import _protocol as proto

IV = bytes(range(16))
PARAMS = {"name": "张三", "id_card": "11010519491231002x", "mobile_no": "138 0013 8000", "n": 1}


def _config(clock: Any = lambda: 1764652800123) -> proto.TianyuanConfig:
    config = proto.TianyuanConfig.from_env(access_id=ACCESS_ID, access_key=KEY_HEX, base_url=BASE)
    return attrs.evolve(config, clock_ms=clock, iv=lambda: IV)


def test_call_request_is_the_json_and_query_of_before(consent: Consent) -> None:
    config = _config()
    request = proto.call(
        config, consent=consent, product_code="JRZQ8F7C", params=PARAMS
    ).build_request()
    sent = {"name": "张三", "id_card": "11010519491231002X", "mobile_no": "13800138000", "n": 1}
    plaintext = json.dumps(sent, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    data = base64.b64encode(IV + aes_cbc_encrypt(config.key, plaintext, IV)).decode()
    assert request.body == json.dumps({"data": data}, separators=(",", ":")).encode("ascii")
    assert request.url == f"{BASE}/api/v1/JRZQ8F7C?{urlencode({'t': '1764652800123'})}"
    assert request.headers == (("Access-Id", ACCESS_ID), ("Content-Type", "application/json"))
    blob = base64.b64decode(json.loads(request.body)["data"])
    assert aes_cbc_decrypt(config.key, blob[16:], blob[:16]) == plaintext


@pytest.mark.parametrize(("stamp", "query"), [(True, "t=True"), ("12 3", "t=12+3"), (-5, "t=-5")])
def test_an_unusual_clock_value_is_still_url_encoded(
    consent: Consent, stamp: object, query: str
) -> None:
    op = proto.call(_config(lambda: stamp), consent=consent, product_code="JRZQ8F7C", params={})
    assert op.build_request().url == f"{BASE}/api/v1/JRZQ8F7C?{query}"


def test_call_inputs_hold_the_params_as_sent() -> None:
    inputs = proto.inputs_call("JRZQ8F7C", PARAMS)
    assert inputs.encoded == proto.encode_params(dict(inputs.params))
    assert proto.inputs_call("JRZQ8F7C", PARAMS) == inputs


def test_a_typed_product_still_encodes_its_own_params(consent: Consent) -> None:
    # Only the generic call sends its inputs' params as given; other products build theirs.
    config = _config()
    op = proto.multi_lending(
        config, consent=consent, name="张三", id_card="11010519491231002X", mobile="13800138000"
    )
    blob = base64.b64decode(json.loads(op.build_request().body)["data"])
    assert json.loads(aes_cbc_decrypt(config.key, blob[16:], blob[:16])) == {
        "name": "张三",
        "id_card": "11010519491231002X",
        "mobile_no": "13800138000",
        "auth_authorize_file_code": consent.reference,
    }

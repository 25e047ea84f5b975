"""Fuzz: the Tianyuan envelope, response parsing and factor decoding let only creditsdk errors
out, and encrypt → decrypt round-trips for any payload."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
from typing import Any

from hypothesis import given

from creditsdk import Applicant, Consent
from creditsdk.errors import CreditSDKError, ResponseIntegrityError
from creditsdk.tianyuan import SANDBOX_BUCKET_TABLES, MultiLendingReport, load_bucket_tables
from creditsdk.tianyuan import _protocol as proto
from creditsdk.tianyuan.models import TianyuanResult

from ._profile import FUZZ
from .source import SEEDS, Source, dumps, response

KEY = bytes(range(16))
TABLES = load_bucket_tables(SANDBOX_BUCKET_TABLES)
CONFIG = proto.TianyuanConfig(
    access_id="ty-fuzz", key=KEY, base_url="https://ty.example", tables=TABLES
)
APPLICANT = Applicant(name="张三", id_card="11010519491231002X", mobile="13800138000")
CONSENT = Consent(
    reference="AUTH1", purpose="credit_underwriting", granted_at=dt.datetime(2026, 1, 1)
)
MULTI = proto.build_multi_lending_operation(CONFIG, APPLICANT, CONSENT)
COMB = proto.build_call_operation(
    CONFIG, "COMB86PM", {"name": "张三", "id_card": APPLICANT.id_card}, CONSENT
)
FACTOR_CODES = ["xyp_cpl0001", "xyp_cpl0044", "xyp_cpl0081", "xyp_model_score_mid", "xyp_t01x"]
FACTOR_VALUES = ["", "0", "1", "3", "6", "-1", "0.5", "702", "1e3", " 2 "]


def factors(src: Source) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for _ in range(src.int(0, 6)):
        key = src.choice(FACTOR_CODES) if src.flag() else src.text(10)
        out[key] = src.choice(FACTOR_VALUES) if src.flag() else src.json()
    return out


def sealed(src: Source) -> str:
    """Valid ciphertext of something: factors, composite responses, any JSON, or junk bytes."""
    kind = src.byte() % 4
    if kind == 0:
        plain = dumps(factors(src)).encode("utf-8", "surrogatepass")
    elif kind == 1:
        subs = [
            src.shaped({"api_code": ["JRZQ9E2A", 7], "success": [True, "1", 0],
                        "data": [factors(src), dumps(factors(src))]})
            for _ in range(src.int(0, 3))
        ]  # fmt: skip
        plain = dumps({"responses": subs} if src.flag() else subs).encode("utf-8", "surrogatepass")
    elif kind == 2:
        plain = dumps(src.json()).encode("utf-8", "surrogatepass")
    else:
        plain = src.raw(40)
    return proto.encrypt_envelope(KEY, plain, bytes(16))


@FUZZ
@given(seed=SEEDS)
def test_envelope_round_trips_and_junk_only_raises_integrity_errors(seed: bytes) -> None:
    src = Source(seed)
    key, iv, plaintext = src.raw(16).ljust(16, b"k"), src.raw(16).ljust(16, b"i"), src.raw(200)
    assert proto.decrypt_envelope(key, proto.encrypt_envelope(key, plaintext, iv)) == plaintext
    junk = src.choice([
        src.text(40), base64.b64encode(src.raw(64)).decode(), sealed(src)[: src.int(0, 90)]
    ])  # fmt: skip
    with contextlib.suppress(ResponseIntegrityError):
        proto.decrypt_envelope(KEY, junk)


@FUZZ
@given(seed=SEEDS)
def test_response_parsing_only_raises_creditsdk_errors(seed: bytes) -> None:
    src = Source(seed)
    shape = {
        "code": [0, 0, "0", 1002, 1007, 2001, "x", None, True, 2.5],
        "message": ["成功", "参数解密失败: 11010519491231002X"],
        "transaction_id": ["TY0001", 12],
        "data": [sealed(src), sealed(src), "", "AAAA", 5],
    }
    body, status = src.body(shape), src.choice([200, 200, 200, 500])
    for op in (MULTI, COMB):
        try:
            result = op.parse_response(response(body, status))
        except CreditSDKError:
            continue
        assert isinstance(result, (MultiLendingReport, TianyuanResult))
        if isinstance(result, MultiLendingReport):
            assert all(isinstance(v, str) for v in result.raw.values())


@FUZZ
@given(seed=SEEDS)
def test_factor_decoding_of_any_mapping(seed: bytes) -> None:
    raw = factors(Source(seed))
    try:
        report = MultiLendingReport.from_factors(raw, tables=TABLES)
    except CreditSDKError:
        return
    assert list(report.raw) == list(report.factors)
    assert set(report.raw) == {str(k) for k in raw}

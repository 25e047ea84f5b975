"""Property tests: the envelope round-trips, and decoding never fails on well-formed payloads."""

from __future__ import annotations

import base64
import json

from Crypto.Cipher import AES
from Crypto.Util.Padding import unpad
from hypothesis import given, settings
from hypothesis import strategies as st

from creditsdk.tianyuan import SANDBOX_BUCKET_TABLES, MultiLendingReport, load_bucket_tables
from creditsdk.tianyuan._protocol import decrypt_envelope, encode_params, encrypt_envelope
from creditsdk.tianyuan.models import FACTOR_STATUSES

TABLES = load_bucket_tables(SANDBOX_BUCKET_TABLES)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=60, deadline=None)
@given(
    key=st.binary(min_size=16, max_size=16),
    iv=st.binary(min_size=16, max_size=16),
    params=st.dictionaries(st.text(), json_values, max_size=5),
)
def test_envelope_round_trips_and_matches_pycryptodome(key: bytes, iv: bytes, params: dict) -> None:  # type: ignore[type-arg]
    env = encrypt_envelope(key, encode_params(params), iv)
    blob = base64.b64decode(env)
    assert blob[:16] == iv
    plain = unpad(AES.new(key, AES.MODE_CBC, iv).decrypt(blob[16:]), 16)
    assert json.loads(plain) == params
    assert json.loads(decrypt_envelope(key, env)) == params


codes = st.sampled_from(
    ["xyp_cpl0001", "xyp_cpl0044", "xyp_cpl0081", "xyp_model_score_mid", "xyp_t01bkinst_m3"]
) | st.from_regex(r"xyp_[a-z0-9_]{1,12}", fullmatch=True)
raw_values = st.sampled_from(["", "0", "1", "2", "7", "-1", "0.5", "702", "x"]) | st.text(
    max_size=6
)


@settings(max_examples=150, deadline=None)
@given(raw=st.dictionaries(codes, raw_values, max_size=30))
def test_decoding_keeps_every_key_and_raw_string(raw: dict[str, str]) -> None:
    for tables in (None, TABLES):
        report = MultiLendingReport.from_factors(raw, tables=tables)
        assert dict(report.raw) == raw
        assert list(report.factors) == list(raw)
        for code, factor in report.factors.items():
            assert factor.code == code
            assert factor.raw == raw[code]
            assert factor.status in FACTOR_STATUSES
            assert (factor.value is None) == (factor.status != "decoded")
            if raw[code] == "":
                assert factor.status == "no_record"

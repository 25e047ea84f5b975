"""Byte-level envelope and key-handling tests."""

from __future__ import annotations

import base64
import json
import time

import attrs
import httpx
import pytest
import respx
from Crypto.Cipher import AES
from Crypto.Random import get_random_bytes
from Crypto.Util.Padding import pad
from ty_helpers import ACCESS_ID, BASE, KEY_HEX, seal, unseal

from creditsdk.errors import ConfigurationError, ResponseIntegrityError
from creditsdk.tianyuan import TianyuanClient
from creditsdk.tianyuan._protocol import decrypt_envelope, encrypt_envelope, parse_access_key

# NIST SP 800-38A, F.2.1 CBC-AES128.Encrypt
NIST_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
NIST_IV = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
NIST_PT = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172a"
    "ae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52ef"
    "f69f2445df4f9b17ad2b417be66c3710"
)
NIST_CT = bytes.fromhex(
    "7649abac8119b246cee98e9b12e9197d"
    "5086cb9b507219ee95db113a917678b2"
    "73bed6b8e3c1743b7116e69e22229516"
    "3ff1caa1681fac09120eca307586e1a7"
)


def test_envelope_matches_the_nist_cbc_vector_then_one_pkcs7_block() -> None:
    blob = base64.b64decode(encrypt_envelope(NIST_KEY, NIST_PT, NIST_IV))
    assert blob[:16] == NIST_IV
    assert blob[16:80] == NIST_CT
    # 64 bytes of plaintext get a whole block of 0x10 padding, chained on the last block.
    assert len(blob) == 96
    last = AES.new(NIST_KEY, AES.MODE_CBC, NIST_CT[-16:]).decrypt(blob[80:])
    assert last == b"\x10" * 16


def test_envelope_round_trips_and_known_answer_is_stable() -> None:
    key = bytes.fromhex(KEY_HEX)
    env = encrypt_envelope(key, b'{"a":1}', b"\x00" * 16)
    assert env == encrypt_envelope(key, b'{"a":1}', b"\x00" * 16)
    assert decrypt_envelope(key, env) == b'{"a":1}'
    assert base64.b64decode(env)[:16] == b"\x00" * 16


def _seed_sample_encrypt(access_key: bytes, plain_dict: dict[str, str]) -> str:
    # Exactly the shape of the seed's TianyuanRiskAPI.encrypt_data.
    plain_text = json.dumps(plain_dict).encode("utf-8")
    iv = get_random_bytes(16)
    cipher = AES.new(access_key, AES.MODE_CBC, iv)
    encrypted_bytes = cipher.encrypt(pad(plain_text, AES.block_size))
    return base64.b64encode(iv + encrypted_bytes).decode("utf-8")


@pytest.mark.parametrize(
    ("key", "key_format"),
    [(KEY_HEX, "hex"), ("YOUR_ACCESS_KEY_", "utf8")],
)
def test_decrypts_what_the_seed_sample_produces(key: str, key_format: str) -> None:
    raw_key = bytes.fromhex(key) if key_format == "hex" else key.encode("utf-8")
    payload = {"name": "张三", "id_card": "11010519491231002X", "xyp_cpl0001": "1"}
    env = _seed_sample_encrypt(raw_key, payload)
    assert json.loads(decrypt_envelope(parse_access_key(key, key_format), env)) == payload


def test_key_formats() -> None:
    assert parse_access_key(KEY_HEX, None) == bytes.fromhex(KEY_HEX)
    assert parse_access_key(KEY_HEX.upper(), "hex") == bytes.fromhex(KEY_HEX)
    assert parse_access_key("abcdefghijklmnop", "utf8") == b"abcdefghijklmnop"
    # the seed's reading of a hex key: its first 16 characters, only when asked explicitly
    assert parse_access_key(KEY_HEX[:16], "utf8") == KEY_HEX[:16].encode()


@pytest.mark.parametrize(
    ("key", "key_format", "fragment"),
    [
        ("abcdefghijklmnop", None, "key_format='utf8'"),  # not hex: no guessing
        (KEY_HEX, "utf8", "never truncated"),  # 32 bytes: no silent [:16]
        (KEY_HEX[:30], "hex", "32 hex characters"),
        ("z" * 32, "hex", "32 hex characters"),
        ("密钥密钥密钥密钥", "utf8", "24 given"),  # 8 characters, 24 bytes
        (KEY_HEX, "base64", "key_format must be"),
    ],
)
def test_bad_keys_are_configuration_errors(key: str, key_format: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        TianyuanClient(ACCESS_ID, key, BASE, key_format=key_format)
    assert fragment in str(info.value)
    assert key not in str(info.value)


def test_missing_credentials_name_the_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDITSDK_TIANYUAN_ACCESS_ID", raising=False)
    with pytest.raises(ConfigurationError, match="CREDITSDK_TIANYUAN_ACCESS_ID"):
        TianyuanClient(access_key=KEY_HEX)
    monkeypatch.setenv("CREDITSDK_TIANYUAN_ACCESS_ID", "from-env")
    monkeypatch.setenv("CREDITSDK_TIANYUAN_ACCESS_KEY", KEY_HEX)
    with TianyuanClient() as ty:
        assert ty.base_url == "https://api.tianyuanapi.com"
        assert "from-env" not in repr(ty)
        assert KEY_HEX not in repr(ty)


@pytest.mark.parametrize(
    "data",
    ["not base64!", base64.b64encode(b"short").decode(), base64.b64encode(b"x" * 33).decode()],
)
def test_bad_envelopes_are_integrity_errors(data: str) -> None:
    with pytest.raises(ResponseIntegrityError):
        decrypt_envelope(bytes.fromhex(KEY_HEX), data)


def test_wrong_key_is_an_integrity_error() -> None:
    env = seal(b"k" * 16, {"a": "b" * 40})
    with pytest.raises(ResponseIntegrityError):
        decrypt_envelope(bytes.fromhex(KEY_HEX), env)


@respx.mock(base_url=BASE)
def test_request_on_the_wire(respx_mock: respx.MockRouter, applicant, consent) -> None:  # type: ignore[no-untyped-def]
    route = respx_mock.post("/api/v1/JRZQ9E2A").respond(
        json={"code": 0, "message": "成功", "transaction_id": "T1", "data": ""}
    )
    with TianyuanClient(ACCESS_ID, KEY_HEX, BASE) as ty:
        ty._config = attrs.evolve(
            ty._config, iv=lambda: b"\x01" * 16, clock_ms=lambda: 1716345678000
        )
        ty.multi_lending(applicant, consent=consent)
    request = route.calls.last.request
    assert str(request.url) == f"{BASE}/api/v1/JRZQ9E2A?t=1716345678000"
    assert request.headers["Access-Id"] == ACCESS_ID
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.content)
    assert list(body) == ["data"]
    expected_plain = json.dumps(
        {
            "name": "张三",
            "id_card": "11010519491231002X",
            "mobile_no": "13800138000",
            "auth_authorize_file_code": "AUTH20251210001",
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    key = bytes.fromhex(KEY_HEX)
    iv = b"\x01" * 16
    assert body["data"] == base64.b64encode(
        iv + AES.new(key, AES.MODE_CBC, iv).encrypt(pad(expected_plain, 16))
    ).decode("ascii")
    assert unseal(key, body["data"])["auth_authorize_file_code"] == "AUTH20251210001"


@respx.mock(base_url=BASE)
def test_each_attempt_has_a_fresh_iv_and_a_ms_timestamp(
    respx_mock: respx.MockRouter, applicant, consent
) -> None:  # type: ignore[no-untyped-def]
    route = respx_mock.post("/api/v1/JRZQ9E2A").respond(
        json={"code": 0, "message": "", "transaction_id": "T", "data": ""}
    )
    before = time.time_ns() // 1_000_000
    with TianyuanClient(ACCESS_ID, KEY_HEX, BASE) as ty:
        ty.multi_lending(applicant, consent=consent)
        ty.multi_lending(applicant, consent=consent)
    ivs = {base64.b64decode(json.loads(c.request.content)["data"])[:16] for c in route.calls}
    assert len(ivs) == 2
    t = int(route.calls[0].request.url.params["t"])
    assert len(str(t)) == 13
    assert t >= before


def test_utf8_key_round_trip_over_respx(applicant, consent) -> None:  # type: ignore[no-untyped-def]
    key = "abcdefghijklmnop"

    def answer(request: httpx.Request) -> httpx.Response:
        params = unseal(key.encode(), json.loads(request.content)["data"])
        assert params["id_card"] == "11010519491231002X"
        return httpx.Response(
            200,
            json={
                "code": 0,
                "message": "ok",
                "transaction_id": "T9",
                "data": seal(key.encode(), {"xyp_cpl0044": "1"}),
            },
        )

    with respx.mock(base_url=BASE) as mock:
        mock.post("/api/v1/JRZQ9E2A").mock(side_effect=answer)
        with TianyuanClient(ACCESS_ID, key, BASE, key_format="utf8") as ty:
            report = ty.multi_lending(applicant, consent=consent)
    assert report.currently_overdue.value is True
    assert report.transaction_id == "T9"

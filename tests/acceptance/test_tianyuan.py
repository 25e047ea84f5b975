"""Tianyuan client ⇄ Sandbox over real loopback HTTP (sync and async), plus a seed-shaped client."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from Crypto.Cipher import AES
from Crypto.Random import get_random_bytes
from Crypto.Util.Padding import pad, unpad

from creditsdk import Applicant, Consent, MemoryAuditSink
from creditsdk.errors import InsufficientBalanceError
from creditsdk.sandbox import Sandbox
from creditsdk.tianyuan import SANDBOX_BUCKET_TABLES, MultiLendingReport, Range

APPLICANT = Applicant(name="张三", id_card="11010519491231002X", mobile="13800138000")
CONSENT = Consent(
    reference="AUTH20251210001", purpose="credit_underwriting", granted_at=dt.datetime(2026, 11, 1)
)


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(providers=["tianyuan"], seed=3) as sandbox:
        yield sandbox


def test_sync_multi_lending_over_loopback(sb: Sandbox) -> None:
    assert sb.base_url.startswith("http://127.0.0.1:")
    sb.tianyuan.pin(APPLICANT.id_card, "heavy_borrower")
    sink = MemoryAuditSink()
    with sb.tianyuan_client(bucket_tables=SANDBOX_BUCKET_TABLES, audit=sink) as ty:
        assert ty.base_url == sb.base_url
        report = ty.multi_lending(APPLICANT, consent=CONSENT)
    expected = sb.tianyuan.factors_for(APPLICANT.id_card)
    assert dict(report.raw) == expected
    assert set(report.factors) == set(expected)
    total = report.total_institutions
    assert total.raw == expected["xyp_cpl0001"]
    assert isinstance(total.value, Range)
    assert total.value.unit == "institutions"
    assert report.currently_overdue.value is False or report.currently_overdue.status == "no_record"
    assert report.small_loan_score.value == int(expected["xyp_model_score_high"])
    (entry,) = sb.ledger("tianyuan")
    assert entry.transaction_id == report.transaction_id
    assert sink.events[0].transaction_id == report.transaction_id
    assert sink.events[0].applicant == APPLICANT.masked()
    # stored raw re-decodes to the same factors
    again = MultiLendingReport.from_factors(report.raw, tables=SANDBOX_BUCKET_TABLES)
    assert again.factors == report.factors


async def test_async_multi_lending_and_composite_over_loopback(sb: Sandbox) -> None:
    sb.tianyuan.pin(APPLICANT.id_card, "currently_overdue")
    async with sb.async_tianyuan_client() as ty:
        report = await ty.multi_lending(APPLICANT, consent=CONSENT)
        combo = await ty.call(
            "COMB86PM",
            {
                "name": APPLICANT.name,
                "id_card": APPLICANT.id_card,
                "mobile_no": APPLICANT.mobile,
                "auth_authorize_file_code": CONSENT.reference,
            },
            consent=CONSENT,
        )
    assert report.currently_overdue.value is True
    assert report.overdue_institutions.status == "no_table"  # no tables loaded: raw kept
    assert (
        report.overdue_institutions.raw == sb.tianyuan.factors_for(APPLICANT.id_card)["xyp_cpl0071"]
    )
    assert combo.response("JRZQ9E2A").data == dict(report.raw)
    assert [e.operation for e in sb.ledger("tianyuan")] == ["JRZQ9E2A", "COMB86PM"]


async def test_async_balance_runs_out(sb: Sandbox) -> None:
    sb.tianyuan.balance = 1
    async with sb.async_tianyuan_client() as ty:
        await ty.multi_lending(APPLICANT, consent=CONSENT)
        with pytest.raises(InsufficientBalanceError):
            await ty.multi_lending(APPLICANT, consent=CONSENT)
    assert len(sb.ledger("tianyuan")) == 1
    assert sb.tianyuan.balance == 0


class SeedShapedClient:
    """Shaped like the seed's TianyuanRiskAPI (requests + pycryptodome); key bytes given."""

    def __init__(self, access_id: str, access_key: str, api_url: str, key: bytes) -> None:
        self.access_id = access_id
        self.access_key = key
        self.api_url = api_url

    def encrypt_data(self, plain_dict: dict[str, Any]) -> str:
        plain_text = json.dumps(plain_dict).encode("utf-8")
        iv = get_random_bytes(16)
        cipher = AES.new(self.access_key, AES.MODE_CBC, iv)
        encrypted_bytes = cipher.encrypt(pad(plain_text, AES.block_size))
        return base64.b64encode(iv + encrypted_bytes).decode("utf-8")

    def decrypt_data(self, encrypted_base64: str) -> Any:
        encrypted_bytes = base64.b64decode(encrypted_base64)
        iv = encrypted_bytes[:16]
        cipher = AES.new(self.access_key, AES.MODE_CBC, iv)
        return json.loads(unpad(cipher.decrypt(encrypted_bytes[16:]), AES.block_size).decode())

    def query_risk_info(self, name: str, id_card: str, mobile: str, auth_code: str) -> Any:
        payload = {
            "name": name,
            "id_card": id_card,
            "mobile_no": mobile,
            "auth_authorize_file_code": auth_code,
        }
        headers = {"Access-Id": self.access_id}
        url = f"{self.api_url}?t={int(time.time() * 1000)}"
        with requests.Session() as session:
            session.trust_env = False  # loopback: never through a proxy
            res_json = session.post(
                url, json={"data": self.encrypt_data(payload)}, headers=headers
            ).json()
        if res_json.get("code") == 0:
            return res_json, self.decrypt_data(res_json["data"])
        return res_json, None


def test_seed_shaped_requests_client_hex_key(sb: Sandbox) -> None:
    t = sb.tianyuan
    seed = SeedShapedClient(
        t.access_id, t.access_key, f"{sb.base_url}/api/v1/JRZQ9E2A", bytes.fromhex(t.access_key)
    )
    envelope, data = seed.query_risk_info("张三", APPLICANT.id_card, "13800138000", "AUTH1")
    assert envelope["code"] == 0
    assert data == t.factors_for(APPLICANT.id_card)
    assert envelope["transaction_id"] == sb.ledger("tianyuan")[0].transaction_id
    # the seed's own sample ID number fails the checksum: the sandbox says 1003, unbilled
    envelope, data = seed.query_risk_info("张三", "110101199001011234", "13800138000", "AUTH1")
    assert (envelope["code"], data) == (1003, None)
    assert len(sb.ledger("tianyuan")) == 1


def test_utf8_key_sandbox_with_the_seed_sample_key_reading() -> None:
    with Sandbox(providers=["tianyuan"], options={"tianyuan": {"key_format": "utf8"}}) as sb:
        t = sb.tianyuan
        assert len(t.access_key.encode()) == 16
        seed = SeedShapedClient(
            t.access_id, t.access_key, f"{sb.base_url}/api/v1/JRZQ9E2A", t.access_key.encode()[:16]
        )
        envelope, data = seed.query_risk_info("张三", APPLICANT.id_card, "13800138000", "A")
        assert envelope["code"] == 0
        with sb.tianyuan_client() as ty:
            report = ty.multi_lending(APPLICANT, consent=CONSENT)
        assert dict(report.raw) == data


def test_in_process_sandbox_without_a_port() -> None:
    sb = Sandbox(providers=["tianyuan"])
    try:
        with sb.tianyuan_client() as ty:
            report = ty.multi_lending(APPLICANT, consent=CONSENT)
        assert ty.base_url == "http://sandbox.invalid"
        assert dict(report.raw) == sb.tianyuan.factors_for(APPLICANT.id_card)
    finally:
        sb.stop()


def test_quickstart_runs_against_the_sandbox(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import runpy
    from pathlib import Path

    for var in ("CREDITSDK_TIANYUAN_ACCESS_ID", "CREDITSDK_TIANYUAN_ACCESS_KEY"):
        monkeypatch.delenv(var, raising=False)
    path = Path(__file__).resolve().parents[2] / "examples" / "tianyuan_quickstart.py"
    module = runpy.run_path(str(path))
    assert module["main"]() == 0
    out = capsys.readouterr().out
    assert "110105********002X" in out
    assert "11010519491231002X" not in out
    assert "贷款总机构数" in out
    assert "billed: JRZQ9E2A" in out


async def test_the_async_client_sends_with_the_library_under_test(
    sb: Sandbox, http_backend: str
) -> None:
    """The acceptance run really is one per HTTP library (tests/acceptance/conftest.py)."""
    from creditsdk._core.executors._aiohttp import AioHttpTransport

    async with sb.async_tianyuan_client() as ty:
        await ty.multi_lending(APPLICANT, consent=CONSENT)
        assert isinstance(ty._transport, AioHttpTransport) == (http_backend == "aiohttp")

"""Tianyuan sync round trips over HTTPS on loopback: creditsdk vs the seed's sample client.

The seed document's sample (seed 002) calls ``requests.post`` for every query: a new TCP and TLS
connection per call. creditsdk's ``TianyuanClient`` keeps its connection alive. Both query the
same ``Sandbox(tls=True)`` (in this process, as the issue states it; then, for context, in its
own process) with the same credentials (the seed's key
reading, ``key_format="utf8"``), and both decrypt the answer; creditsdk also decodes all ~360
factors into a ``MultiLendingReport``. A bare ``httpx.Client`` with keep-alive doing only the
seed's work shows how much of the gain is the connection and how much the SDK costs.

Goal (issue 17): seed / creditsdk >= 3.5x wall-clock per call.

    python benchmarks/bench_tianyuan_https.py [--calls 600]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import requests
from _common import report, sandbox_process
from Crypto.Cipher import AES
from Crypto.Random import get_random_bytes
from Crypto.Util.Padding import pad, unpad

from creditsdk import Applicant, Consent
from creditsdk.sandbox import Sandbox
from creditsdk.tianyuan import TianyuanClient

NAME, ID_CARD, MOBILE, AUTH = "张三", "11010519491231002X", "13800138000", "AUTH20251210001"


class SeedClient:
    """The seed's sample, as written (requests, a new connection per call), minus the prints."""

    def __init__(self, access_id: str, access_key: str, base_url: str, verify: str) -> None:
        self.access_id = access_id
        self.access_key = access_key.encode("utf-8")[:16]
        self.api_url = f"{base_url}/api/v1/JRZQ9E2A"
        self.verify = verify

    def encrypt_data(self, plain_dict: dict[str, Any]) -> str:
        plain_text = json.dumps(plain_dict).encode("utf-8")
        iv = get_random_bytes(16)
        cipher = AES.new(self.access_key, AES.MODE_CBC, iv)
        return base64.b64encode(iv + cipher.encrypt(pad(plain_text, AES.block_size))).decode()

    def decrypt_data(self, encrypted_base64: str) -> Any:
        raw = base64.b64decode(encrypted_base64)
        cipher = AES.new(self.access_key, AES.MODE_CBC, raw[:16])
        return json.loads(unpad(cipher.decrypt(raw[16:]), AES.block_size).decode("utf-8"))

    def query_risk_info(self, name: str, id_card: str, mobile: str, auth_code: str) -> Any:
        payload = {"name": name, "id_card": id_card, "mobile_no": mobile,
                   "auth_authorize_file_code": auth_code}  # fmt: skip
        headers = {"Access-Id": self.access_id}
        url = f"{self.api_url}?t={int(time.time() * 1000)}"
        response = requests.post(
            url, json={"data": self.encrypt_data(payload)}, headers=headers, verify=self.verify
        )
        res_json = response.json()
        assert res_json.get("code") == 0, res_json
        return self.decrypt_data(res_json.get("data"))


def per_call(fn: Callable[[], object], calls: int) -> float:
    fn()  # warm up (imports, first connection)
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def measure(desc: dict[str, Any], calls: int) -> tuple[float, float, float]:
    """Seconds per call: (seed sample, creditsdk, bare httpx keep-alive)."""
    applicant = Applicant(name=NAME, id_card=ID_CARD, mobile=MOBILE)
    consent = Consent(
        reference=AUTH, purpose="credit_underwriting", granted_at=dt.datetime(2026, 1, 1)
    )
    ty, ca = desc["tianyuan"], desc["ca_bundle"]
    seed = SeedClient(ty["access_id"], ty["access_key"], desc["base_url"], ca)
    sdk = TianyuanClient(
        ty["access_id"], ty["access_key"], desc["base_url"], key_format="utf8", verify=ca
    )
    bare = httpx.Client(verify=ca)
    params = {
        "name": NAME,
        "id_card": ID_CARD,
        "mobile_no": MOBILE,
        "auth_authorize_file_code": AUTH,
    }

    def bare_call() -> Any:
        answer = bare.post(
            f"{seed.api_url}?t={int(time.time() * 1000)}",
            json={"data": seed.encrypt_data(params)},
            headers={"Access-Id": seed.access_id},
        ).json()
        return seed.decrypt_data(answer["data"])

    # Interleaved rounds, so that changes in machine load hit all three alike.
    t_seed = t_sdk = t_bare = 0.0
    rounds = 6
    for _ in range(rounds):
        t_seed += per_call(
            lambda: seed.query_risk_info(NAME, ID_CARD, MOBILE, AUTH), calls // rounds
        )
        t_sdk += per_call(lambda: sdk.multi_lending(applicant, consent=consent), calls // rounds)
        t_bare += per_call(bare_call, calls // rounds)
    sdk.close()
    bare.close()
    return t_seed / rounds, t_sdk / rounds, t_bare / rounds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=600)
    args = parser.parse_args()
    opts: dict[str, Any] = {
        "tls": True, "providers": ["tianyuan"], "options": {"tianyuan": {"key_format": "utf8"}}
    }  # fmt: skip
    # As the issue states it: Sandbox(tls=True) in this process ...
    with Sandbox(**opts) as sb:
        sb.tianyuan.balance = None
        desc = {
            "base_url": sb.base_url,
            "ca_bundle": sb.ca_bundle,
            "tianyuan": {"access_id": sb.tianyuan.access_id, "access_key": sb.tianyuan.access_key},
        }
        t_seed, t_sdk, t_bare = measure(desc, args.calls)
    # ... and, for context, the same Sandbox in its own process (its CPU off our GIL).
    with sandbox_process(**opts) as desc:
        o_seed, o_sdk, o_bare = measure(desc, args.calls)
    ratio = t_seed / t_sdk
    report(
        "5. Tianyuan HTTPS call vs the seed's sample client",
        ratio,
        ">= 3.5x",
        ratio >= 3.5,
        details=f"Sandbox(tls=True) in-process: seed (requests, new connection per call) "
        f"{t_seed * 1e3:.2f} ms/call, creditsdk {t_sdk * 1e3:.2f} ms/call, bare httpx keep-alive "
        f"{t_bare * 1e3:.2f} ms/call (seed/bare {t_seed / t_bare:.2f}x; the SDK adds "
        f"{(t_sdk - t_bare) * 1e3:.2f} ms/call, decoding ~360 factors included). Sandbox in its "
        f"own process: seed {o_seed * 1e3:.2f}, creditsdk {o_sdk * 1e3:.2f}, bare "
        f"{o_bare * 1e3:.2f} ms/call (creditsdk {o_seed / o_sdk:.2f}x, "
        f"bare {o_seed / o_bare:.2f}x).",
    )


if __name__ == "__main__":
    main()

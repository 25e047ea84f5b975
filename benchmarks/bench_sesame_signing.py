"""Signing cost: creditsdk's sign + verify of one Sesame call vs the official SDK's.

Both sides sign the same request content with the same app key (RSA2, 2048 bits) and verify the
same signed answer with the same Alipay public key. The official path is
``SignatureUtils.sign_with_rsa2`` + ``SignatureUtils.verify_with_rsa`` (pure-Python ``rsa``, key
parsed on every call, as ``DefaultAlipayClient`` does); ours is ``_protocol.signed_params`` (key
loaded once, pycryptodome) + ``_protocol.verified_content`` over an ``httpx.Response``.

    python benchmarks/bench_sesame_signing.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import time
from collections.abc import Callable

import httpx
from _common import report
from Crypto.Hash import SHA256
from Crypto.PublicKey import RSA
from Crypto.Signature import pkcs1_15

from creditsdk.sesame import _protocol as p


def _body(pem: bytes) -> str:
    return "".join(line for line in pem.decode().splitlines() if "-----" not in line)


def _rate(fn: Callable[[], object], seconds: float) -> float:
    fn()  # warm up
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        n += 1
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    from alipay.aop.api.util import SignatureUtils

    app, alipay = RSA.generate(2048), RSA.generate(2048)
    config = p.SesameConfig.load(
        app_id="2021000000000001",
        app_private_key=app.export_key().decode(),
        alipay_public_key=alipay.public_key().export_key().decode(),
        gateway_url="https://openapi.alipay.com/gateway.do",
        authorize_url=p.DEFAULT_AUTHORIZE_URL,
        clock=lambda: dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    )
    biz = {"transaction_id": "bench_0001", "product_code": p.SCORE_PRODUCT_CODE}
    params = p.signed_params(config, p.M_SCORE, biz=biz, auth_token="authusrBbench")
    content = p.sign_content(params)
    value = '{"code":"10000","msg":"Success","biz_no":"ZM0001","zm_score":"731"}'
    sig = base64.b64encode(pkcs1_15.new(alipay).sign(SHA256.new(value.encode()))).decode()
    body = ('{"zhima_credit_score_get_response":' + value + ',"sign":"' + sig + '"}').encode()
    request = httpx.Request("POST", config.gateway_url)

    app_body, alipay_pub_body = (
        _body(app.export_key(pkcs=1)),
        _body(alipay.public_key().export_key()),
    )

    def official() -> None:
        s = SignatureUtils.sign_with_rsa2(app_body, content, "utf-8")
        assert s
        assert SignatureUtils.verify_with_rsa(alipay_pub_body, value.encode(), sig)

    def ours() -> None:
        p.signed_params(config, p.M_SCORE, biz=biz, auth_token="authusrBbench")
        p.verified_content(config, httpx.Response(200, content=body, request=request), p.M_SCORE)

    # Same inputs, same outputs: the two signatures over the same content are identical.
    assert SignatureUtils.sign_with_rsa2(app_body, content, "utf-8") == params["sign"]
    theirs_rate = _rate(official, args.seconds)
    ours_rate = _rate(ours, args.seconds)
    print(f"official alipay-sdk-python sign+verify: {theirs_rate:8.1f} calls/s")
    print(f"creditsdk sesame sign+verify:           {ours_rate:8.1f} calls/s")
    print(f"ratio (creditsdk / official): {ours_rate / theirs_rate:.1f}x")
    report(
        "3b. Sesame sign + verify only vs official SignatureUtils",
        ours_rate / theirs_rate,
        "(context for 3)",
        True,
        details=f"official {1e3 / theirs_rate:.2f} ms, creditsdk {1e3 / ours_rate:.2f} ms per "
        "sign + verify (no HTTP, no server)",
    )


if __name__ == "__main__":
    main()

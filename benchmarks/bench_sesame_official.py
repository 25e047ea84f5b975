"""Sesame: one score call (sign + HTTP + verify) with creditsdk vs the official
``alipay-sdk-python`` executing the same request against the same Sandbox.

Both send ``zhima.credit.score.get`` with the same auth token and product code to one Sandbox
in its own process (RSA2, 2048-bit keys; its signing does not share our GIL); each call uses its
own transaction_id. The official client
(``DefaultAlipayClient.execute``) signs with the pure-Python ``rsa`` package, parses the key on
every call and opens a new connection per call (its ``WebUtils`` uses ``http.client``, pointed at
the sandbox's port the same way tests/sesame/test_sesame_official_sdk.py does). Goal (issue 17):
official / creditsdk >= 15x per call.

    python benchmarks/bench_sesame_official.py [--calls 60]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import itertools
import json
import os
import statistics
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from _common import load, report, sandbox_process

from creditsdk import Consent
from creditsdk.sesame import SesameClient
from creditsdk.sesame import _protocol as p


def _body(pem: str) -> str:
    return "".join(line for line in pem.strip().splitlines() if "-----" not in line)


def per_call(fn: Callable[[], object], calls: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20, help="calls per client per round")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    # The official client stamps requests with local time; Alipay (and the sandbox) want Beijing.
    os.environ["TZ"] = "CST-8"
    time.tzset()
    from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
    from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
    from alipay.aop.api.domain.ZhimaCreditScoreGetModel import ZhimaCreditScoreGetModel
    from alipay.aop.api.request.ZhimaCreditScoreGetRequest import ZhimaCreditScoreGetRequest
    from alipay.aop.api.util import WebUtils

    consent = Consent(
        reference="AUTH1", purpose="credit_underwriting", granted_at=dt.datetime(2026, 1, 1)
    )
    with sandbox_process(providers=["sesame"], seed=3) as desc:
        zm_desc = desc["sesame"]
        port = urlsplit(desc["base_url"]).port

        def get_http_connection(url: str, query_string: str, timeout: int):  # type: ignore[no-untyped-def]
            parts = urlsplit(url)
            return f"{parts.path}?{query_string}", http.client.HTTPConnection(
                parts.hostname, port=port, timeout=timeout
            )

        WebUtils.get_http_connection = get_http_connection
        config = AlipayClientConfig()
        config.server_url = zm_desc["gateway_url"]
        config.app_id = zm_desc["app_id"]
        config.app_private_key = _body(zm_desc["app_private_key"])
        config.alipay_public_key = _body(zm_desc["alipay_public_key"])
        official = DefaultAlipayClient(alipay_client_config=config)

        zm = SesameClient(
            app_id=zm_desc["app_id"],
            app_private_key=zm_desc["app_private_key"],
            alipay_public_key=zm_desc["alipay_public_key"],
            gateway_url=zm_desc["gateway_url"],
            authorize_url=zm_desc["authorize_url"],
        )
        grant = zm.exchange_code(zm.parse_redirect(zm_desc["redirect"], "s"))
        serial = itertools.count()

        def theirs() -> None:
            model = ZhimaCreditScoreGetModel()
            model.transaction_id = f"official_{next(serial)}"
            model.product_code = p.SCORE_PRODUCT_CODE
            request = ZhimaCreditScoreGetRequest(biz_model=model)
            request.add_other_text_param("auth_token", grant.access_token)
            assert "zm_score" in json.loads(official.execute(request))

        def ours() -> None:
            assert (
                zm.score(grant, consent=consent, transaction_id=f"ours_{next(serial)}").score
                is not None
            )

        # Rounds alternate the two clients (theirs first, then ours first) so a change in load
        # hits both; each round gives one ratio, and the row is their median. One figure per
        # client over the whole run moved 12-17x between runs on a quiet machine.
        theirs_ms: list[float] = []
        ours_ms: list[float] = []
        for i in range(args.rounds):
            if i % 2 == 0:
                theirs_ms.append(per_call(theirs, args.calls) * 1e3)
                ours_ms.append(per_call(ours, args.calls) * 1e3)
            else:
                ours_ms.append(per_call(ours, args.calls) * 1e3)
                theirs_ms.append(per_call(theirs, args.calls) * 1e3)
        zm.close()
    ratios = sorted(t / o for t, o in zip(theirs_ms, ours_ms, strict=True))
    ratio = statistics.median(ratios)
    per_round = ", ".join(f"{t:.1f}/{o:.2f}" for t, o in zip(theirs_ms, ours_ms, strict=True))
    report(
        "4. Sesame score call vs official alipay-sdk-python",
        ratio,
        ">= 15x",
        ratio >= 15,
        details=f"median of {args.rounds} interleaved rounds of {args.calls} calls each "
        f"(rounds, official/creditsdk: {per_round} ms; ratios "
        f"{ratios[0]:.1f}-{ratios[-1]:.1f}x): official "
        f"{statistics.median(theirs_ms):.1f} ms/call, creditsdk "
        f"{statistics.median(ours_ms):.2f} ms/call (medians; same sandbox, same request, sign + "
        "HTTP + verify; both include the sandbox's own work on each call: verifying the request "
        f"and signing the answer, a fixed cost neither client can avoid; load {load()})",
    )


if __name__ == "__main__":
    main()

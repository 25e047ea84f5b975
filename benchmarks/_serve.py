"""Run a Sandbox until stdin closes; print its description as one JSON line first.

For Sesame it also plays the user agreeing once, so the client can exchange the code.

    python benchmarks/_serve.py '{"providers": ["tianyuan"], "latency": 0.05}'
    python benchmarks/_serve.py '{"providers": ["tianyuan"]}' baseline

With ``baseline`` the same Sandbox app is served by the frozen threaded server of commit
3b18631 (benchmarks/_baseline/threaded_server.py) instead of the tree's own server. Each line
``cpu`` read on stdin is answered with one JSON line: this process's CPU seconds so far
(user + system, every thread), so a benchmark can measure the server's CPU per request.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from creditsdk.sandbox import Sandbox


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def _describe(sb: Sandbox, base_url: str) -> dict[str, Any]:
    desc: dict[str, Any] = {"base_url": base_url, "ca_bundle": sb.ca_bundle, "pid": os.getpid()}
    if "tianyuan" in sb.providers:
        ty = sb.tianyuan
        ty.balance = None
        desc["tianyuan"] = {"access_id": ty.access_id, "access_key": ty.access_key,
                            "key_format": ty.key_format,
                            "bucket_tables": str(ty.bucket_tables_path)}  # fmt: skip
    if "sesame" in sb.providers:
        zm = sb.sesame
        authorize = (
            f"{zm.authorize_url}?app_id={zm.app_id}&scope=auth_zhima"
            "&redirect_uri=https%3A%2F%2Flender.example%2Fcb&state=s"
        )
        desc["sesame"] = {
            "app_id": zm.app_id, "app_private_key": zm.app_private_key,
            "alipay_public_key": zm.alipay_public_key, "gateway_url": zm.gateway_url,
            "authorize_url": zm.authorize_url, "redirect": zm.approve(authorize),
        }  # fmt: skip
    return desc


def _serve_commands() -> None:
    for line in sys.stdin:
        if line.strip() == "cpu":
            print(json.dumps({"cpu": _cpu()}), flush=True)


def main() -> None:
    options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    baseline = len(sys.argv) > 2 and sys.argv[2] == "baseline"
    if not baseline:
        with Sandbox(**options) as sb:
            print(json.dumps(_describe(sb, sb.base_url)), flush=True)
            _serve_commands()
        return
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _baseline.threaded_server import LoopbackServer

    if options.get("tls"):
        raise SystemExit("the baseline server is measured over plain HTTP only")
    sb = Sandbox(**options)  # not started: the frozen server serves its app
    server = LoopbackServer(sb.serve, latency=sb.latency)
    server.start()
    try:
        host, port = server.address
        # the app builds its own URLs (Sesame's authorize page) from base_url: tell it
        print(json.dumps(_describe(sb, f"http://{host}:{port}")), flush=True)
        _serve_commands()
    finally:
        server.stop()


if __name__ == "__main__":
    main()

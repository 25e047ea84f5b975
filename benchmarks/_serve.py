"""Run a Sandbox until stdin closes; print its description as one JSON line first.

For Sesame it also plays the user agreeing once, so the client can exchange the code.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from creditsdk.sandbox import Sandbox


def main() -> None:
    options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    with Sandbox(**options) as sb:
        desc: dict[str, Any] = {"base_url": sb.base_url, "ca_bundle": sb.ca_bundle}
        if "tianyuan" in sb.providers:
            ty = sb.tianyuan
            ty.balance = None
            desc["tianyuan"] = {"access_id": ty.access_id, "access_key": ty.access_key,
                                "key_format": ty.key_format}  # fmt: skip
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
        print(json.dumps(desc), flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()

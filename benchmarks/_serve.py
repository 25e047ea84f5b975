"""Run a Sandbox until stdin closes; print its description as one JSON line first."""

from __future__ import annotations

import json
import sys

from creditsdk.sandbox import Sandbox


def main() -> None:
    options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    with Sandbox(**options) as sb:
        sb.tianyuan.balance = None
        print(json.dumps({
            "base_url": sb.base_url,
            "ca_bundle": sb.ca_bundle,
            "tianyuan": {"access_id": sb.tianyuan.access_id, "access_key": sb.tianyuan.access_key,
                         "key_format": sb.tianyuan.key_format},
        }), flush=True)  # fmt: skip
        sys.stdin.read()


if __name__ == "__main__":
    main()

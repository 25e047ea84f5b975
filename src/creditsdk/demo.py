"""``creditsdk demo``: every provider's flow against the embedded Sandbox."""

from __future__ import annotations

import json

from . import __version__


def run_demo(*, as_json: bool = False, seed: int = 0) -> int:
    from .sandbox import Sandbox

    with Sandbox(seed=seed) as sb:
        summary = {"version": __version__, "sandbox": sb.base_url, "providers": sb.providers}
    if as_json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(f"creditsdk {__version__}: sandbox providers available: {', '.join(sb.providers)}")
    return 0

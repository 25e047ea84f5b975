"""What an Operation would send: its plain wire `Request` (creditsdk._core.wire), read back."""

from __future__ import annotations

from typing import Any, NamedTuple


class Sent(NamedTuple):
    method: str
    url: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


def sent(op: Any) -> Sent:
    request = op.build_request()
    headers = {k.lower(): v for k, v in request.headers}
    return Sent(request.method, request.url, headers, request.body)

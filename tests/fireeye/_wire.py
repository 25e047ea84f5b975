"""What an Operation would send, whichever request type it builds: an ``httpx.Request`` from
``build_request(attempt)`` (before issue 13) or a plain wire value from ``build_request()``
(issue 13's ``creditsdk._core.wire.Request``), so these tests read the same bytes either way."""

from __future__ import annotations

from typing import Any, NamedTuple


class Sent(NamedTuple):
    method: str
    url: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


def sent(op: Any) -> Sent:
    try:
        request = op.build_request()
    except TypeError:
        request = op.build_request(1)
    body = getattr(request, "body", None)
    if body is None:
        body = request.content
    raw = request.headers
    items = raw.items() if hasattr(raw, "items") else raw
    headers = {str(k).lower(): str(v) for k, v in items}
    return Sent(str(request.method), str(request.url), headers, bytes(body))

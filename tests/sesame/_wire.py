"""What an Operation would send, read the same way before and after Operations speak plain wire
values (an ``httpx.Request`` with ``build_request(attempt)``, or a ``Request`` with ``url`` and
``body`` and ``build_request()``)."""

from __future__ import annotations

import inspect
import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit


def sent(op: Any) -> tuple[dict[str, str], dict[str, str]]:
    """``(URL query, form body)`` of the request ``op`` builds."""
    takes_attempt = bool(inspect.signature(op.build_request).parameters)
    request = op.build_request(1) if takes_attempt else op.build_request()
    body = getattr(request, "body", None)
    body = request.content if body is None else body
    query = dict(parse_qsl(urlsplit(str(request.url)).query, keep_blank_values=True))
    return query, dict(parse_qsl(bytes(body).decode(), keep_blank_values=True))


def biz(op: Any) -> dict[str, Any]:
    """The decoded ``biz_content`` of the request ``op`` builds."""
    content: dict[str, Any] = json.loads(sent(op)[1]["biz_content"])
    return content

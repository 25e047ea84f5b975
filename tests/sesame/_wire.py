"""What an Operation would send: its plain wire ``Request`` (``url`` and ``body``), read back."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit


def sent(op: Any) -> tuple[dict[str, str], dict[str, str]]:
    """``(URL query, form body)`` of the request ``op`` builds."""
    request = op.build_request()
    query = dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))
    return query, dict(parse_qsl(request.body.decode(), keep_blank_values=True))


def biz(op: Any) -> dict[str, Any]:
    """The decoded ``biz_content`` of the request ``op`` builds."""
    content: dict[str, Any] = json.loads(sent(op)[1]["biz_content"])
    return content

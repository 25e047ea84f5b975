"""Helpers for the Tianyuan tests: they encrypt with pycryptodome directly, not the client."""

from __future__ import annotations

import base64
import json
from typing import Any

from Crypto.Cipher import AES
from Crypto.Util.Padding import pad, unpad

KEY_HEX = "00112233445566778899aabbccddeeff"
ACCESS_ID = "ty-test-id"
BASE = "https://ty.test"
ID_CARD = "11010519491231002X"


def seal(key: bytes, obj: Any, iv: bytes = b"\x07" * 16) -> str:
    plain = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    return base64.b64encode(iv + AES.new(key, AES.MODE_CBC, iv).encrypt(pad(plain, 16))).decode()


def unseal(key: bytes, data: str) -> Any:
    blob = base64.b64decode(data)
    plain = unpad(AES.new(key, AES.MODE_CBC, blob[:16]).decrypt(blob[16:]), 16)
    return json.loads(plain)


def wire(op: Any) -> tuple[str, dict[str, str], bytes]:
    """(URL path, headers lower-cased, body) of an Operation's plain wire request."""
    from urllib.parse import urlsplit

    request = op.build_request()
    return urlsplit(request.url).path, {k.lower(): v for k, v in request.headers}, request.body

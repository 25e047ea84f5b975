"""Structured inputs from one byte string — the cheapest thing hypothesis generates.

Fuzz tests take ``st.binary()`` and read choices from it (as libFuzzer's FuzzedDataProvider
does): 10,000 examples of ``st.binary()`` cost a few seconds where nested ``st.recursive``
strategies cost minutes. Shrinking still works: fewer or smaller bytes mean simpler inputs, and
an exhausted source answers zeros, i.e. the simplest choice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

import httpx
from hypothesis import strategies as st

T = TypeVar("T")

REQUEST = httpx.Request("POST", "https://provider.example/api")
SEEDS = st.binary(max_size=256)

#: Characters that break naive parsers: quotes, escapes, braces, CJK, astral, controls.
_CHARS = 'aZ09_-.:/ =&?%+"\\{}[],\n\t\x00\x7f张三李四é\u2028\U0001f600\ud7ff'
_WORDS = (
    "code", "data", "sign", "msg", "message", "respCd", "resp", "transaction_id", "auth_code",
    "state", "error", "zm_score", "sub_code", "xyp_cpl0001", "xyp_cpl0081", "0", "1", "-1",
    "0000", "0003", "10000", "N/A", "null", "true", "{}", "[]", '"', "\\u5f20",
)  # fmt: skip


class Source:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._i = 0

    def byte(self) -> int:
        if self._i >= len(self._data):
            return 0
        b = self._data[self._i]
        self._i += 1
        return b

    def flag(self) -> bool:
        return self.byte() & 1 == 1

    def choice(self, options: Sequence[T]) -> T:
        return options[self.byte() % len(options)]

    def int(self, lo: int, hi: int) -> int:
        span = hi - lo + 1
        value = 0
        for _ in range((span.bit_length() + 7) // 8):
            value = (value << 8) | self.byte()
        return lo + value % span

    def raw(self, max_len: int) -> bytes:
        n = self.int(0, max_len)
        out = self._data[self._i : self._i + n]
        self._i += len(out)
        return out

    def text(self, max_len: int = 12) -> str:
        if self.byte() % 4 == 0:
            return self.choice(_WORDS)
        return "".join(self.choice(_CHARS) for _ in range(self.int(0, max_len)))

    def number(self) -> int | float:
        kind = self.byte() % 4
        if kind == 0:
            return self.int(-2, 1100)
        if kind == 1:
            return self.int(-(2**63), 2**63)
        if kind == 2:
            return self.int(0, 10_000) / 100
        return self.choice([0.0, -0.0, 1e308, -1e-308, 2**53 + 1])

    def json(self, depth: int = 0) -> Any:
        kind = self.byte() % (8 if depth < 3 else 5)
        if kind == 0:
            return None
        if kind == 1:
            return self.flag()
        if kind == 2:
            return self.number()
        if kind in (3, 4):
            return self.text()
        if kind == 5:
            return [self.json(depth + 1) for _ in range(self.int(0, 3))]
        return {self.text(8): self.json(depth + 1) for _ in range(self.int(0, 4))}

    def shaped(self, shape: dict[str, list[Any]]) -> dict[str, Any]:
        """Some of ``shape``'s members, each a listed value or any JSON."""
        out: dict[str, Any] = {}
        for name, values in shape.items():
            pick = self.byte() % 5
            if pick == 0:
                continue
            out[name] = self.json() if pick == 1 else self.choice(values)
        return out

    def body(self, shape: dict[str, list[Any]]) -> bytes:
        """A response body: arbitrary bytes, arbitrary JSON, or (mostly) a shaped object."""
        kind = self.byte() % 6
        if kind == 0:
            return self.raw(64)
        if kind == 1:
            return dumps(self.json()).encode("utf-8", "surrogatepass")
        return dumps(self.shaped(shape), spaced=kind == 2).encode("utf-8", "surrogatepass")


def dumps(obj: Any, *, ascii_only: bool = False, spaced: bool = False) -> str:
    seps = (", ", ": ") if spaced else (",", ":")
    return json.dumps(obj, ensure_ascii=ascii_only, separators=seps)


def response(body: bytes, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=body, request=REQUEST)

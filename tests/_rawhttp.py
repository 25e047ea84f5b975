"""Reading one HTTP/1.1 request off an asyncio stream: the raw loopback servers of the executor
tests (tests/core, tests/fuzz) answer with bytes they choose, so a test can send what no real
server library would (repeated headers, bad framing, a cut connection)."""

from __future__ import annotations

import asyncio


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """(head with its blank line, body) of the next request; the body is as long as its
    Content-Length says (none: empty). Raises ``asyncio.IncompleteReadError`` at end of stream."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return head, body

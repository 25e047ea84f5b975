"""A replay server: raw asyncio, every request answered with one canned, valid Tianyuan answer
after a fixed latency (an event-loop timer, not a sleeping thread). It costs the server
~0.05 ms of CPU per request, so a fan-out against it measures the client.

    python benchmarks/_replay.py [latency seconds]

Prints one JSON line (base_url, credentials, pid) and serves until stdin closes; a line ``cpu``
on stdin is answered with this process's CPU seconds so far, as _serve.py does.

The canned answer is made once, at start-up, by the real Sandbox app (in this process, no
socket): a ``JRZQ8F7C`` answer to the benchmark's applicant, encrypted with the Sandbox's key.
The client checks nothing that ties an answer to its request, so one answer serves every call.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
from typing import Any

import httpx

from creditsdk import Consent
from creditsdk.sandbox import Sandbox
from creditsdk.tianyuan import TianyuanClient

PARAMS = {"name": "张三", "id_card": "11010519491231002X", "mobile_no": "13800138000"}
CONSENT = Consent(
    reference="AUTH1", purpose="credit_underwriting", granted_at=dt.datetime(2026, 1, 1)
)


def canned_answer() -> tuple[dict[str, Any], bytes]:
    """(credentials, the full HTTP/1.1 response bytes) of one real Sandbox answer."""
    box: dict[str, bytes] = {}

    def keep(response: httpx.Response) -> None:
        response.read()
        box["body"] = response.content

    sb = Sandbox(providers=["tianyuan"])
    ty = sb.tianyuan
    ty.balance = None
    http = httpx.Client(transport=sb.transport(), event_hooks={"response": [keep]})
    creds = {"access_id": ty.access_id, "access_key": ty.access_key, "key_format": ty.key_format}
    with TianyuanClient(
        creds["access_id"],
        creds["access_key"],
        "http://sandbox.invalid",
        key_format=creds["key_format"],
        http_client=http,
    ) as client:
        client.call("JRZQ8F7C", PARAMS, consent=CONSENT)  # checks that the answer is valid
    http.close()
    body = box["body"]
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    ).encode("ascii")
    return creds, head + body


class Replay(asyncio.Protocol):
    """HTTP/1.1 keep-alive, just enough of it: requests with a Content-Length body."""

    def __init__(self, answer: bytes, latency: float) -> None:
        self.answer = answer
        self.latency = latency
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self.buffer + data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            length = 0
            for line in buf[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(buf) < end + 4 + length:
                break
            buf = buf[end + 4 + length :]
            self.loop.call_later(self.latency, self._answer)
        self.buffer = buf

    def _answer(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(self.answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(latency: float) -> None:
    creds, answer = canned_answer()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Replay(answer, latency), "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    desc = {"base_url": f"http://127.0.0.1:{port}", "pid": os.getpid(), "tianyuan": creds}
    print(json.dumps(desc), flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if line.strip() == b"cpu":
            t = os.times()
            print(json.dumps({"cpu": t.user + t.system}), flush=True)
    server.close()


if __name__ == "__main__":
    asyncio.run(serve(float(sys.argv[1]) if len(sys.argv) > 1 else 0.05))

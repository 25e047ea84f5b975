"""The Sandbox shell with a fake provider: routing, ledger, TLS, in-process, keep-alive, load."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from creditsdk.errors import ConfigurationError
from creditsdk.sandbox import (
    Route,
    Sandbox,
    SandboxContext,
    SandboxRequest,
    SandboxResponse,
    discover_providers,
)


class EchoProvider:
    name = "echo"

    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx
        self.secret = ctx.options.get("secret", "s3cret")

    def routes(self) -> list[Route]:
        return [
            Route.of("POST", "/echo/{item}", self.echo),
            Route.of(["GET"], "/boom", self.boom),
        ]

    def echo(self, request: SandboxRequest) -> SandboxResponse:
        entry = self.ctx.bill(
            "ECHO", f"T{len(self.ctx.ledger()) + 1}", item=request.path_params["item"]
        )
        return SandboxResponse.json(
            {
                "item": request.path_params["item"],
                "q": request.query_one("q"),
                "body": request.body.decode(),
                "header": request.headers.get("x-test"),
                "seq": entry.seq,
            }
        )

    def boom(self, request: SandboxRequest) -> SandboxResponse:
        raise RuntimeError("sandbox bug")

    def client(self, **kw: Any) -> httpx.Client:
        opts = {**self.ctx.client_options(), **kw}
        if "http_client" in opts:  # in-process: the sandbox made the client
            http: httpx.Client = opts["http_client"]
            http.base_url = httpx.URL(self.ctx.base_url)
            return http
        return httpx.Client(base_url=self.ctx.base_url, **opts)

    def async_client(self, **kw: Any) -> httpx.AsyncClient:
        opts = {**self.ctx.client_options(asynchronous=True), **kw}
        if "http_client" in opts:
            http: httpx.AsyncClient = opts["http_client"]
            http.base_url = httpx.URL(self.ctx.base_url)
            return http
        return httpx.AsyncClient(base_url=self.ctx.base_url, **opts)


def make(**kw: Any) -> Sandbox:
    return Sandbox(providers=[], extra_providers={"echo": EchoProvider}, **kw)


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with make() as sandbox:
        yield sandbox


def test_real_loopback_server_routes_and_bills(sb: Sandbox) -> None:
    assert sb.base_url.startswith("http://127.0.0.1:")
    with httpx.Client(base_url=sb.base_url) as http:
        r = http.post("/echo/abc?q=1", content=b"hello", headers={"X-Test": "yes"})
        assert r.status_code == 200
        assert r.json() == {"item": "abc", "q": "1", "body": "hello", "header": "yes", "seq": 1}
        assert http.get("/nowhere").status_code == 404
        wrong = http.get("/echo/abc")
        assert (wrong.status_code, wrong.headers["allow"]) == (405, "POST")
        assert http.get("/boom").status_code == 500
    entries = sb.ledger("echo")
    assert [(e.provider, e.operation, e.transaction_id, e.details["item"]) for e in entries] == [
        ("echo", "ECHO", "T1", "abc")
    ]


def test_provider_attribute_and_client_factories(sb: Sandbox) -> None:
    assert sb.echo.secret == "s3cret"
    with sb.echo_client() as http:
        assert http.post("/echo/x").json()["item"] == "x"
    assert sb.providers == ["echo"]
    with pytest.raises(AttributeError):
        sb.nope  # noqa: B018
    with pytest.raises(ConfigurationError, match="no sandbox provider"):
        sb.ledger("nope")


def test_keep_alive_reuses_one_connection(sb: Sandbox) -> None:
    with httpx.Client(base_url=sb.base_url) as http:
        for i in range(20):
            assert http.post(f"/echo/{i}").json()["seq"] == i + 1
    assert sb.connections_accepted == 1


def test_in_process_transport_needs_no_port() -> None:
    sandbox = make()
    assert not sandbox.running
    with httpx.Client(transport=sandbox.transport(), base_url="http://sandbox.invalid") as http:
        assert http.post("/echo/in?q=2", content=b"b").json()["q"] == "2"
    with sandbox.echo_client() as http:  # wired in-process when not serving
        assert http.post("/echo/again").json()["seq"] == 2
    assert len(sandbox.ledger("echo")) == 2
    with pytest.raises(ConfigurationError, match="not serving"):
        sandbox.base_url  # noqa: B018


async def test_in_process_async_transport() -> None:
    sandbox = make()
    async with sandbox.async_echo_client() as http:
        r = await http.post("/echo/async")
    assert r.json()["item"] == "async"


def test_tls_with_throwaway_ca() -> None:
    with make(tls=True) as sandbox:
        assert sandbox.base_url.startswith("https://127.0.0.1:")
        assert sandbox.ca_bundle is not None
        with httpx.Client(verify=sandbox.ssl_context()) as http:
            assert http.post(sandbox.base_url + "/echo/tls").json()["item"] == "tls"
        with sandbox.echo_client() as http:
            assert http.post("/echo/tls2").status_code == 200
        with httpx.Client() as untrusting, pytest.raises(httpx.ConnectError):
            untrusting.post(sandbox.base_url + "/echo/x")
        bundle = sandbox.ca_bundle
    import os

    assert not os.path.exists(bundle)
    assert isinstance(ssl.create_default_context(), ssl.SSLContext)


async def _keep_alive_client(port: int, i: int, requests: int) -> list[bytes]:
    """A minimal HTTP/1.1 client on one connection (httpcore's pool is O(n^2) at n=200)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    bodies = []
    try:
        for _ in range(requests):
            writer.write(
                f"POST /echo/{i} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
            )
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            bodies.append(await reader.readexactly(length))
    finally:
        writer.close()
    return bodies


async def test_200_concurrent_keep_alive_connections() -> None:
    with make(latency=0.2) as sandbox:
        port = int(sandbox.base_url.rsplit(":", 1)[1])
        answers = await asyncio.gather(*(_keep_alive_client(port, i, 3) for i in range(200)))
        for i, bodies in enumerate(answers):
            assert [json.loads(b)["item"] for b in bodies] == [str(i)] * 3
        # 200 connections held open at once, each answering 3 requests.
        assert sandbox.connections_accepted == 200
        assert len(sandbox.ledger("echo")) == 600
        assert len({e.seq for e in sandbox.ledger("echo")}) == 600


def test_route_clash_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="clashes"):
        Sandbox(providers=[], extra_providers={"a": EchoProvider, "b": EchoProvider})


def test_unknown_provider_name() -> None:
    with pytest.raises(ConfigurationError, match="unknown sandbox provider"):
        Sandbox(providers=["nope"])


def test_options_reach_the_provider() -> None:
    sandbox = Sandbox(
        providers=[], extra_providers={"echo": EchoProvider}, options={"echo": {"secret": "other"}}
    )
    assert sandbox.echo.secret == "other"


def test_discovery_finds_only_modules_with_create_sandbox() -> None:
    found = discover_providers()
    assert all(callable(f) for f in found.values())
    assert "sandbox" not in found


def test_stop_closes_idle_keep_alive_connections() -> None:
    sandbox = make().start()
    http = httpx.Client(base_url=sandbox.base_url)
    assert http.post("/echo/1").status_code == 200
    sandbox.stop()
    with pytest.raises(httpx.TransportError):
        http.post("/echo/2")
    http.close()

"""The HTTP control API (issue 16 item 13): driven by curl and a plain socket, on the same
state as the Python API; loopback only; typed errors naming the bad field."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from creditsdk import Applicant, Consent
from creditsdk.errors import TransportError
from creditsdk.sandbox import Sandbox, SandboxRequest

APPLICANT = Applicant(name="张三", id_card="11010519491231002X", mobile="13800138000")
CONSENT = Consent(
    reference="AUTH20251210001", purpose="credit_underwriting", granted_at=dt.datetime(2026, 11, 1)
)
CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed")


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=4) as sandbox:
        yield sandbox


def curl(*args: str) -> tuple[int, Any]:
    """``curl`` as a Java or Go test would use it: status code and parsed JSON body."""
    assert CURL is not None
    done = subprocess.run(
        [CURL, "-sS", "--max-time", "30", "-w", "\n%{http_code}", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
        timeout=60,
    )
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body) if body else None


def curl_json(method: str, url: str, doc: object) -> tuple[int, Any]:
    return curl("-X", method, "-H", "Content-Type: application/json", "-d", json.dumps(doc), url)


def raw(sb: Sandbox, request: bytes) -> bytes:
    """One request over a plain socket; the whole answer (the server closes: Connection: close)."""
    parts = urlsplit(sb.base_url)
    assert parts.hostname is not None
    assert parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(request)
        chunks = []
        while piece := sock.recv(65536):
            chunks.append(piece)
    return b"".join(chunks)


@needs_curl
def test_index_and_health_answer_instead_of_404(sb: Sandbox) -> None:
    status, index = curl(sb.base_url + "/")
    assert status == 200
    assert index["service"] == "creditsdk sandbox"
    assert set(index["providers"]) == set(sb.providers)
    assert index["control"]["health"] == "GET /_sandbox/health"
    assert "reset_after" in index["fault_kinds"]
    status, health = curl(sb.control_url + "/health")
    assert (status, health["status"], health["providers"]) == (200, "ok", sb.providers)


@needs_curl
def test_curl_injects_a_fault_the_python_client_then_meets(sb: Sandbox) -> None:
    status, added = curl_json(
        "POST", sb.control_url + "/faults", {"provider": "tianyuan", "kind": "reset_after"}
    )
    assert status == 200
    assert added["added"]["times"] == 1
    assert sb.faults.rules()[0]["kind"] == "reset_after"  # the Python side sees the same plan
    with sb.tianyuan_client() as ty:
        with pytest.raises(TransportError) as failed:
            ty.multi_lending(APPLICANT, consent=CONSENT)
        assert failed.value.maybe_billed
        ty.multi_lending(APPLICANT, consent=CONSENT)  # times=1: the next call is fine
    status, faults = curl(sb.control_url + "/faults")
    assert faults["injected"] == [{"provider": "tianyuan", "call": 1, "kind": "reset_after"}]
    assert faults["calls"]["tianyuan"] == 2
    assert faults["rules"][0]["times"] == 0
    status, ledger = curl(sb.control_url + "/ledger?provider=tianyuan")
    assert status == 200
    assert [e["seq"] for e in ledger["entries"]] == [1, 2]  # the lost answer was billed too
    assert [e["transaction_id"] for e in ledger["entries"]] == [
        e.transaction_id for e in sb.ledger("tianyuan")
    ]
    assert "11010519491231002X" not in json.dumps(ledger)  # masked personal data
    assert ledger["entries"][0]["details"]["id_card"] == "110105********002X"


@needs_curl
def test_pin_fail_next_balance_and_reset_share_state_with_python(sb: Sandbox) -> None:
    pin = {"key": APPLICANT.id_card, "scenario": "currently_overdue"}
    status, pinned = curl_json("POST", sb.control_url + "/providers/tianyuan/pin", pin)
    assert (status, pinned) == (200, {"key": "110105********002X", "scenario": "currently_overdue"})
    assert sb.tianyuan.pinned(APPLICANT.id_card) == "currently_overdue"

    status, _ = curl_json("PUT", sb.control_url + "/providers/tianyuan/balance", {"balance": 7})
    assert status == 200
    assert sb.tianyuan.balance == 7
    sb.tianyuan.balance = 5
    assert curl(sb.control_url + "/providers/tianyuan/balance") == (200, {"balance": 5})

    status, queued = curl_json(
        "POST", sb.control_url + "/providers/tianyuan/fail_next", {"code": 1007, "times": 2}
    )
    assert (status, queued) == (200, {"pending_failures": 2})
    assert [f.code for f in sb.tianyuan.pending_failures] == [1007, 1007]

    status, _ = curl_json("POST", sb.control_url + "/reset", {})
    assert status == 200
    assert sb.tianyuan.pinned(APPLICANT.id_card) is None
    assert sb.tianyuan.pending_failures == []
    assert sb.tianyuan.balance == sb.tianyuan.default_balance


@needs_curl
def test_authorization_page_approve_and_deny(sb: Sandbox) -> None:
    providers = curl(sb.control_url + "/providers")[1]["providers"]
    (name,) = [n for n, p in providers.items() if p["authorization"]]
    provider = sb.provider(name)
    url = provider.authorize_url + (
        f"?app_id={provider.app_id}&scope=auth_zhima&state=s1"
        "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb"
    )
    status, approved = curl_json("POST", f"{sb.control_url}/providers/{name}/approve", {"url": url})
    assert status == 200
    assert approved["redirect"].startswith("https://app.example/cb?")
    assert "auth_code=" in approved["redirect"]
    status, denied = curl_json("POST", f"{sb.control_url}/providers/{name}/deny", {"url": url})
    assert "error=access_denied" in denied["redirect"]
    status, bad = curl_json("POST", f"{sb.control_url}/providers/{name}/approve", {"url": "x"})
    assert (status, bad["error"]["field"]) == (400, "url")
    status, unsupported = curl_json(
        "POST", f"{sb.control_url}/providers/tianyuan/approve", {"url": url}
    )
    assert (status, unsupported["error"]["type"]) == (409, "unsupported")


@needs_curl
@pytest.mark.parametrize(
    ("path", "doc", "status", "field"),
    [
        ("/faults", {"provider": "tianyuan", "kind": "meteor"}, 400, "kind"),
        ("/faults", {"provider": "tianyuan", "kind": "slow", "times": 0}, 400, "times"),
        ("/faults", {"provider": "tianyuan", "kind": "slow", "delay": "5"}, 400, "delay"),
        ("/faults", {"provider": "tianyuan", "kind": "slow", "on_call": [0]}, 400, "on_call"),
        ("/faults", {"provider": "nobody", "kind": "slow"}, 404, "provider"),
        ("/faults", {"kind": "slow"}, 400, "provider"),
        ("/faults", {"provider": "tianyuan", "kind": "slow", "colour": 1}, 400, "colour"),
        ("/providers/tianyuan/pin", {"key": "K", "scenario": "rich"}, 400, "scenario"),
        ("/providers/tianyuan/pin", {"scenario": "light"}, 400, "key"),
        ("/providers/tianyuan/fail_next", {"code": 1007, "times": True}, 400, "times"),
        ("/providers/tianyuan/fail_next", {"code": "soon"}, 400, "code"),
        ("/providers/tianyuan/fail_next", {"code": 0}, 400, "code"),
    ],
)
def test_bad_fields_are_named(
    sb: Sandbox, path: str, doc: dict[str, Any], status: int, field: str
) -> None:
    got, error = curl_json("POST", sb.control_url + path, doc)
    assert (got, error["error"]["field"]) == (status, field)
    assert sb.faults.rules() == []
    assert sb.tianyuan.pending_failures == []


def test_plain_socket_and_the_hostile_requests(sb: Sandbox) -> None:
    port = urlsplit(sb.base_url).port
    ok = raw(sb, f"GET /_sandbox/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 "Connection: close\r\n\r\n".encode())  # fmt: skip
    head, _, body = ok.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert json.loads(body)["status"] == "ok"

    def ask(head_lines: str, body: bytes = b"") -> tuple[bytes, Any]:
        answer = raw(sb, head_lines.encode() + b"Connection: close\r\n\r\n" + body)
        status_line, _, rest = answer.partition(b"\r\n")
        return status_line, json.loads(rest.partition(b"\r\n\r\n")[2])

    # DNS rebinding: the attacker's name resolved to 127.0.0.1, the browser sends that name
    status, error = ask("GET /_sandbox/ledger HTTP/1.1\r\nHost: rebind.attacker.example\r\n")
    assert (status, error["error"]["field"]) == (b"HTTP/1.1 403 Forbidden", "Host")
    # a cross-site page: an Origin that is not loopback
    status, error = ask(
        f"GET /_sandbox/ledger HTTP/1.1\r\nHost: localhost:{port}\r\nOrigin: https://evil.example\r\n"
    )
    assert (status, error["error"]["field"]) == (b"HTTP/1.1 403 Forbidden", "Origin")
    # a cross-site form post cannot send application/json
    form = b"provider=tianyuan&kind=reset_after"
    status, error = ask(
        f"POST /_sandbox/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(form)}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n",
        form,
    )
    assert status == b"HTTP/1.1 415 Unsupported Media Type"
    # JSON nested 10,000 deep
    deep = b"[" * 10_000 + b"]" * 10_000
    status, error = ask(
        f"POST /_sandbox/faults HTTP/1.1\r\nHost: [::1]\r\nContent-Length: {len(deep)}\r\n"
        "Content-Type: application/json\r\n",
        deep,
    )
    assert (status, error["error"]["type"]) == (b"HTTP/1.1 400 Bad Request", "invalid_json")
    big = b'{"k": "' + b"x" * 70_000 + b'"}'
    status, error = ask(
        f"POST /_sandbox/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(big)}\r\n"
        "Content-Type: application/json\r\n",
        big,
    )
    assert status == b"HTTP/1.1 413 Payload Too Large"
    assert sb.faults.rules() == []


@pytest.mark.parametrize(
    ("client", "host", "allowed"),
    [
        ("127.0.0.1", "127.0.0.1:8080", True),
        ("127.0.0.5", "localhost", True),
        ("::1", "[::1]:9", True),
        ("::ffff:127.0.0.1", "app.localhost", True),
        ("10.0.0.5", "127.0.0.1", False),  # a non-loopback peer (a served 0.0.0.0)
        ("::ffff:10.0.0.5", "127.0.0.1", False),
        ("192.168.1.2", "localhost", False),
        ("127.0.0.1", "", False),
        ("127.0.0.1", "127.0.0.1.nip.io", False),
        ("127.0.0.1", "localhost.evil.example", False),
    ],
)
def test_only_loopback_peers_with_loopback_host_names(
    client: str, host: str, allowed: bool
) -> None:
    sb = Sandbox(seed=1)  # in-process: the peer address is whatever the request says
    request = SandboxRequest(
        method="GET",
        path="/_sandbox/health",
        query_string="",
        headers={"host": host} if host else {},
        body=b"",
        client=client,
    )
    delivery = sb.serve(request)
    assert delivery.response is not None
    assert (delivery.response.status == 200) is allowed


def test_no_provider_route_may_use_the_control_prefix() -> None:
    from creditsdk.errors import ConfigurationError
    from creditsdk.sandbox import Route, SandboxResponse

    class Squatter:
        name = "squatter"

        def __init__(self, _ctx: object) -> None:
            pass

        def routes(self) -> list[Route]:
            return [Route.of("GET", "/_sandbox/health", lambda r: SandboxResponse(200))]

        def client(self, **kw: Any) -> None: ...

        def async_client(self, **kw: Any) -> None: ...

    with pytest.raises(ConfigurationError, match="reserved for the control API"):
        Sandbox(providers=[], extra_providers={"squatter": Squatter})

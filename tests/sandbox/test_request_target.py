"""RFC 9112 §3.2.2: a server MUST accept the absolute form of a request target."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from creditsdk.sandbox import Sandbox
from creditsdk.sandbox._server import _origin_form


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/gateway.do?a=1&b=2", ("/gateway.do", "a=1&b=2", None)),
        ("http://127.0.0.1:8080/gateway.do?a=1", ("/gateway.do", "a=1", "127.0.0.1:8080")),
        ("HTTPS://h.example/x", ("/x", "", "h.example")),
        ("http://h.example", ("/", "", "h.example")),
        ("http://h.example?q=1", ("/", "q=1", "h.example")),
        ("http://h.example/p#frag", ("/p", "", "h.example")),
        ("http://user@h.example/p", None),
        ("ftp://h.example/p", None),
        ("gateway.do", None),
        ("*", None),
    ],
)
def test_request_target_forms(target: str, expected: object) -> None:
    assert _origin_form(target) == expected


@pytest.mark.usefixtures("sandbox_parser")
def test_absolute_form_reaches_the_route_like_origin_form() -> None:
    with Sandbox(providers=["sesame"], seed=1) as sb:
        parts = urlsplit(sb.base_url)
        answers = []
        for target in (
            "/gateway.do?method=x&charset=utf-8",
            f"{sb.base_url}/gateway.do?method=x&charset=utf-8",
        ):
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            try:
                conn.request("POST", target, body=b"", headers={"Host": "elsewhere.example"})
                response = conn.getresponse()
                answers.append((response.status, json.loads(response.read())))
            finally:
                conn.close()
    (status_origin, origin), (status_absolute, absolute) = answers
    assert status_origin == status_absolute == 200  # not 404
    assert absolute["x_response"]["sub_code"] == "isv.missing-app-id"
    assert absolute["x_response"] == origin["x_response"]

"""The plain wire values, and what the executors make of them on the wire."""

from __future__ import annotations

import gzip
import json
from urllib.parse import urlencode

import httpx

from creditsdk._core.executors import SyncTransport, as_httpx
from creditsdk._core.operation import Operation
from creditsdk._core.wire import Headers, Request, Response


def test_headers_are_case_insensitive_and_multi_valued() -> None:
    h = Headers([("Content-Type", "text/plain"), ("X-A", "1"), ("x-a", "2")])
    assert h.get("content-type") == "text/plain"
    assert h.get("X-A") == "1, 2"  # joined, as httpx does
    assert h.get("missing") is None
    assert h.get("missing", "") == ""
    assert h["CONTENT-TYPE"] == "text/plain"
    assert "x-A" in h
    assert h.items() == [("content-type", "text/plain"), ("x-a", "1, 2")]
    assert h.multi_items() == [("Content-Type", "text/plain"), ("X-A", "1"), ("x-a", "2")]
    assert "text/plain" not in repr(h)  # values may be tokens or signatures


def test_reprs_show_no_query_headers_or_body() -> None:
    r = Request(
        "GET",
        "https://h.test/p?id=11010519491231002X",
        (("Authorization", "Bearer SECRET"),),
        b"13800138000",
    )
    text = repr(r)
    assert "11010519491231002X" not in text
    assert "SECRET" not in text
    assert "13800138000" not in text
    assert (r.path, r.query) == ("/p", "id=11010519491231002X")
    assert r.with_header("authorization", "x").headers == (("authorization", "x"),)
    answer = Response(200, [("Content-Type", "application/json")], b'{"k": "13800138000"}')
    assert "13800138000" not in repr(answer)


def test_response_text_and_json() -> None:
    gbk = Response(200, [("Content-Type", "text/plain; charset=GBK")], "芝麻".encode("gbk"))
    assert gbk.text == "芝麻"
    assert gbk.charset_encoding == "GBK"
    plain = Response(200, [], b'{"a": 1}')
    assert plain.text == '{"a": 1}'
    assert plain.json() == {"a": 1}
    assert Response(200, [("Content-Type", "text/plain; charset=nope")], b"x").text == "x"


def test_a_query_built_with_urlencode_is_the_one_httpx_params_would_send() -> None:
    # FireEye's GET layout used httpx's params=; the wire value is built with urlencode.
    envelope = json.dumps(
        {"id": "I 1", "appKey": "k+/=&?", "data": {"loc": "上海", "q": "a'b\"c"}},
        ensure_ascii=False,
    )
    old = httpx.Request("GET", "https://h.test/fireeye/x", params={"data": envelope})
    new = as_httpx(Request("GET", "https://h.test/fireeye/x?" + urlencode({"data": envelope})))
    assert new.url.raw_path == old.url.raw_path
    assert new.headers.multi_items() == old.headers.multi_items()


def test_a_post_body_and_headers_go_out_as_given() -> None:
    sent = as_httpx(Request("POST", "https://h.test/a", (("Content-Type", "x/y"),), b"abc"))
    assert sent.content == b"abc"
    assert sent.headers["Content-Type"] == "x/y"
    assert sent.headers["Content-Length"] == "3"


def test_the_parser_gets_a_decoded_wire_response() -> None:
    seen: list[Response] = []

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            content=gzip.compress(b'{"code": 0}'),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json", "X-T": "1"},
        )

    op = Operation(
        provider="fake",
        name="Q",
        build_request=lambda: Request("POST", "https://fake.example/q?t=1", body=b"{}"),
        parse_response=lambda r: seen.append(r) or "ok",
        billed=False,
        idempotent=True,
    )
    t = SyncTransport(
        provider="fake", http_client=httpx.Client(transport=httpx.MockTransport(handle))
    )
    assert t.run(op) == "ok"
    [answer] = seen
    assert isinstance(answer, Response)
    assert answer.content == b'{"code": 0}'
    assert answer.headers.get("content-encoding") is None  # describes the body no more
    assert answer.headers.get("x-t") == "1"
    assert answer.url == "https://fake.example/q?t=1"

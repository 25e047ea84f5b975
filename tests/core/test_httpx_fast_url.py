"""The httpx executors' URL shortcut: a plain percent-encoded query is attached to httpx's own
(cached) parse of the URL before it. Whatever the URL, the ``httpx.Request`` sent is the one
``httpx.Request(url)`` gives; anything unusual goes to httpx whole."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditsdk._core.executors import _httpx as hx
from creditsdk._core.wire import Request

BASES = st.sampled_from(
    [
        "http://127.0.0.1:8080/sesame/gateway.do",
        "https://openapi.alipay.com/gateway.do",
        "https://api.example.com",
        "https://[::1]:8443/a%20b/c",
        "http://user:pw@host.example/p",
        "HTTPS://Example.COM:443/x",
    ]
)
QUERY_CHARS = st.text(st.sampled_from("aZ09._~-+=&*%2Bf#? /\u00e9\x7f"), max_size=30)


def _same(url: str) -> None:
    fast = hx._fast_url(url)
    try:
        slow = httpx.URL(url)
    except httpx.InvalidURL:
        assert fast == url  # httpx itself refuses it, as before
        return
    got = fast if isinstance(fast, httpx.URL) else httpx.URL(fast)
    assert str(got) == str(slow)
    assert (got.scheme, got.host, got.port, got.raw_path, got.netloc, got.fragment) == (
        slow.scheme,
        slow.host,
        slow.port,
        slow.raw_path,
        slow.netloc,
        slow.fragment,
    )


def test_the_shortcut_is_on() -> None:
    assert hx._FAST_URLS is True
    assert isinstance(hx._fast_url("https://gw.example/g.do?a=1&sign=x%2B%3D"), httpx.URL)


@settings(max_examples=300, deadline=None)
@given(BASES, st.dictionaries(st.text(max_size=8), st.text(max_size=40), max_size=6))
def test_an_urlencoded_query_parses_as_httpx_parses_it(base: str, params: dict[str, str]) -> None:
    _same(base + "?" + urlencode(params))


@settings(max_examples=300, deadline=None)
@given(BASES, QUERY_CHARS)
def test_any_query_parses_as_httpx_parses_it(base: str, query: str) -> None:
    _same(base + "?" + query)


@pytest.mark.parametrize(
    "query", ["a=1#frag", "a=%zz", "a=%2", "a= b", "a=\u00e9", "a=1?b=2", "a=\x7f", "a=[1]"]
)
def test_unusual_queries_go_to_httpx_whole(query: str) -> None:
    url = "https://gw.example/g.do?" + query
    assert hx._fast_url(url) == url


def test_a_request_is_the_same_either_way() -> None:
    url = "http://127.0.0.1:9/gateway.do?" + urlencode({"sign": "ab+/c==", "t": "2026-01-01 08:00"})
    request = Request("POST", url, body=b"biz_content=%7B%7D", headers=(("X-A", "1"),))
    fast = hx.as_httpx(request)
    slow = httpx.Request("POST", url, headers=hx.wire_headers(request), content=request.body)
    assert fast.url == slow.url
    assert fast.headers.raw == slow.headers.raw
    assert fast.read() == slow.read()


def test_the_shortcut_switches_itself_off_if_httpx_disagrees(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def wrong(base: httpx.URL, query: str) -> httpx.URL:
        return httpx.URL(str(base) + "?x=" + query)

    monkeypatch.setattr(hx, "_with_query", wrong)
    assert hx._fast_urls_agree() is False
    monkeypatch.setattr(hx, "_FAST_URLS", hx._fast_urls_agree())  # as the import decides
    url = "https://gw.example/g.do?a=1"
    assert hx._fast_url(url) == url


# -- the owned clients' cookie jar -------------------------------------------------------------


def _cookie_server(seen: list[str | None]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        if request.url.path == "/set":
            return httpx.Response(200, headers={"Set-Cookie": "sid=abc; Path=/"})
        return httpx.Response(200, text="plain")

    return httpx.MockTransport(handler)


def test_an_owned_client_keeps_cookies_as_httpx_does() -> None:
    seen: list[str | None] = []
    client = hx.owned_client(httpx.Client(transport=_cookie_server(seen)))
    assert type(client.cookies) is hx._Cookies
    client.get("https://gw.example/plain")
    assert len(client.cookies.jar) == 0
    client.get("https://gw.example/set")
    client.get("https://gw.example/plain")
    assert seen == [None, None, "sid=abc"]
    assert client.cookies.get("sid") == "abc"


def test_the_executors_own_their_clients_jar_but_never_a_callers() -> None:
    mine = hx.SyncTransport(provider="x")
    theirs = httpx.Client()
    given_client = hx.SyncTransport(provider="x", http_client=theirs)
    try:
        assert type(mine.http_client.cookies) is hx._Cookies
        assert type(given_client.http_client.cookies) is httpx.Cookies
    finally:
        mine.close()
        given_client.close()
        theirs.close()


def test_a_client_whose_jar_is_not_httpxs_own_is_left_alone() -> None:
    client = httpx.Client()
    client._cookies = jar = type("Odd", (httpx.Cookies,), {})()  # type: ignore[attr-defined]
    assert hx.owned_client(client).cookies is jar
    client.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://h/p?a=1",
        "http://h/p?",
        "http://h/p#f?a=1",
        "http://h?a",
        "http://h/p?#x",
        "http://h/p?a#x",
        "http://h/a%20b?x=1",
        "http://h/p;params?x=1",
        "https://gw.example/gateway.do",
    ],
)
def test_the_log_filter_notes_the_path_urlsplit_gives(url: str) -> None:
    from urllib.parse import urlsplit

    from creditsdk._core import httplog

    saved = set(httplog._FILTER._paths)
    httplog._FILTER._paths.clear()
    try:
        httplog.note_query(url)
        parts = urlsplit(url)
        assert httplog._FILTER._paths == ({parts.path or "/"} if parts.query else set())
    finally:
        httplog._FILTER._paths.clear()
        httplog._FILTER._paths.update(saved)

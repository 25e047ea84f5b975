"""Billing-safe retries, timeouts, error mapping and audit — sync and async, over respx."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest
import respx

from creditsdk import MemoryAuditSink, RetryPolicy
from creditsdk._core.config import NOT_GIVEN
from creditsdk._core.transport import AsyncTransport, SyncTransport
from creditsdk._core.wire import Request
from creditsdk.errors import (
    ConfigurationError,
    CreditSDKError,
    ProviderError,
    RateLimitedError,
    ResponseIntegrityError,
    TransportError,
)

from .conftest import URL, make_op

OK = httpx.Response(200, json={"code": 0, "transaction_id": "T1", "data": "x"})
FAST = RetryPolicy(max_attempts=3, initial_backoff=0.1, jitter=0)


def sync_transport(sleeps: list[float], **kw: Any) -> SyncTransport:
    kw.setdefault("retry", FAST)
    kw.setdefault("audit", [])
    return SyncTransport(provider="fake", sleep=sleeps.append, rng=random.Random(1), **kw)


def async_transport(sleeps: list[float], **kw: Any) -> AsyncTransport:
    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    kw.setdefault("retry", FAST)
    kw.setdefault("audit", [])
    return AsyncTransport(provider="fake", sleep=record, rng=random.Random(1), **kw)


async def run_both(
    sleeps: list[float], op_kw: dict[str, Any], side_effect: list[Any], **kw: Any
) -> tuple[Any, Any, int, int]:
    """Run the same scenario through the sync and the async transport.

    Returns (sync outcome, async outcome, sync calls, async calls); an outcome is the result
    or the raised exception.
    """
    outcomes: list[Any] = []
    calls: list[int] = []
    for runner in ("sync", "async"):
        with respx.mock(assert_all_called=False) as mock:
            route = mock.post(URL).mock(side_effect=list(side_effect))
            try:
                if runner == "sync":
                    t = sync_transport(sleeps, **kw)
                    outcomes.append(t.run(make_op(**op_kw)))
                else:
                    at = async_transport(sleeps, **kw)
                    outcomes.append(await at.run(make_op(**op_kw)))
            except CreditSDKError as exc:
                outcomes.append(exc)
            calls.append(route.call_count)
    return outcomes[0], outcomes[1], calls[0], calls[1]


async def test_success_first_try(sleeps: list[float]) -> None:
    s, a, sc, ac = await run_both(sleeps, {}, [OK])
    assert s == a == {"code": 0, "transaction_id": "T1", "data": "x"}
    assert (sc, ac) == (1, 1)
    assert sleeps == []


@pytest.mark.parametrize(
    "exc",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("full")],
)
async def test_not_sent_failures_are_retried_even_when_billed(
    sleeps: list[float], exc: Exception
) -> None:
    s, a, sc, ac = await run_both(sleeps, {"billed": True}, [exc, OK])
    assert s["transaction_id"] == a["transaction_id"] == "T1"
    assert (sc, ac) == (2, 2)
    assert sleeps == [0.1, 0.1]


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("reset"),
        httpx.WriteError("broken pipe"),
    ],
)
async def test_maybe_processed_billed_call_is_not_retried(
    sleeps: list[float], exc: Exception
) -> None:
    s, a, sc, ac = await run_both(sleeps, {"billed": True, "idempotent": False}, [exc, OK])
    for err in (s, a):
        assert isinstance(err, TransportError)
        assert err.maybe_billed is True
        assert err.attempts == 1
        assert "maybe billed" in str(err)
    assert (sc, ac) == (1, 1)
    assert sleeps == []


async def test_maybe_processed_idempotent_call_is_retried(sleeps: list[float]) -> None:
    s, a, sc, ac = await run_both(
        sleeps, {"billed": True, "idempotent": True}, [httpx.ReadTimeout("slow"), OK]
    )
    assert s["code"] == a["code"] == 0
    assert (sc, ac) == (2, 2)


async def test_maybe_processed_unbilled_call_reports_not_billed(sleeps: list[float]) -> None:
    s, a, sc, ac = await run_both(sleeps, {"billed": False}, [httpx.ReadTimeout("slow")])
    for err in (s, a):
        assert isinstance(err, TransportError)
        assert err.maybe_billed is False
    assert (sc, ac) == (1, 1)


async def test_connect_failures_exhaust_attempts(sleeps: list[float]) -> None:
    s, a, sc, ac = await run_both(sleeps, {}, [httpx.ConnectError("refused")] * 5)
    for err in (s, a):
        assert isinstance(err, TransportError)
        assert err.maybe_billed is False
        assert err.attempts == 3
    assert (sc, ac) == (3, 3)
    assert sleeps == [0.1, 0.2] * 2  # exponential: 0.1, 0.2 per run


async def test_503_gateway_pages_are_retried(sleeps: list[float]) -> None:
    page = httpx.Response(503, text="<html>Service Unavailable</html>")
    s, a, sc, ac = await run_both(sleeps, {"billed": True}, [page, page, OK])
    assert s["code"] == a["code"] == 0
    assert (sc, ac) == (3, 3)


@pytest.mark.parametrize("status", [502, 504])
async def test_502_504_after_sending_are_maybe_billed_not_retried(
    sleeps: list[float], status: int
) -> None:
    """RFC 9110 §15.6.3/§15.6.5: the gateway forwarded the request and gave up on the answer.
    The provider may have billed it: a billed non-idempotent call is not sent again."""
    page = httpx.Response(status, text=f"<html><h1>{status}</h1>nginx</html>")
    s, a, sc, ac = await run_both(sleeps, {"billed": True}, [page, OK])
    for err in (s, a):
        assert type(err) is TransportError
        assert err.maybe_billed is True
        assert err.http_status == status
        assert err.attempts == 1
    assert (sc, ac) == (1, 1)
    assert sleeps == []


@pytest.mark.parametrize("status", [502, 504])
async def test_502_504_idempotent_call_is_retried(sleeps: list[float], status: int) -> None:
    page = httpx.Response(status, text="<html>gateway</html>")
    s, a, sc, ac = await run_both(sleeps, {"idempotent": True}, [page, OK])
    assert s["code"] == a["code"] == 0
    assert (sc, ac) == (2, 2)


@pytest.mark.parametrize("status", [502, 504])
async def test_502_504_unbilled_call_is_not_maybe_billed(sleeps: list[float], status: int) -> None:
    page = httpx.Response(status, text="gateway")
    s, a, _, _ = await run_both(sleeps, {"billed": False}, [page, OK])
    for err in (s, a):
        assert isinstance(err, TransportError)
        assert err.maybe_billed is False


async def test_gateway_exhausted_is_transport_error_not_billed(sleeps: list[float]) -> None:
    page = httpx.Response(503, text="busy")
    s, a, _, _ = await run_both(sleeps, {}, [page] * 3)
    for err in (s, a):
        assert isinstance(err, TransportError)
        assert err.http_status == 503
        assert err.maybe_billed is False
        assert err.attempts == 3


async def test_provider_json_on_503_is_the_providers_answer_not_retried(
    sleeps: list[float],
) -> None:
    answer = httpx.Response(503, json={"code": 1001, "message": "interface exception"})
    s, a, sc, ac = await run_both(sleeps, {}, [answer, OK])
    for err in (s, a):
        assert isinstance(err, ProviderError)
        assert err.code == "1001"
        assert err.http_status == 503
    assert (sc, ac) == (1, 1)


async def test_server_error_page_500_on_billed_call_is_maybe_billed(sleeps: list[float]) -> None:
    s, a, sc, ac = await run_both(sleeps, {}, [httpx.Response(500, text="oops"), OK])
    for err in (s, a):
        assert isinstance(err, TransportError)
        assert err.maybe_billed is True
        assert err.http_status == 500
    assert (sc, ac) == (1, 1)


async def test_429_honours_retry_after_seconds(sleeps: list[float]) -> None:
    limited = httpx.Response(429, headers={"Retry-After": "7"}, text="slow down")
    s, a, sc, ac = await run_both(sleeps, {}, [limited, OK])
    assert s["code"] == a["code"] == 0
    assert sleeps == [7.0, 7.0]
    assert (sc, ac) == (2, 2)


async def test_429_retry_after_above_cap_gives_up(sleeps: list[float]) -> None:
    limited = httpx.Response(429, headers={"Retry-After": "3600"}, text="slow down")
    s, a, sc, ac = await run_both(sleeps, {}, [limited, OK])
    for err in (s, a):
        assert isinstance(err, RateLimitedError)
        assert err.retry_after == 3600.0
        assert err.attempts == 1
    assert sleeps == []
    assert (sc, ac) == (1, 1)


async def test_provider_rate_limit_error_is_retried(sleeps: list[float]) -> None:
    def parse(response: httpx.Response) -> Any:
        if response.json().get("code") == 429:
            raise RateLimitedError("busy", provider="fake", code="429", retry_after=2)
        return response.json()

    busy = httpx.Response(200, json={"code": 429})
    s, a, _, _ = await run_both(sleeps, {"parse": parse}, [busy, OK])
    assert s["code"] == a["code"] == 0
    assert sleeps == [2.0, 2.0]


async def test_provider_errors_are_not_retried(sleeps: list[float]) -> None:
    answer = httpx.Response(
        200, json={"code": 1007, "message": "no balance", "transaction_id": "T9"}
    )
    s, a, sc, ac = await run_both(sleeps, {}, [answer, OK])
    for err in (s, a):
        assert isinstance(err, ProviderError)
        assert err.code == "1007"
        assert err.transaction_id == "T9"
        assert err.attempts == 1
    assert (sc, ac) == (1, 1)


async def test_parser_bug_becomes_integrity_error_maybe_billed(sleeps: list[float]) -> None:
    def parse(response: httpx.Response) -> Any:
        raise KeyError("boom")

    s, a, _, _ = await run_both(sleeps, {"parse": parse}, [OK])
    for err in (s, a):
        assert isinstance(err, ResponseIntegrityError)
        assert err.maybe_billed is True
        assert isinstance(err.__cause__, KeyError)


async def test_404_html_is_configuration_error(sleeps: list[float]) -> None:
    s, a, _, _ = await run_both(sleeps, {}, [httpx.Response(404, text="<html>nope</html>")])
    for err in (s, a):
        assert isinstance(err, ConfigurationError)
        assert "base URL" in str(err)


async def test_proxy_401_without_provider_body_is_provider_error(sleeps: list[float]) -> None:
    s, a, sc, ac = await run_both(sleeps, {}, [httpx.Response(401, text="denied"), OK])
    for err in (s, a):
        assert type(err) is ProviderError
        assert err.code == "401"
    assert (sc, ac) == (1, 1)


def test_each_attempt_builds_a_fresh_request(sleeps: list[float]) -> None:
    built: list[int] = []
    with respx.mock:
        route = respx.post(URL).mock(side_effect=[httpx.ConnectError("x"), OK])
        sync_transport(sleeps).run(make_op(built=built))
    assert built == [1, 2]
    assert [c.request.content for c in route.calls] == [b'{"attempt": 1}', b'{"attempt": 2}']


def test_on_retry_hook_sees_each_retry(sleeps: list[float]) -> None:
    events: list[Any] = []
    policy = RetryPolicy(max_attempts=3, initial_backoff=1, jitter=0, on_retry=events.append)
    with respx.mock:
        respx.post(URL).mock(side_effect=[httpx.ConnectError("x"), httpx.ConnectTimeout("y"), OK])
        sync_transport(sleeps, retry=policy).run(make_op())
    assert [(e.attempt, e.delay, e.reason) for e in events] == [
        (1, 1.0, "ConnectError"),
        (2, 2.0, "ConnectTimeout"),
    ]
    assert {e.provider for e in events} == {"fake"}


def test_per_call_retry_override(sleeps: list[float]) -> None:
    with respx.mock:
        route = respx.post(URL).mock(side_effect=[httpx.ConnectError("x"), OK])
        t = sync_transport(sleeps)
        with pytest.raises(TransportError):
            t.run(make_op(), retry=RetryPolicy.no_retries())
    assert route.call_count == 1


# --- timeouts ---------------------------------------------------------------------------


def _timeout_seen(t: SyncTransport, **kw: Any) -> dict[str, Any]:
    with respx.mock:
        route = respx.post(URL).mock(return_value=OK)
        t.run(make_op(), **kw)
    return dict(route.calls[0].request.extensions["timeout"])


def test_default_timeout_is_finite(sleeps: list[float]) -> None:
    seen = _timeout_seen(sync_transport(sleeps))
    assert seen == {"connect": 5.0, "read": 20.0, "write": 20.0, "pool": 20.0}


def test_client_and_call_timeouts(sleeps: list[float]) -> None:
    t = sync_transport(sleeps, timeout=3)
    assert _timeout_seen(t) == {"connect": 3.0, "read": 3.0, "write": 3.0, "pool": 3.0}
    assert _timeout_seen(t, timeout=httpx.Timeout(9, connect=1))["connect"] == 1.0
    assert _timeout_seen(t, timeout=NOT_GIVEN)["read"] == 3.0


def test_timeout_none_is_an_explicit_choice(sleeps: list[float]) -> None:
    t = sync_transport(sleeps, timeout=None)
    assert _timeout_seen(t) == {"connect": None, "read": None, "write": None, "pool": None}


def test_caller_owned_client_timeout_is_the_fallback(sleeps: list[float]) -> None:
    with httpx.Client(timeout=11) as own:
        t = sync_transport(sleeps, http_client=own)
        assert _timeout_seen(t)["read"] == 11.0
        t.close()
        assert not own.is_closed  # never closes what the caller owns


@pytest.mark.parametrize("bad", [0, -1, "5", True])
def test_bad_timeout_is_configuration_error(sleeps: list[float], bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        sync_transport(sleeps, timeout=bad)


def test_wrong_kind_of_http_client_is_refused(sleeps: list[float]) -> None:
    with pytest.raises(ConfigurationError, match="AsyncClient"):
        sync_transport(sleeps, http_client=httpx.AsyncClient())  # type: ignore[arg-type]


# --- audit ------------------------------------------------------------------------------


def test_audit_event_on_success_and_on_maybe_billed(sleeps: list[float]) -> None:
    sink = MemoryAuditSink()
    t = sync_transport(sleeps, audit=sink)
    with respx.mock:
        respx.post(URL).mock(side_effect=[OK, httpx.ReadTimeout("slow")])
        t.run(make_op())
        with pytest.raises(TransportError):
            t.run(make_op())
    first, second = sink.events
    assert (first.outcome, first.attempts, first.maybe_billed, first.transaction_id) == (
        "success",
        1,
        False,
        "T1",
    )
    assert first.applicant == {"name": "张*", "id_card": "110105********002X"}
    assert (second.outcome, second.maybe_billed, second.error_type) == (
        "transport_error",
        True,
        "TransportError",
    )


def test_no_audit_event_for_unbilled_operations(sleeps: list[float]) -> None:
    sink = MemoryAuditSink()
    with respx.mock:
        respx.post(URL).mock(return_value=OK)
        sync_transport(sleeps, audit=sink).run(make_op(billed=False))
    assert sink.events == []


def test_failing_audit_sink_never_breaks_the_call(sleeps: list[float]) -> None:
    def broken(event: Any) -> None:
        raise RuntimeError("disk full")

    with respx.mock:
        respx.post(URL).mock(return_value=OK)
        result = sync_transport(sleeps, audit=broken).run(make_op())
    assert result["transaction_id"] == "T1"


def test_query_strings_never_reach_the_logs(
    sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    import creditsdk._core.operation as operation_mod

    def build() -> Request:
        return Request("GET", URL + "?data=11010519491231002X&appKey=SECRET")

    op = operation_mod.Operation(
        provider="fake",
        name="Q",
        build_request=build,
        parse_response=lambda r: r.json(),
        billed=True,
        idempotent=False,
    )
    caplog.set_level("DEBUG", logger="creditsdk")
    with respx.mock:
        respx.get(URL).mock(return_value=OK)
        sync_transport(sleeps).run(op)
    text = caplog.text
    assert "fake.example/api/query" in text
    assert "11010519491231002X" not in text
    assert "SECRET" not in text

"""OpenTelemetry spans (issue 16, item 14): one CLIENT span per call, attempts as events, an
error status on failure, for sync, async and cancelled calls; nothing (and no import) without
``opentelemetry-api``."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from typing import Any

import httpx
import pytest

pytest.importorskip("opentelemetry.sdk.trace")

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from creditsdk import RetryPolicy
from creditsdk._core import otel
from creditsdk._core.clients import AsyncClientBase
from creditsdk._core.config import NOT_GIVEN
from creditsdk.errors import TransportError

from .conftest import make_op
from .test_observe import OK, Clock, FakeClient, _503


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(otel, "_tracer", provider.get_tracer("creditsdk"))
    return exporter


def test_one_client_span_per_call_with_attempts_as_events(spans: InMemorySpanExporter) -> None:
    client = FakeClient(Clock(), [_503(), OK], prices={"fake.QUERY": "0.80"})
    client.query(correlation_id="req-1")
    (span,) = spans.get_finished_spans()
    assert span.name == "creditsdk.fake.QUERY"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes or {}) == {
        "creditsdk.provider": "fake",
        "creditsdk.operation": "QUERY",
        "creditsdk.correlation_id": "req-1",
        "http.request.method": "POST",
        "server.address": "fake.example",
        "creditsdk.outcome": "success",
        "creditsdk.attempts": 2,
        "creditsdk.billed": True,
        "creditsdk.maybe_billed": False,
        "creditsdk.price": "0.80",
        "creditsdk.price.currency": "CNY",
        "http.response.status_code": 200,
    }
    first, second = span.events
    assert first.name == second.name == "creditsdk.attempt"
    assert dict(first.attributes or {}) == {
        "creditsdk.attempt": 1,
        "creditsdk.attempt.start_s": 0.0,
        "creditsdk.attempt.duration_s": 0.25,
        "creditsdk.attempt.outcome": "transport_error",
        "http.response.status_code": 503,
        "error.type": "TransportError",
        "creditsdk.attempt.reason": "HTTP 503",
    }
    assert dict(second.attributes or {}) == {
        "creditsdk.attempt": 2,
        "creditsdk.attempt.start_s": 1.25,
        "creditsdk.attempt.duration_s": 0.25,
        "creditsdk.attempt.outcome": "success",
        "http.response.status_code": 200,
    }


def test_a_failed_call_ends_its_span_with_an_error_status(spans: InMemorySpanExporter) -> None:
    client = FakeClient(Clock(), [httpx.ReadTimeout("slow")])
    with pytest.raises(TransportError):
        client.query()
    (span,) = spans.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "TransportError"  # the class only, never the message
    attrs = dict(span.attributes or {})
    assert attrs["error.type"] == "TransportError"
    assert (attrs["creditsdk.billed"], attrs["creditsdk.maybe_billed"]) == (False, True)
    assert "http.response.status_code" not in attrs  # no answer arrived


class _AsyncClient(AsyncClientBase):
    def __init__(self, handler: Any) -> None:
        self._init_transport(
            provider="fake",
            timeout=NOT_GIVEN,
            retry=RetryPolicy(max_attempts=1),
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
            audit=[],
        )

    async def query(self) -> Any:
        return await self._run(make_op())


async def test_async_call_has_its_span(spans: InMemorySpanExporter) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=OK)

    client = _AsyncClient(handler)
    await client.query()
    (span,) = spans.get_finished_spans()
    assert span.name == "creditsdk.fake.QUERY"
    assert dict(span.attributes or {})["creditsdk.outcome"] == "success"
    assert len(span.events) == 1


async def test_cancelled_call_ends_its_span(spans: InMemorySpanExporter) -> None:
    entered = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        entered.set()
        await asyncio.Event().wait()  # never answers
        raise AssertionError("unreachable")

    client = _AsyncClient(handler)
    task = asyncio.ensure_future(client.query())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (span,) = spans.get_finished_spans()
    attrs = dict(span.attributes or {})
    assert attrs["creditsdk.outcome"] == "cancelled"
    assert attrs["error.type"] == "CancelledError"
    assert attrs["creditsdk.maybe_billed"] is True  # it had been sent
    assert span.status.status_code is StatusCode.ERROR
    (attempt,) = span.events
    assert dict(attempt.attributes or {})["creditsdk.attempt.outcome"] == "cancelled"


def test_a_call_refused_by_a_gate_has_an_error_span(spans: InMemorySpanExporter) -> None:
    from creditsdk.errors import InvalidInputError

    class Refuse:
        def admit(self, attempt: int) -> float:
            raise InvalidInputError("no", field="x", rule="gate")

        def settle(self, outcome: Any) -> None:
            pass

    client = FakeClient(Clock(), [])
    client._add_gate(Refuse())
    with pytest.raises(InvalidInputError):
        client.query()
    (span,) = spans.get_finished_spans()
    assert dict(span.attributes or {})["creditsdk.attempts"] == 0
    assert span.status.status_code is StatusCode.ERROR
    assert span.events == ()


def test_nothing_is_recorded_when_no_sdk_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(otel, "_tracer", trace.NoOpTracer())
    assert otel.start_span("fake", "QUERY", None) is None
    FakeClient(Clock(), [OK]).query()  # and the call is unaffected


def _run_python(*parts: str) -> str:
    code = "\n".join(textwrap.dedent(part) for part in parts)
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


_CALL = """
    import httpx
    from creditsdk._core.executors import SyncTransport
    from creditsdk._core.operation import Operation
    from creditsdk._core.wire import Request

    def handle(request):
        return httpx.Response(200, json={"code": 0})

    http = httpx.Client(transport=httpx.MockTransport(handle))
    t = SyncTransport(provider="fake", http_client=http)
    op = Operation(
        provider="fake", name="QUERY", billed=True, idempotent=False,
        build_request=lambda: Request("POST", "https://fake.example/q", body=b"{}"),
        parse_response=lambda r: r.json(),
    )
"""


def test_without_opentelemetry_calls_work_and_nothing_is_imported() -> None:
    out = _run_python(
        """
        import sys
        sys.modules["opentelemetry"] = None  # as if it were not installed
        """,
        _CALL,
        """
        print(t.run(op))
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        """,
    )
    assert out.splitlines() == ["{'code': 0}", "['opentelemetry']"]


def test_no_import_cost_and_the_global_tracer_provider_is_used() -> None:
    # a call before the application sets its provider records nothing, and does not keep the
    # API's proxy: the provider set afterwards gets the next call's span
    out = _run_python(
        """
        import sys
        import creditsdk, creditsdk.tianyuan, creditsdk.fireeye, creditsdk.sesame
        print(any(m.startswith("opentelemetry") for m in sys.modules))
        """,
        _CALL,
        """
        t.run(op)
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        t.run(op)
        print([s.name for s in exporter.get_finished_spans()])
        """,
    )
    assert out.splitlines() == ["False", "['creditsdk.fake.QUERY']"]

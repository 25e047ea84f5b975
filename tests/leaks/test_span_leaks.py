"""Leak scan of OpenTelemetry spans (issue 16, item 14): every span exported while calls run
with real-looking applicant data — every provider's operations against the Sandbox, their
faults, a cancelled call, and a hostile provider that echoes the applicant back everywhere,
with correlation ids that themselves hold an ID number and a mobile — is searched for the
name, ID number, mobile, card and keys (raw, lower-case, URL-encoded, JSON-escaped)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import urllib.parse
from decimal import Decimal
from typing import Any

import httpx
import pytest

pytest.importorskip("opentelemetry.sdk.trace")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from creditsdk import Applicant, Consent, RetryPolicy
from creditsdk._core import otel
from creditsdk._spec import MatrixOperation, Sample, discover_specs
from creditsdk.errors import CreditSDKError
from creditsdk.sandbox import FAULT_KINDS, Fault, Sandbox

NAME = "张三丰"
ID_CARD = "11010519491231002X"
MOBILE = "13912345678"
CARD = "6222020000000000000"
HOSTILE_KEY = "0123456789ABCDEF00112233445566FF"
APPLICANT = Applicant(name=NAME, id_card=ID_CARD, mobile=MOBILE)
CONSENT = Consent(
    reference=f"AUTH-{ID_CARD}",  # a lender's reference holding an ID number
    purpose="credit_underwriting",
    granted_at=dt.datetime(2026, 11, 1, 9, 0),
)
TRANS_DATE = dt.date(2025, 3, 14)
SAMPLE = Sample(applicant=APPLICANT, consent=CONSENT, card_no=CARD, trans_date=TRANS_DATE)
FAST = RetryPolicy(max_attempts=2, initial_backoff=0, jitter=0)
#: faults played on every operation (the timing ones are covered by tests/leaks/test_leak_scan)
QUICK_FAULTS = [k for k in FAULT_KINDS if k not in ("slow", "drip")]
CORRELATION = f"loan-{ID_CARD}-{MOBILE}"


def _forms(value: str) -> set[str]:
    out = {value, value.lower(), urllib.parse.quote(value, safe=""), json.dumps(value)[1:-1]}
    out.add(json.dumps(value, ensure_ascii=False)[1:-1])
    return out


SECRETS = set().union(*(_forms(v) for v in (NAME, ID_CARD, MOBILE, CARD, HOSTILE_KEY)))


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(otel, "_tracer", provider.get_tracer("creditsdk"))
    return exporter


def _sandbox() -> Sandbox:
    extra = {
        spec.name: factory
        for spec in discover_specs()
        if not spec.in_default_sandbox and (factory := spec.sandbox_factory()) is not None
    }
    return Sandbox(seed=11, extra_providers=extra)


def _attempt(call: Any) -> None:
    with contextlib.suppress(CreditSDKError):  # errors are scanned by test_leak_scan
        call()


def _sandbox_flows(sb: Sandbox, provider: str, op: MatrixOperation) -> None:
    plugin = sb.provider(provider)
    state = op.setup(sb, SAMPLE)
    client = plugin.client(audit=[])
    try:
        _attempt(lambda: op.call(client, SAMPLE, state, correlation_id=CORRELATION))
        for kind in QUICK_FAULTS:
            sb.faults.add(provider, kind, probability=1.0)
            _attempt(lambda: op.call(client, SAMPLE, state, retry=FAST))
            sb.faults.clear()
    finally:
        client.close()

    async def cancelled() -> None:
        aclient = plugin.async_client(audit=[])
        try:
            sb.faults.add(provider, Fault("slow", delay=30.0), probability=1.0)
            seen = sb.faults.played_count
            task = asyncio.ensure_future(op.call(aclient, SAMPLE, state))
            assert await asyncio.to_thread(sb.faults.wait_injected, seen + 1, 30.0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            sb.faults.clear()
            await aclient.aclose()

    asyncio.run(cancelled())


def _echo() -> str:
    bits = [NAME, ID_CARD, ID_CARD.lower(), MOBILE, CARD, HOSTILE_KEY]
    encoded = [urllib.parse.quote(b, safe="") for b in bits] + [json.dumps(b)[1:-1] for b in bits]
    return "参数错误 " + " ".join(bits + encoded)


def _hostile(request: httpx.Request) -> httpx.Response:
    """Echoes the applicant in the message, the code, the transaction id and a header."""
    body = {
        "code": 1001,
        "respCd": CARD,
        "message": _echo(),
        "msg": _echo(),
        "transaction_id": f"TY{ID_CARD}{MOBILE}",
        "data": {"name": NAME, "certid": ID_CARD, "mobile": MOBILE, "cardNo": CARD},
    }
    return httpx.Response(503, json=body, headers={"X-Echo": urllib.parse.quote(_echo())})


def _hostile_flows() -> None:
    from creditsdk.fireeye import FireEyeClient
    from creditsdk.tianyuan import TianyuanClient

    with httpx.Client(transport=httpx.MockTransport(_hostile)) as http:
        ty = TianyuanClient(
            "hostile", HOSTILE_KEY, "https://ty.hostile", http_client=http, audit=[]
        )
        _attempt(lambda: ty.multi_lending(APPLICANT, consent=CONSENT, correlation_id=CORRELATION))
        params = {"name": NAME, "id_card": ID_CARD, "mobile_no": MOBILE}
        _attempt(lambda: ty.call("FLXG3D56", params, consent=CONSENT, retry=FAST))
        fe = FireEyeClient("hostile", HOSTILE_KEY, "https://fe.hostile", http_client=http, audit=[])
        _attempt(
            lambda: fe.verify_transaction(
                CARD, TRANS_DATE, Decimal("100"), consent=CONSENT, correlation_id=CORRELATION
            )
        )
        _attempt(lambda: fe.model_score(CARD, ID_CARD, MOBILE, consent=CONSENT))


def _span_text(span: ReadableSpan) -> str:
    parts: list[Any] = [span.name, span.status.description, dict(span.attributes or {})]
    for event in span.events:
        parts += [event.name, dict(event.attributes or {})]
    for link in span.links:
        parts.append(dict(link.attributes or {}))
    return json.dumps(parts, ensure_ascii=False, default=str) + span.to_json()


def test_no_personal_data_in_any_span(spans: InMemorySpanExporter) -> None:
    with _sandbox() as sb:
        sb.tianyuan.balance = None
        sb.fireeye.add_transaction(CARD, TRANS_DATE, Decimal("212.00"))
        played = []
        for spec in discover_specs():
            for op in spec.matrix_operations():
                _sandbox_flows(sb, spec.name, op)
                played.append(op.name)
    _hostile_flows()

    exported = spans.get_finished_spans()
    # the scan saw what it should: every operation's span, failures and a cancelled call each
    names = {s.name for s in exported}
    for op_name in played:
        provider = op_name.partition(".")[0]
        assert any(n.startswith(f"creditsdk.{provider}.") for n in names), op_name
    assert len(exported) >= len(played) * (2 + len(QUICK_FAULTS))
    assert any(s.status.status_code is StatusCode.ERROR for s in exported)
    outcomes = {dict(s.attributes or {}).get("creditsdk.outcome") for s in exported}
    assert {"success", "cancelled", "transport_error", "provider_error"} <= outcomes
    with_id = [s for s in exported if "creditsdk.correlation_id" in (s.attributes or {})]
    assert len(with_id) >= len(played), "a call's correlation id is missing from its span"

    leaks = []
    for span in exported:
        text = _span_text(span)
        for secret in SECRETS:
            if secret in text:
                leaks.append(f"{span.name}: {secret!r}")
    assert leaks == []

"""Issue 11 items 2, 3, 4, 10: cancellation is audited, answers are capped and deadlined, no
foreign exception escapes, misuse is a ConfigurationError. No sleeps as synchronisation: an
in-process transport blocks on an asyncio.Event, clocks are injected, streams are fakes."""

from __future__ import annotations

import asyncio
import gzip
import json
import random
from collections.abc import AsyncIterator, Iterator
from typing import Any

import attrs
import httpx
import pytest

from creditsdk import MemoryAuditSink, RetryPolicy
from creditsdk._core.transport import AsyncTransport, SyncTransport
from creditsdk._core.wire import Request
from creditsdk.errors import (
    ConfigurationError,
    DeadlineExceededError,
    ResponseIntegrityError,
    ResponseTooLargeError,
)

from .conftest import make_op

OK_BODY = json.dumps({"code": 0, "transaction_id": "T1"}).encode()
ONE = RetryPolicy.no_retries()


class _Blocking(httpx.AsyncBaseTransport):
    """Receives the request, says so, then waits for an answer that never comes."""

    def __init__(self) -> None:
        self.received = asyncio.Event()
        self.never = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.received.set()
        await self.never.wait()
        raise AssertionError("unreachable")


def _async(transport: httpx.AsyncBaseTransport, audit: MemoryAuditSink, **kw: Any) -> Any:
    return AsyncTransport(
        provider="fake",
        http_client=httpx.AsyncClient(transport=transport),
        audit=audit,
        retry=ONE,
        rng=random.Random(1),
        **kw,
    )


async def test_task_cancel_after_sending_emits_one_cancelled_event() -> None:
    audit, blocking = MemoryAuditSink(), _Blocking()
    t = _async(blocking, audit)
    task = asyncio.ensure_future(t.run(make_op()))
    await blocking.received.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [(e.outcome, e.maybe_billed, e.error_type) for e in audit.events] == [
        ("cancelled", True, "CancelledError")
    ]


async def test_wait_for_timeout_after_sending_emits_one_cancelled_event() -> None:
    audit, blocking = MemoryAuditSink(), _Blocking()
    t = _async(blocking, audit)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(t.run(make_op()), timeout=0.01)
    assert blocking.received.is_set()
    assert [(e.outcome, e.maybe_billed) for e in audit.events] == [("cancelled", True)]


async def test_cancelled_unbilled_call_emits_nothing() -> None:
    audit, blocking = MemoryAuditSink(), _Blocking()
    task = asyncio.ensure_future(_async(blocking, audit).run(make_op(billed=False)))
    await blocking.received.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert audit.events == []


async def test_cancelled_before_any_byte_was_sent_emits_nothing() -> None:
    """A real httpcore transport stuck in the TLS handshake: nothing of the request sent."""
    got_hello = asyncio.Event()

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)  # the ClientHello: the client is in the handshake
        got_hello.set()
        await asyncio.Event().wait()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    audit = MemoryAuditSink()
    t = AsyncTransport(provider="fake", http_client=httpx.AsyncClient(), audit=audit, retry=ONE)

    def build() -> Request:
        return Request("POST", f"https://127.0.0.1:{port}/api", body=b"{}")

    task = asyncio.ensure_future(t.run(attrs.evolve(make_op(), build_request=build)))
    await got_hello.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    server.close()
    assert audit.events == []


def test_keyboard_interrupt_after_sending_emits_one_event_and_propagates() -> None:
    class Interrupted(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            raise KeyboardInterrupt  # Ctrl-C while waiting for the answer

    audit = MemoryAuditSink()
    t = SyncTransport(
        provider="fake", http_client=httpx.Client(transport=Interrupted()), audit=audit, retry=ONE
    )
    with pytest.raises(KeyboardInterrupt):
        t.run(make_op())
    assert [(e.outcome, e.maybe_billed, e.error_type) for e in audit.events] == [
        ("cancelled", True, "KeyboardInterrupt")
    ]


class _Stream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A fake answer body: ``chunks``, each advancing a fake clock by ``tick`` seconds."""

    def __init__(self, chunks: list[bytes], clock: list[float], tick: float = 0.0) -> None:
        self.chunks, self.clock, self.tick, self.pulled = chunks, clock, tick, 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.clock[0] += self.tick
            self.pulled += len(chunk)
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.__iter__():
            yield chunk


def _run_stream(flavour: str, stream: _Stream, clock: list[float], **kw: Any) -> Any:
    headers = kw.pop("headers", {})

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=headers, stream=stream)

    audit = MemoryAuditSink()
    common = dict(provider="fake", audit=audit, retry=ONE, clock=lambda: clock[0], **kw)
    if flavour == "sync":
        t = SyncTransport(http_client=httpx.Client(transport=httpx.MockTransport(answer)), **common)
        return t.run(make_op())

    async def go() -> Any:
        client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
        return await AsyncTransport(http_client=client, **common).run(make_op())

    return asyncio.run(go())


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_an_endless_answer_is_cut_at_the_cap(flavour: str) -> None:
    clock = [0.0]
    body = OK_BODY + b" " * (64 * 1024 * 1024)  # valid JSON: the old client accepted it
    stream = _Stream([body[i : i + (1 << 20)] for i in range(0, len(body), 1 << 20)], clock)
    with pytest.raises(ResponseTooLargeError) as caught:
        _run_stream(flavour, stream, clock)
    assert caught.value.maybe_billed is True
    assert caught.value.attempts == 1
    assert stream.pulled <= 4 * 1024 * 1024 + (1 << 20)  # never read much past the cap


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_gzip_bomb_counts_decoded_bytes(flavour: str) -> None:
    clock = [0.0]
    bomb = gzip.compress(OK_BODY + b" " * (64 * 1024 * 1024))  # ~64 KB on the wire
    assert len(bomb) < 100_000
    stream = _Stream([bomb], clock)
    with pytest.raises(ResponseTooLargeError):
        _run_stream(flavour, stream, clock, headers={"Content-Encoding": "gzip"})


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_the_cap_is_configurable_per_client(flavour: str) -> None:
    clock = [0.0]
    assert _run_stream(flavour, _Stream([OK_BODY], clock), clock)["code"] == 0
    with pytest.raises(ResponseTooLargeError):
        _run_stream(flavour, _Stream([OK_BODY], clock), clock, max_response_bytes=10)
    with pytest.raises(ConfigurationError):
        _run_stream(flavour, _Stream([OK_BODY], clock), clock, max_response_bytes=0)


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_dripping_answer_ends_at_the_deadline(flavour: str) -> None:
    """One byte per (fake) second, timeout=2: the old client read all 25 s of it."""
    clock = [0.0]
    body = OK_BODY + b" " * 24
    stream = _Stream([body[i : i + 1] for i in range(len(body))], clock, tick=1.0)
    with pytest.raises(DeadlineExceededError) as caught:
        _run_stream(flavour, stream, clock, timeout=2)
    assert caught.value.maybe_billed is True
    assert stream.pulled <= 3


NESTED = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


@pytest.mark.parametrize("status", [200, 400, 500])
def test_deeply_nested_json_is_an_integrity_error_with_an_event(status: int) -> None:
    audit = MemoryAuditSink()
    mock = httpx.MockTransport(lambda r: httpx.Response(status, content=NESTED))
    t = SyncTransport(provider="fake", http_client=httpx.Client(transport=mock), audit=audit)
    with pytest.raises(ResponseIntegrityError) as caught:
        t.run(make_op())
    assert "RecursionError" in str(caught.value)
    assert isinstance(caught.value.__cause__, RecursionError)
    assert [e.outcome for e in audit.events] == ["integrity_error"]


def test_closed_transport_and_bad_audit_are_configuration_errors() -> None:
    t = SyncTransport(provider="fake")
    t.close()
    with pytest.raises(ConfigurationError, match="closed; create a new client"):
        t.run(make_op())
    with pytest.raises(ConfigurationError, match="audit= takes an AuditSink"):
        SyncTransport(provider="fake", audit=123)

    async def go() -> None:
        at = AsyncTransport(provider="fake")
        await at.aclose()
        with pytest.raises(ConfigurationError, match="async with"):
            await at.run(make_op())

    asyncio.run(go())


def test_every_provider_client_closed_or_misconfigured_says_so() -> None:
    """Issue 11 item 10 through the real clients, sync and async, all providers."""
    from creditsdk.sandbox import Sandbox

    sb = Sandbox(seed=1)
    for provider in ("tianyuan", "fireeye", "sesame"):
        with pytest.raises(ConfigurationError, match="audit= takes"):
            getattr(sb, f"{provider}_client")(audit=123)
        with pytest.raises(ConfigurationError, match="audit= takes"):
            getattr(sb, f"async_{provider}_client")(audit=123)
        client = getattr(sb, f"{provider}_client")(max_response_bytes=1000)
        assert client.max_response_bytes == 1000
        client.close()
        with pytest.raises(ConfigurationError, match="closed"):
            client._run(make_op())


@pytest.mark.parametrize("status", [400, 500])
@pytest.mark.parametrize("provider", ["tianyuan", "fireeye"])  # sesame: see report
def test_nested_json_on_error_statuses_for_every_provider(provider: str, status: int) -> None:
    """Issue 11 item 4: a raw RecursionError escaped all three providers' clients."""
    import datetime as dt
    from decimal import Decimal

    from creditsdk import Applicant, Consent
    from creditsdk.errors import CreditSDKError
    from creditsdk.sandbox import Sandbox

    applicant = Applicant(name="张三", id_card="11010519491231002X", mobile="13800138000")
    consent = Consent(
        reference="AUTH1", purpose="credit_underwriting", granted_at=dt.datetime(2026, 11, 1)
    )
    mock = httpx.MockTransport(lambda r: httpx.Response(status, content=NESTED))
    audit = MemoryAuditSink()
    sb = Sandbox(seed=1)
    client = getattr(sb, f"{provider}_client")(
        http_client=httpx.Client(transport=mock), audit=audit, retry=ONE
    )

    def call() -> Any:
        if provider == "tianyuan":
            return client.multi_lending(applicant, consent=consent)
        return client.verify_transaction(
            "6222020000000000000", dt.date(2025, 3, 14), Decimal("1.00"), consent=consent
        )

    with client, pytest.raises(CreditSDKError) as caught:
        call()
    assert type(caught.value) is ResponseIntegrityError
    assert len(audit.events) == 1


@pytest.mark.parametrize("status", [400, 500])
def test_nested_json_on_error_statuses_for_sesame(status: int) -> None:
    """Issue 11 item 4, the third provider: nested JSON on a 400/500 from Alipay's gateway is
    a ResponseIntegrityError with one audit event, never a RecursionError."""
    import datetime as dt

    from creditsdk import Applicant, Consent
    from creditsdk.errors import CreditSDKError
    from creditsdk.sandbox import Sandbox

    applicant = Applicant(name="张三", id_card="11010519491231002X", mobile="13800138000")
    consent = Consent(
        reference="AUTH1", purpose="credit_underwriting", granted_at=dt.datetime(2026, 11, 1)
    )
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=NESTED)

    audit = MemoryAuditSink()
    sb = Sandbox(seed=1)
    client = sb.sesame_client(
        http_client=httpx.Client(transport=httpx.MockTransport(answer)), audit=audit, retry=ONE
    )
    with client, pytest.raises(CreditSDKError) as caught:
        client.admittance(applicant, 600, consent=consent)
    assert type(caught.value) is ResponseIntegrityError
    assert len(seen) == 1  # the caller's http_client carried the call
    assert len(audit.events) == 1


@pytest.mark.parametrize("asynchronous", [False, True])
def test_sandbox_client_factories_let_the_caller_override_wiring(asynchronous: bool) -> None:
    """``sb.sesame_client(http_client=...)`` raised TypeError (a keyword given twice): the
    caller's keywords win over the Sandbox's wiring, for every provider, sync and async."""
    from creditsdk.sandbox import Sandbox

    sb = Sandbox(seed=1)
    for provider in ("tianyuan", "fireeye", "sesame"):
        if asynchronous:
            http: Any = httpx.AsyncClient(transport=sb.async_transport())
            client = getattr(sb, f"async_{provider}_client")(http_client=http, retry=ONE)
        else:
            http = httpx.Client(transport=sb.transport())
            client = getattr(sb, f"{provider}_client")(http_client=http, retry=ONE)
        assert client._transport.http_client is http, provider

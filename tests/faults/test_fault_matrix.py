"""Every provider operation × every fault × sync/async × loopback/in-process.

For each case the expectation is derived from two facts only — does the fault let the provider
process (bill) the request, and can the client tell? — and the operation's declared billing
(``billed``, ``idempotent``). Every case then also checks the invariants the SDK promises:

* only ``creditsdk.errors`` types escape;
* at most one ledger entry per logical call (Sesame: per ``transaction_id``) — never billed twice;
* ``maybe_billed`` is True whenever the ledger shows a billed call whose answer was not delivered,
  and False only when the ledger shows nothing. (It is True with an empty ledger in exactly one
  kind of case: the connection dropped after the request was sent but before the provider
  processed it — indistinguishable, from the client, from a drop after processing.)

* every billed call emits exactly one audit event, whose ``maybe_billed`` is the error's.

The retry policy has no waits (``initial_backoff=0``, ``Retry-After: 0``) and two attempts;
``slow`` faults use a 0.3 s read timeout on that call only, and ``drip`` faults (each byte in
time, the whole answer never) a 0.3 s timeout, i.e. a 0.3 s whole-attempt deadline.

The cancellation cases (:func:`test_cancelled_call_matrix`) cancel a call once the provider has
its request (``FaultPlan.wait_injected``, no sleeps): ``task.cancel()`` for async,
a real SIGINT (Ctrl-C) for sync.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import threading
from collections.abc import Awaitable, Iterator, Mapping
from typing import Any

import attrs
import httpx
import pytest

from creditsdk import Applicant, Consent, MemoryAuditSink, RetryPolicy
from creditsdk._spec import MatrixOperation, Sample, discover_specs
from creditsdk.errors import (
    CreditSDKError,
    DeadlineExceededError,
    RateLimitedError,
    ResponseIntegrityError,
    ResponseTooLargeError,
    TransportError,
)
from creditsdk.sandbox import FAULT_KINDS, Fault, LedgerEntry, Sandbox

APPLICANT = Applicant(name="张三", id_card="11010519491231002X", mobile="13800138000")
CONSENT = Consent(
    reference="AUTH20261101001",
    purpose="credit_underwriting",
    granted_at=dt.datetime(2026, 11, 1, 9, 0),
)
CARD = "6222020000000000000"  # passes Luhn
TRANS_DATE = dt.date(2025, 3, 14)
POLICY = RetryPolicy(max_attempts=2, initial_backoff=0, jitter=0)
SLOW_TIMEOUT = httpx.Timeout(5.0, read=0.3)
DRIP_TIMEOUT = httpx.Timeout(0.3)  # each byte comes within it: only the deadline ends the call

#: Faults after which the client cannot know whether the provider processed the request.
#: 502/504: a proxy forwarded the request (the provider billed it) and gave up on the answer.
LOST = frozenset(
    {"reset_before", "reset_after", "slow", "truncated", "http_500", "http_502", "http_504"}
    | {"oversized", "gzip_bomb", "drip"}
)
#: Faults a gateway answers instead of the provider: never processed.
REFUSED = frozenset({"http_429", "http_503"})
#: The TransportError subclass a LOST fault raises (TransportError itself otherwise).
LOST_ERROR: dict[str, type[CreditSDKError]] = {
    "oversized": ResponseTooLargeError,
    "gzip_bomb": ResponseTooLargeError,
    "drip": DeadlineExceededError,
}
#: Faults that deliver an answer the client must not trust.
BAD_ANSWER = frozenset({"garbled", "flip_byte", "invalid_json", "html_page"})
assert set(FAULT_KINDS) == LOST | REFUSED | BAD_ANSWER


SAMPLE = Sample(applicant=APPLICANT, consent=CONSENT, card_no=CARD, trans_date=TRANS_DATE)


@attrs.frozen
class Op:
    """One operation a provider's spec declares for the matrices (``ProviderSpec.matrix``)."""

    provider: str
    spec: MatrixOperation

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def billed(self) -> bool:
        return self.spec.billed

    @property
    def idempotent(self) -> bool:
        return self.spec.idempotent

    @property
    def faults(self) -> frozenset[str]:
        return frozenset(FAULT_KINDS) - self.spec.skip_faults

    def call(self, client: Any, state: Mapping[str, Any], **options: Any) -> Any:
        return self.spec.call(client, SAMPLE, state, **options)


#: Every operation of every installed provider: nothing here names one.
OPS = [Op(spec.name, m) for spec in discover_specs() for m in spec.matrix_operations()]


def test_the_matrix_plays_every_provider() -> None:
    assert {op.provider for op in OPS} == {spec.name for spec in discover_specs()}
    assert len({op.name for op in OPS}) == len(OPS)


@attrs.frozen
class Expect:
    error: type[CreditSDKError] | None  # None: the call succeeds
    maybe_billed: bool | None = None
    ledger: int = 0  # new ledger entries for this logical call
    http_status: int | None = None


def expect(op: Op, kind: str, mode: str) -> Expect:
    fault = Fault(kind)
    status = int(kind[5:]) if kind.startswith("http_") else None
    billed_if_processed = 1 if op.billed and fault.processed else 0
    if kind in REFUSED:
        if mode == "once":
            return Expect(None, ledger=1 if op.billed else 0)
        if kind == "http_429":
            return Expect(RateLimitedError, http_status=429)
        return Expect(TransportError, maybe_billed=False, http_status=status)
    if kind in LOST:
        if op.idempotent and mode == "once":
            return Expect(None, ledger=1 if op.billed else 0)
        # Idempotent ops retried into the same fault: the provider deduplicates, still ≤ 1.
        return Expect(
            LOST_ERROR.get(kind, TransportError),
            maybe_billed=op.billed,
            ledger=billed_if_processed,
            http_status=status,
        )
    return Expect(ResponseIntegrityError, maybe_billed=op.billed, ledger=1 if op.billed else 0)


CASES = [
    pytest.param(op, kind, mode, id=f"{op.name}-{kind}-{mode}")
    for op in OPS
    for kind in FAULT_KINDS
    if kind in op.faults
    for mode in ("once", "always")
]


@pytest.fixture(scope="module", params=["loopback", "in_process"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    extra = {
        spec.name: factory
        for spec in discover_specs()
        if not spec.in_default_sandbox and (factory := spec.sandbox_factory()) is not None
    }
    sb = Sandbox(seed=5, extra_providers=extra)
    if request.param == "loopback":
        sb.start()
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture(autouse=True)
def _clean_plan(sandbox: Sandbox) -> Iterator[None]:
    sandbox.faults.clear()
    yield
    sandbox.faults.clear()


def _setup(sb: Sandbox, op: Op) -> Mapping[str, Any]:
    """Whatever the op needs before the fault is armed (a grant, a fresh auth code, a known
    transaction): the op's own ``setup``."""
    return op.spec.setup(sb, SAMPLE)


def _run(
    sb: Sandbox,
    op: Op,
    flavour: str,
    state: Mapping[str, Any],
    kwargs: dict[str, Any],
    audit: MemoryAuditSink,
) -> Any:
    if flavour == "sync":
        with getattr(sb, f"{op.provider}_client")(retry=POLICY, audit=audit) as client:
            return op.call(client, state, **kwargs)

    async def go() -> Any:
        factory = getattr(sb, f"async_{op.provider}_client")
        async with factory(retry=POLICY, audit=audit) as client:
            assert type(client._transport).__name__ == _EXECUTOR[flavour]
            result = op.call(client, state, **kwargs)
            assert isinstance(result, Awaitable)
            return await result

    return asyncio.run(go())


#: sync (httpx), async over httpx, async over aiohttp (loopback only: in-process is httpx's).
FLAVOURS = ["sync", "async", "aiohttp"]


@pytest.fixture
def backend(
    request: pytest.FixtureRequest, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The async executor a flavour names, chosen as a user would: CREDITSDK_HTTP_BACKEND."""
    flavour = request.node.callspec.params["flavour"]
    if flavour == "aiohttp":
        pytest.importorskip("aiohttp")
        if not sandbox.running:
            pytest.skip("the in-process Sandbox is an httpx transport")
        monkeypatch.setenv("CREDITSDK_HTTP_BACKEND", "aiohttp")
    else:
        monkeypatch.setenv("CREDITSDK_HTTP_BACKEND", "httpx")


def _new_entries(sb: Sandbox, provider: str, before: int) -> list[LedgerEntry]:
    return sb.ledger(provider)[before:]


_EXECUTOR = {"async": "AsyncTransport", "aiohttp": "AioHttpTransport"}


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(("op", "kind", "mode"), CASES)
def test_fault_matrix(sandbox: Sandbox, op: Op, kind: str, mode: str, flavour: str) -> None:
    sb = sandbox
    state = _setup(sb, op)
    kwargs: dict[str, Any] = {}
    if kind == "slow":
        kwargs["timeout"] = SLOW_TIMEOUT
    if kind == "drip":
        kwargs["timeout"] = DRIP_TIMEOUT
    audit = MemoryAuditSink()
    before = len(sb.ledger(op.provider))
    next_call = sb.faults.calls(op.provider) + 1
    if mode == "once":
        sb.faults.add(op.provider, kind, on_call=next_call)
    else:
        sb.faults.add(op.provider, kind, probability=1.0)

    result: Any = None
    error: BaseException | None = None
    try:
        result = _run(sb, op, flavour, state, kwargs, audit)
    except BaseException as exc:
        error = exc

    want = expect(op, kind, mode)
    entries = _new_entries(sb, op.provider, before)
    injected = [f for f in sb.faults.injected if f.call >= next_call and f.provider == op.provider]
    assert injected, "the fault was not played"
    assert injected[0].kind == kind

    # Only creditsdk errors escape.
    assert error is None or isinstance(error, CreditSDKError), repr(error)
    # Never billed twice for one logical call.
    assert len(entries) <= 1, entries
    assert len({e.transaction_id for e in entries}) == len(entries)

    if want.error is None:
        assert error is None, f"expected success, got {error!r}"
        assert result is not None
        tid = getattr(result, "transaction_id", None)
        if entries and tid is not None:
            assert entries[0].transaction_id == tid
    else:
        assert type(error) is want.error, f"expected {want.error.__name__}, got {error!r}"
        assert error is not None
        if want.http_status is not None:
            assert error.http_status == want.http_status
        if want.maybe_billed is not None:
            assert getattr(error, "maybe_billed") is want.maybe_billed  # noqa: B009
    assert len(entries) == want.ledger, entries

    # maybe_billed is sound: a billed call without a delivered answer always says so.
    if error is not None and isinstance(error, (TransportError, ResponseIntegrityError)):
        if entries:
            assert error.maybe_billed is True
        if not error.maybe_billed:
            assert entries == []
        if error.maybe_billed and not entries:
            assert kind == "reset_before" or not Fault(kind).processed or not op.billed

    # One audit event per billed call, saying what the error says.
    events = audit.events
    assert len(events) == (1 if op.billed else 0), events
    if events and error is not None:
        assert events[0].maybe_billed is getattr(error, "maybe_billed", False)
        assert events[0].error_type == type(error).__name__


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
def test_cancelled_call_matrix(sandbox: Sandbox, op: Op, flavour: str) -> None:
    """Cancelled once the provider has the request (it bills): the cancellation propagates
    unchanged and a billed call leaves exactly one audit event, ``cancelled``, maybe billed."""
    sb = sandbox
    state = _setup(sb, op)
    kwargs: dict[str, Any] = {
        "timeout": httpx.Timeout(60.0)
    }  # the answer is held 30 s: cancelled long before
    audit = MemoryAuditSink()
    before = len(sb.ledger(op.provider))
    played = sb.faults.played_count
    sb.faults.add(op.provider, Fault("slow", delay=30.0), on_call=sb.faults.calls(op.provider) + 1)

    if flavour == "sync":
        if threading.current_thread() is not threading.main_thread():
            pytest.skip("SIGINT is delivered to the main thread only")
        main = threading.main_thread().ident
        assert main is not None

        def ctrl_c() -> None:
            if sb.faults.wait_injected(played + 1, timeout=30):
                signal.pthread_kill(main, signal.SIGINT)

        interrupter = threading.Thread(target=ctrl_c)
        interrupter.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                _run(sb, op, flavour, state, kwargs, audit)
        finally:
            interrupter.join()
        expected_type = "KeyboardInterrupt"
    else:

        async def go() -> None:
            async def call() -> Any:
                factory = getattr(sb, f"async_{op.provider}_client")
                async with factory(retry=POLICY, audit=audit) as client:
                    return await op.call(client, state, **kwargs)

            task = asyncio.ensure_future(call())
            loop = asyncio.get_running_loop()
            got = await loop.run_in_executor(None, sb.faults.wait_injected, played + 1, 30)
            assert got, "the request never reached the provider"
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(go())
        expected_type = "CancelledError"

    assert sb.faults.injected[-1].kind == "slow"
    entries = _new_entries(sb, op.provider, before)
    assert len(entries) == (1 if op.billed else 0), entries
    events = audit.events
    if not op.billed:
        assert events == []
        return
    assert len(events) == 1, events
    (event,) = events
    assert event.outcome == "cancelled"
    assert event.maybe_billed is True
    assert event.attempts == 1
    assert event.error_type == expected_type
    assert event.consent_reference == CONSENT.reference

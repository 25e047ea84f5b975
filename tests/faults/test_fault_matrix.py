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
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from typing import Any

import attrs
import httpx
import pytest

from creditsdk import Applicant, Consent, MemoryAuditSink, RetryPolicy
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


@attrs.frozen
class Op:
    name: str
    provider: str
    billed: bool
    idempotent: bool
    call: Callable[[Any, dict[str, Any]], Any]  # (client, kwargs) -> result | awaitable
    faults: frozenset[str] = frozenset(FAULT_KINDS)


def _ty_multi(c: Any, kw: dict[str, Any]) -> Any:
    return c.multi_lending(APPLICANT, consent=CONSENT, **kw)


def _ty_call(c: Any, kw: dict[str, Any]) -> Any:
    params = {"name": "张三", "id_card": APPLICANT.id_card, "mobile_no": APPLICANT.mobile}
    return c.call("JRZQ8F7C", params, consent=CONSENT, **kw)


def _fe_verify(c: Any, kw: dict[str, Any]) -> Any:
    return c.verify_transaction(CARD, TRANS_DATE, Decimal("212.00"), CONSENT, **kw)


def _fe_score(c: Any, kw: dict[str, Any]) -> Any:
    return c.model_score(CARD, APPLICANT.id_card, APPLICANT.mobile, CONSENT, **kw)


def _zm_score(c: Any, kw: dict[str, Any]) -> Any:
    return c.score(kw.pop("grant"), CONSENT, **kw)


def _zm_admittance(c: Any, kw: dict[str, Any]) -> Any:
    kw.pop("grant")
    return c.admittance(APPLICANT, 600, CONSENT, **kw)


def _zm_exchange(c: Any, kw: dict[str, Any]) -> Any:
    kw.pop("grant")
    return c.exchange_code(kw.pop("code"), **kw)


def _zm_authquery(c: Any, kw: dict[str, Any]) -> Any:
    return c.authorization_status(kw.pop("grant"), **kw)


_UNSIGNED = frozenset(FAULT_KINDS) - {"flip_byte"}  # no signature to break
_PLAIN = _UNSIGNED - {"garbled"}  # no ciphertext to garble
_SIGNED = frozenset(FAULT_KINDS) - {"garbled"}

OPS = [
    Op("tianyuan.multi_lending", "tianyuan", True, False, _ty_multi, _UNSIGNED),
    Op("tianyuan.call", "tianyuan", True, False, _ty_call, _UNSIGNED),
    Op("fireeye.verify_transaction", "fireeye", True, False, _fe_verify, _PLAIN),
    Op("fireeye.model_score", "fireeye", True, False, _fe_score, _PLAIN),
    Op("sesame.score", "sesame", True, True, _zm_score, _SIGNED),
    Op("sesame.admittance", "sesame", True, True, _zm_admittance, _SIGNED),
    Op("sesame.exchange_code", "sesame", False, False, _zm_exchange, _SIGNED),
    Op("sesame.authorization_status", "sesame", False, True, _zm_authquery, _SIGNED),
]


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
    sb = Sandbox(seed=5)
    sb.tianyuan.balance = None
    sb.tianyuan.pin(APPLICANT.id_card, "light")  # an answer with ciphertext to garble
    sb.fireeye.add_transaction(CARD, TRANS_DATE, Decimal("212.00"))
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


def _setup_kwargs(sb: Sandbox, op: Op, flavour: str) -> dict[str, Any]:
    """Whatever the op needs before the fault is armed (a grant, a fresh auth code)."""
    if op.provider != "sesame":
        return {}
    with sb.sesame_client() as zm:
        url = zm.authorization_url("https://lender.example/cb", state="s")
        grant = zm.exchange_code(zm.parse_redirect(sb.sesame.approve(url), expected_state="s"))
        code = zm.parse_redirect(sb.sesame.approve(url), expected_state="s")
    return {"grant": grant, "code": code} if op.name.endswith("exchange_code") else {"grant": grant}


def _run(sb: Sandbox, op: Op, flavour: str, kwargs: dict[str, Any], audit: MemoryAuditSink) -> Any:
    if flavour == "sync":
        with getattr(sb, f"{op.provider}_client")(retry=POLICY, audit=audit) as client:
            return op.call(client, kwargs)

    async def go() -> Any:
        factory = getattr(sb, f"async_{op.provider}_client")
        async with factory(retry=POLICY, audit=audit) as client:
            result = op.call(client, kwargs)
            assert isinstance(result, Awaitable)
            return await result

    return asyncio.run(go())


def _new_entries(sb: Sandbox, provider: str, before: int) -> list[LedgerEntry]:
    return sb.ledger(provider)[before:]


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize(("op", "kind", "mode"), CASES)
def test_fault_matrix(sandbox: Sandbox, op: Op, kind: str, mode: str, flavour: str) -> None:
    sb = sandbox
    kwargs = _setup_kwargs(sb, op, flavour)
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
        result = _run(sb, op, flavour, kwargs, audit)
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


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
def test_cancelled_call_matrix(sandbox: Sandbox, op: Op, flavour: str) -> None:
    """Cancelled once the provider has the request (it bills): the cancellation propagates
    unchanged and a billed call leaves exactly one audit event, ``cancelled``, maybe billed."""
    sb = sandbox
    kwargs = _setup_kwargs(sb, op, flavour)
    kwargs["timeout"] = httpx.Timeout(60.0)  # the answer is held 30 s: cancelled long before
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
                _run(sb, op, flavour, kwargs, audit)
        finally:
            interrupter.join()
        expected_type = "KeyboardInterrupt"
    else:

        async def go() -> None:
            async def call() -> Any:
                factory = getattr(sb, f"async_{op.provider}_client")
                async with factory(retry=POLICY, audit=audit) as client:
                    return await op.call(client, kwargs)

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

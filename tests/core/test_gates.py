"""Gates and the one typed outcome: asked before each attempt, told the outcome once."""

from __future__ import annotations

import random
from typing import Any

import attrs
import httpx
import pytest

from creditsdk import MemoryAuditSink, RetryPolicy
from creditsdk._core.executors import AsyncTransport, SyncTransport
from creditsdk._core.gates import Outcome, OutcomeKind
from creditsdk._core.wire import Response
from creditsdk.batch import TokenBucket
from creditsdk.errors import (
    CreditSDKError,
    InvalidInputError,
    ProviderError,
    ResponseIntegrityError,
    TransportError,
)

from .conftest import make_op

OK = {"code": 0, "transaction_id": "T1", "data": "x"}
FAST = RetryPolicy(max_attempts=3, initial_backoff=0.0, jitter=0)


class Recorder:
    """A gate that records what it is asked and told; optionally waits or refuses."""

    def __init__(self, waits: tuple[float, ...] = (), refuse_at: int | None = None) -> None:
        self.asked: list[int] = []
        self.told: list[Outcome] = []
        self._waits = list(waits)
        self._refuse_at = refuse_at

    def admit(self, attempt: int) -> float:
        self.asked.append(attempt)
        if attempt == self._refuse_at:
            raise InvalidInputError("refused by the gate", field="x", rule="gate")
        return self._waits.pop(0) if self._waits else 0.0

    def settle(self, outcome: Outcome) -> None:
        self.told.append(outcome)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def _handler(answers: list[Any], seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, int):
            return httpx.Response(answer, text="<html>busy</html>")
        return httpx.Response(200, json=answer)

    return httpx.MockTransport(handle)


def _sync(answers: list[Any], seen: list[httpx.Request], clock: Clock, **kw: Any) -> SyncTransport:
    kw.setdefault("retry", FAST)
    return SyncTransport(
        provider="fake",
        http_client=httpx.Client(transport=_handler(answers, seen)),
        sleep=clock.sleep,
        clock=clock,
        rng=random.Random(1),
        **kw,
    )


def _async(
    answers: list[Any], seen: list[httpx.Request], clock: Clock, **kw: Any
) -> AsyncTransport:
    kw.setdefault("retry", FAST)
    return AsyncTransport(
        provider="fake",
        http_client=httpx.AsyncClient(transport=_handler(answers, seen)),
        sleep=clock.asleep,
        clock=clock,
        rng=random.Random(1),
        **kw,
    )


async def _both(answers: list[Any], op_gates: tuple[Any, ...], **kw: Any) -> list[Any]:
    """[(outcome or error, requests seen, sleeps)] for the sync and the async executor."""
    out = []
    for kind in ("sync", "async"):
        seen: list[httpx.Request] = []
        clock = Clock()
        op = make_op(**kw.pop("op_kw", {})).with_gates(*op_gates)
        try:
            if kind == "sync":
                got: Any = _sync(list(answers), seen, clock, **kw).run(op)
            else:
                got = await _async(list(answers), seen, clock, **kw).run(op)
        except CreditSDKError as exc:
            got = exc
        out.append((got, len(seen), clock.sleeps))
    return out


async def test_a_gate_is_asked_before_every_attempt_and_told_the_outcome_once() -> None:
    for kind in ("sync", "async"):
        gate = Recorder(waits=(0.0, 1.5))
        seen: list[httpx.Request] = []
        clock = Clock()
        op = make_op().with_gates(gate)
        if kind == "sync":
            got = _sync([503, OK], seen, clock).run(op)
        else:
            got = await _async([503, OK], seen, clock).run(op)
        assert got == OK
        assert len(seen) == 2
        assert clock.sleeps == [0.0, 1.5]  # the backoff (0 s), then the gate's wait
        assert gate.asked == [1, 2]
        [told] = gate.told
        assert told.kind is OutcomeKind.ANSWERED
        assert told.result == OK
        assert told.attempts == 2


async def test_a_refusing_gate_sends_nothing_and_audits_nothing() -> None:
    first, refusing = Recorder(), Recorder(refuse_at=1)
    audit = MemoryAuditSink()
    results = await _both([OK, OK], (first, refusing), audit=audit)
    for err, sent, _ in results:
        assert isinstance(err, InvalidInputError)
        assert err.provider == "fake"  # stamped by the call
        assert sent == 0
    assert audit.events == []
    # The gate that had admitted is told: nothing was sent. The refusing one is not told.
    assert [o.kind for o in first.told] == [OutcomeKind.NOT_SENT] * 2
    assert refusing.told == []


@pytest.mark.parametrize(
    ("answers", "kind", "error"),
    [
        ([503], OutcomeKind.NOT_SENT, TransportError),
        ([httpx.ReadTimeout("slow")], OutcomeKind.MAYBE_BILLED, TransportError),
        ([{"code": 7, "message": "no"}], OutcomeKind.ANSWERED, ProviderError),
        ([502], OutcomeKind.MAYBE_BILLED, TransportError),
    ],
)
async def test_one_typed_outcome(answers: list[Any], kind: OutcomeKind, error: type) -> None:
    gate = Recorder()
    results = await _both(answers, (gate,), retry=RetryPolicy.no_retries())
    for err, _, _ in results:
        assert isinstance(err, error)
    assert [o.kind for o in gate.told] == [kind, kind]
    assert all(o.error is r[0] for o, r in zip(gate.told, results, strict=True))


def test_a_cancelled_call_is_told_cancelled() -> None:
    gate = Recorder()
    seen: list[httpx.Request] = []
    clock = Clock()

    def interrupted(_seconds: float) -> None:
        raise KeyboardInterrupt

    t = _sync([503, OK], seen, clock)
    t._sleep = interrupted
    with pytest.raises(KeyboardInterrupt):
        t.run(make_op().with_gates(gate))
    [told] = gate.told
    assert told.kind is OutcomeKind.CANCELLED
    assert told.sent is True  # the 503 attempt had been sent


def test_client_gates_come_after_the_operations_own() -> None:
    order: list[str] = []

    @attrs.define
    class Named:
        name: str

        def admit(self, attempt: int) -> float:
            order.append(self.name)
            return 0.0

        def settle(self, outcome: Outcome) -> None:
            order.append(self.name + " settled")

    t = _sync([OK], [], Clock(), gates=(Named("client"),))
    t.run(make_op().with_gates(Named("op")))
    assert order == ["op", "client", "op settled", "client settled"]


async def test_a_token_bucket_paces_calls_through_the_injected_clock() -> None:
    for kind in ("sync", "async"):
        clock = Clock()
        bucket = TokenBucket(2.0, clock=clock)
        seen: list[httpx.Request] = []
        answers: list[Any] = [OK, OK, 503, OK]
        if kind == "sync":
            t: Any = _sync(answers, seen, clock, gates=(bucket.gate(),))
            for _ in range(3):
                t.run(make_op())
        else:
            t = _async(answers, seen, clock, gates=(bucket.gate(),))
            for _ in range(3):
                await t.run(make_op())
        # call 1: the bucket's first token; call 2 waits 0.5 s; call 3's first attempt waits
        # 0.5 s, gets a 503 (backoff: 0 s) and its retry waits another 0.5 s for its token.
        assert clock.sleeps == pytest.approx([0.5, 0.5, 0.0, 0.5]), kind
        assert bucket.acquired == 4 == len(seen)


async def test_errors_are_stamped_once_by_the_call() -> None:
    def parse(response: Response) -> Any:
        raise ResponseIntegrityError("garbled")  # no provider, no transaction id

    for kind in ("sync", "async"):
        clock = Clock()
        op = attrs.evolve(
            make_op(parse=parse), transaction_id_of_answer=lambda r: r.json()["transaction_id"]
        )
        if kind == "sync":
            with pytest.raises(ResponseIntegrityError) as info:
                _sync([OK], [], clock).run(op)
        else:
            with pytest.raises(ResponseIntegrityError) as info:
                await _async([OK], [], clock).run(op)
        exc = info.value
        assert (exc.provider, exc.transaction_id, exc.attempts) == ("fake", "T1", 1)
        assert exc.maybe_billed is True


async def test_the_error_a_call_ends_with_carries_its_outcome() -> None:
    cases: list[tuple[list[Any], str]] = [
        ([503], "not_sent"),
        ([httpx.ReadTimeout("slow")], "maybe_billed"),
        ([{"code": 7, "message": "no"}], "answered"),
    ]
    for answers, outcome in cases:
        for err, _, _ in await _both(answers, (), retry=RetryPolicy.no_retries()):
            assert err.outcome == outcome
    [(refused, _, _), _] = await _both([OK], (Recorder(refuse_at=1),))
    assert refused.outcome == "not_sent"

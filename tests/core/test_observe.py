"""Audit events carry the call's duration, per-attempt timings, the caller's correlation id and
the price (issue 16, item 14) — exact values, from injected clocks; old events stay readable."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

import creditsdk
from creditsdk import (
    AttemptTiming,
    AuditEvent,
    JsonlAuditSink,
    MemoryAuditSink,
    RetryPolicy,
    correlation,
    current_correlation_id,
)
from creditsdk._core.clients import AsyncClientBase, SyncClientBase
from creditsdk._core.config import NOT_GIVEN
from creditsdk._core.observe import Observer, PricesArg
from creditsdk.batch import Price
from creditsdk.errors import ConfigurationError, InvalidInputError, ProviderError, TransportError

from .conftest import make_op

T0 = 1000.0
WALL0 = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.timezone.utc)
LATENCY = 0.25  # every answer takes this long (binary-exact: the sums below are exact)


class Clock:
    """A monotonic clock the fake provider and the fake sleep move forward."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> dt.datetime:
        return WALL0 + dt.timedelta(seconds=self.now - T0)


OK = {"code": 0, "transaction_id": "T1"}
NO_DATA = {"code": 0, "transaction_id": "T2", "empty": True}


def _handler(clock: Clock, answers: list[Any]) -> Callable[[httpx.Request], httpx.Response]:
    def handle(request: httpx.Request) -> httpx.Response:
        clock.now += LATENCY
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)

    return handle


def _outcome(result: dict[str, Any]) -> str:
    return "no_data" if result.get("empty") else "success"


class FakeClient(SyncClientBase):
    """A provider-free client: one method, the per-call keywords every client method has."""

    def __init__(self, clock: Clock, answers: list[Any], *, prices: PricesArg = None) -> None:
        self.sink = MemoryAuditSink()
        self._init_transport(
            provider="fake",
            timeout=NOT_GIVEN,
            retry=RetryPolicy(max_attempts=3),
            http_client=httpx.Client(transport=httpx.MockTransport(_handler(clock, answers))),
            audit=self.sink,
            prices=prices,
        )
        self._observer = attrs.evolve(self._observer, monotonic=clock, wall=clock.wall)

        def sleep(seconds: float) -> None:
            clock.now += seconds

        self._transport._sleep = sleep

    def query(self, *, correlation_id: str | None = None) -> Any:
        op = attrs.evolve(make_op(), outcome_of=_outcome)
        return self._run(op, correlation_id=correlation_id)


class AsyncFakeClient(AsyncClientBase):
    def __init__(self, clock: Clock, answers: list[Any]) -> None:
        self.sink = MemoryAuditSink()
        self._init_transport(
            provider="fake",
            timeout=NOT_GIVEN,
            retry=RetryPolicy(max_attempts=3),
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(_handler(clock, answers))),
            audit=self.sink,
            prices={"fake.QUERY": "0.80"},
        )
        self._observer = attrs.evolve(self._observer, monotonic=clock, wall=clock.wall)

    async def query(self, *, correlation_id: str | None = None) -> Any:
        return await self._run(make_op(), correlation_id=correlation_id)


def _503() -> httpx.Response:
    return httpx.Response(503, text="busy", headers={"Retry-After": "1"})


def test_duration_and_attempt_timings_are_exact() -> None:
    clock = Clock()
    client = FakeClient(clock, [_503(), OK])
    client.query()
    (event,) = client.sink.events
    assert event.attempts == 2
    assert event.duration == 1.5  # 0.25 + 1 s Retry-After + 0.25
    assert event.timestamp == WALL0 + dt.timedelta(seconds=1.5)
    assert event.attempt_timings == (
        AttemptTiming(1, 0.0, 0.25, "transport_error", 503, "TransportError", "HTTP 503"),
        AttemptTiming(2, 1.25, 0.25, "success", 200),
    )


def test_failed_call_has_its_timings_too() -> None:
    clock = Clock()
    client = FakeClient(clock, [httpx.ReadTimeout("slow")])
    with pytest.raises(TransportError):
        client.query()
    (event,) = client.sink.events
    assert (event.outcome, event.maybe_billed, event.duration) == ("transport_error", True, 0.25)
    (attempt,) = event.attempt_timings
    assert attempt == AttemptTiming(
        1, 0.0, 0.25, "transport_error", None, "TransportError", "ReadTimeout"
    )


# -- correlation id ---------------------------------------------------------------------------


def test_correlation_id_per_call_keyword() -> None:
    client = FakeClient(Clock(), [OK])
    client.query(correlation_id="req-7f3a")
    assert client.sink.events[0].correlation_id == "req-7f3a"


def test_correlation_id_from_the_context_and_the_keyword_wins() -> None:
    client = FakeClient(Clock(), [OK, OK, OK])
    assert current_correlation_id() is None
    with correlation("batch-42") as cid:
        assert cid == "batch-42"
        assert current_correlation_id() == "batch-42"
        client.query()
        client.query(correlation_id="row-1")
    client.query()
    assert [e.correlation_id for e in client.sink.events] == ["batch-42", "row-1", None]
    assert current_correlation_id() is None


async def test_correlation_ids_of_concurrent_tasks_do_not_mix() -> None:
    client = AsyncFakeClient(Clock(), [OK, OK, OK])

    async def one(cid: str) -> None:
        with correlation(cid):
            await asyncio.sleep(0)  # let the other tasks enter their blocks
            await client.query()

    await asyncio.gather(one("a"), one("b"))
    await client.query(correlation_id="c")
    assert sorted(str(e.correlation_id) for e in client.sink.events) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("bad", "rule"),
    [("", "required"), ("x" * 129, "length"), ("a\nb", "printable"), (7, "type")],
)
def test_bad_correlation_id_is_refused_before_any_io(bad: Any, rule: str) -> None:
    answers = [OK]
    client = FakeClient(Clock(), answers)
    with pytest.raises(InvalidInputError) as info:
        client.query(correlation_id=bad)
    assert (info.value.field, info.value.rule) == ("correlation_id", rule)
    assert answers == [OK]  # nothing was sent
    with pytest.raises(InvalidInputError):
        correlation(bad).__enter__()


def test_correlation_id_holding_personal_data_is_masked() -> None:
    client = FakeClient(Clock(), [OK])
    client.query(correlation_id="apply-11010519491231002X-13912345678")
    cid = client.sink.events[0].correlation_id
    assert cid is not None
    assert "11010519491231002X" not in cid
    assert "13912345678" not in cid


def test_public_names() -> None:
    assert creditsdk.correlation is correlation
    assert {"AttemptTiming", "correlation", "current_correlation_id"} <= set(creditsdk.__all__)


# -- price ------------------------------------------------------------------------------------


def test_price_per_call_and_per_hit() -> None:
    prices = {"fake.QUERY": Price("fake.QUERY", per_call=Decimal("0.50"), per_hit=Decimal("0.30"))}
    client = FakeClient(Clock(), [OK, NO_DATA, {"code": 1001, "message": "bad"}], prices=prices)
    client.query()
    client.query()
    with pytest.raises(ProviderError):
        client.query()
    got = [(e.outcome, e.price, e.currency) for e in client.sink.events]
    assert got == [
        ("success", Decimal("0.80"), "CNY"),
        ("no_data", Decimal("0.50"), "CNY"),
        ("provider_error", Decimal("0"), "CNY"),  # answered with an error: not billed
    ]


def test_maybe_billed_call_shows_the_most_it_can_cost() -> None:
    prices = {"fake.QUERY": Price("fake.QUERY", per_call=Decimal("0.50"), per_hit=Decimal("0.30"))}
    client = FakeClient(Clock(), [httpx.ReadTimeout("slow")], prices=prices)
    with pytest.raises(TransportError):
        client.query()
    (event,) = client.sink.events
    assert (event.maybe_billed, event.price) == (True, Decimal("0.80"))


def test_prices_from_the_batch_prices_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text('currency = "CNY"\n\n["fake.QUERY"]\nper_call = "1.25"\n', encoding="utf-8")
    client = FakeClient(Clock(), [OK], prices=path)
    client.query()
    assert client.sink.events[0].price == Decimal("1.25")


def test_no_price_known_is_none() -> None:
    client = FakeClient(Clock(), [OK], prices={"other.OP": "1"})
    client.query()
    assert (client.sink.events[0].price, client.sink.events[0].currency) == (None, None)


@pytest.mark.parametrize(
    "bad", [{"QUERY": "1"}, {"fake.QUERY": "abc"}, {"fake.QUERY": "-1"}, {"fake.QUERY": True}, 3]
)
def test_bad_prices_are_a_configuration_error(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="prices"):
        FakeClient(Clock(), [], prices=bad)


def test_missing_prices_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no such prices file"):
        FakeClient(Clock(), [], prices=tmp_path / "nope.toml")


# -- reading events back -----------------------------------------------------------------------


def test_events_round_trip_through_a_jsonl_file(tmp_path: Path) -> None:
    clock = Clock()
    client = FakeClient(clock, [_503(), OK], prices={"fake.QUERY": "0.80"})
    client.query(correlation_id="req-1")
    sink = JsonlAuditSink(tmp_path / "audit.jsonl", fsync=False)
    sink.emit(client.sink.events[0])
    line = (tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    data = json.loads(line)
    assert data["price"] == "0.80"
    assert data["duration"] == 1.5
    assert data["attempt_timings"][1] == {
        "number": 2,
        "start": 1.25,
        "duration": 0.25,
        "outcome": "success",
        "http_status": 200,
        "error_type": None,
        "reason": None,
    }
    assert AuditEvent.from_dict(data) == client.sink.events[0]


def test_an_event_written_before_the_new_fields_reads_back() -> None:
    old = {
        "provider": "fake",
        "operation": "QUERY",
        "outcome": "success",
        "attempts": 1,
        "maybe_billed": False,
        "applicant": {"name": "张*"},
        "consent_reference": "AUTH-1",
        "consent_purpose": "credit_underwriting",
        "transaction_id": "T1",
        "error_code": None,
        "error_type": None,
        "http_status": 200,
        "timestamp": "2026-11-01T09:00:00+00:00",
    }
    event = AuditEvent.from_dict(old)
    assert event.timestamp == dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.timezone.utc)
    assert (event.duration, event.attempt_timings, event.correlation_id) == (None, (), None)
    assert (event.price, event.currency) == (None, None)
    # and a field from a newer version is ignored, not an error
    assert AuditEvent.from_dict({**old, "from_the_future": 1}) == event


def test_default_observer_uses_real_clocks() -> None:
    observer = Observer()
    assert observer.wall().tzinfo is dt.timezone.utc
    assert observer.monotonic() <= observer.monotonic()

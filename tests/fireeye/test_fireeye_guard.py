"""CardGuard: refuses, before any I/O, the checks that would get a card locked by UnionPay."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from creditsdk import Consent, RetryPolicy
from creditsdk.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidInputError,
    ProviderError,
    TransportError,
)
from creditsdk.fireeye import AsyncFireEyeClient, CardGuard, CardGuardError, FireEyeClient

BASE = "https://fireeye.test"
TX_URL = BASE + "/fireeye/creditScore/transationAuthentication"
CARD = "6222021234567890128"
OTHER_CARD = "6222021234567890136"
DAY = dt.date(2016, 12, 1)


class Clock:
    def __init__(self) -> None:
        self.today = dt.date(2026, 11, 22)

    def __call__(self) -> dt.date:
        return self.today


def _answer(code: str, data: int | None = None) -> httpx.Response:
    body: dict[str, Any] = {"respCd": code, "msg": "x"}
    if data is not None:
        body["data"] = data
    return httpx.Response(200, json=body)


MATCH, MISMATCH, UNKNOWN_TX = _answer("0000", 1), _answer("0000", 0), _answer("0003")


def _client(guard: CardGuard | bool | None, **kw: Any) -> FireEyeClient:
    return FireEyeClient("INST", "KEY", BASE, card_guard=guard, **kw)


def _check(fe: FireEyeClient, consent: Consent, card: str = CARD) -> bool:
    return fe.verify_transaction(card, DAY, Decimal("1.00"), consent=consent).matched


@respx.mock
def test_eleventh_check_of_a_day_is_refused_without_io(consent: Consent) -> None:
    clock = Clock()
    route = respx.post(TX_URL).mock(return_value=MATCH)
    with _client(CardGuard(clock=clock)) as fe:
        for _ in range(10):
            assert _check(fe, consent) is True
        with pytest.raises(CardGuardError) as info:
            _check(fe, consent)
        assert route.call_count == 10
        err = info.value
        assert isinstance(err, InvalidInputError)
        assert (err.field, err.rule, err.limit) == ("card_no", "card_guard", "daily")
        assert err.card == "6222***********0128"
        assert "6222***********0128" in str(err)
        assert CARD not in str(err)
        # another card is unaffected; the next local day starts afresh
        assert _check(fe, consent, OTHER_CARD) is True
        clock.today += dt.timedelta(days=1)
        assert _check(fe, consent) is True
    assert route.call_count == 12


@pytest.mark.parametrize("failure", [MISMATCH, UNKNOWN_TX])
@respx.mock
def test_third_check_after_two_failures_in_a_row_is_refused(
    failure: httpx.Response, consent: Consent
) -> None:
    route = respx.post(TX_URL).mock(return_value=failure)
    guard = CardGuard(clock=Clock())
    with _client(guard) as fe:
        assert _check(fe, consent) is False
        assert _check(fe, consent) is False
        assert guard.status(CARD) == (2, 2)
        with pytest.raises(CardGuardError) as info:
            _check(fe, consent)
    assert info.value.limit == "consecutive_failures"
    assert route.call_count == 2


@respx.mock
def test_a_match_resets_the_failure_run(consent: Consent) -> None:
    route = respx.post(TX_URL).mock(side_effect=[MISMATCH, MATCH, MISMATCH, UNKNOWN_TX])
    guard = CardGuard(clock=Clock())
    with _client(guard) as fe:
        assert [_check(fe, consent) for _ in range(4)] == [False, True, False, False]
        with pytest.raises(CardGuardError):
            _check(fe, consent)
    assert guard.status(CARD) == (4, 2)
    assert route.call_count == 4
    guard.reset(CARD)
    assert guard.status(CARD) == (0, 0)


@respx.mock
def test_refused_credentials_do_not_count(consent: Consent) -> None:
    respx.post(TX_URL).mock(return_value=_answer("0002"))
    guard = CardGuard(max_per_day=2, clock=Clock())
    with _client(guard) as fe:
        for _ in range(5):
            with pytest.raises(AuthenticationError):
                _check(fe, consent)
    assert guard.status(CARD) == (0, 0)


@respx.mock
def test_processing_errors_and_lost_answers_count_for_the_day_only(consent: Consent) -> None:
    respx.post(TX_URL).mock(side_effect=[_answer("0004"), httpx.ReadTimeout("slow"), MISMATCH])
    guard = CardGuard(max_per_day=3, clock=Clock())
    with _client(guard, retry=RetryPolicy.no_retries()) as fe:
        with pytest.raises(ProviderError):
            _check(fe, consent)
        with pytest.raises(TransportError):
            _check(fe, consent)
        assert guard.status(CARD) == (2, 0)
        assert _check(fe, consent) is False
        with pytest.raises(CardGuardError) as info:
            _check(fe, consent)
    assert info.value.limit == "daily"


@respx.mock
def test_unreachable_provider_does_not_count(consent: Consent) -> None:
    respx.post(TX_URL).mock(side_effect=httpx.ConnectError("refused"))
    guard = CardGuard(clock=Clock())
    policy = RetryPolicy(max_attempts=2, initial_backoff=0)
    with _client(guard, retry=policy) as fe, pytest.raises(TransportError) as info:
        _check(fe, consent)
    assert info.value.maybe_billed is False
    assert guard.status(CARD) == (0, 0)


@respx.mock
def test_invalid_input_does_not_use_a_slot(consent: Consent) -> None:
    guard = CardGuard(clock=Clock())
    with _client(guard) as fe, pytest.raises(InvalidInputError) as info:
        fe.verify_transaction(CARD, DAY, Decimal("-1"), consent=consent)
    assert info.value.field == "amount"
    assert guard.status(CARD) == (0, 0)


@respx.mock
def test_card_guard_true_uses_the_defaults(consent: Consent) -> None:
    respx.post(TX_URL).mock(return_value=MATCH)
    with _client(True) as fe:
        assert isinstance(fe.card_guard, CardGuard)
        assert (fe.card_guard.max_per_day, fe.card_guard.max_consecutive_failures) == (10, 3)
        for _ in range(10):
            _check(fe, consent)
        with pytest.raises(CardGuardError):
            _check(fe, consent)


@respx.mock
def test_no_guard_by_default(consent: Consent) -> None:
    route = respx.post(TX_URL).mock(return_value=MISMATCH)
    with _client(None) as fe:
        assert fe.card_guard is None
        for _ in range(12):
            _check(fe, consent)
    assert route.call_count == 12


@respx.mock
def test_model_score_is_not_counted(consent: Consent) -> None:
    respx.post(BASE + "/fireeye/creditScore/UnionPayModelScore").mock(
        return_value=httpx.Response(200, json={"resp": "0000", "msg": "Success", "data": 650})
    )
    guard = CardGuard(clock=Clock())
    with _client(guard) as fe:
        for _ in range(12):
            fe.model_score(CARD, "11010519491231002X", "13800138000", consent=consent)
    assert guard.status(CARD) == (0, 0)


def test_in_flight_checks_count_as_possible_failures() -> None:
    guard = CardGuard(clock=Clock())
    first = guard.admit(CARD)
    second = guard.admit(CARD)
    with pytest.raises(CardGuardError, match="2 in flight"):
        guard.admit(CARD)  # two in flight could both fail: a third could be the locking one
    first.answered(True)
    second.answered(False)
    third = guard.admit(CARD)
    third.answered(False)
    with pytest.raises(CardGuardError):
        guard.admit(CARD)
    assert guard.status(CARD) == (3, 2)


def test_settling_twice_counts_once() -> None:
    guard = CardGuard(clock=Clock())
    ticket = guard.admit(CARD)
    ticket.answered(False)
    ticket.answered(False)
    assert guard.status(CARD) == (1, 1)


def test_threads_cannot_overshoot_the_daily_limit() -> None:
    guard = CardGuard(max_per_day=10, max_consecutive_failures=1000, clock=Clock())
    admitted: list[object] = []
    refused: list[object] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for _ in range(5):
            try:
                ticket = guard.admit(CARD)
            except CardGuardError as exc:
                with lock:
                    refused.append(exc)
            else:
                with lock:
                    admitted.append(ticket)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (len(admitted), len(refused)) == (10, 30)


def test_the_guard_keeps_no_card_number() -> None:
    guard = CardGuard(clock=Clock())
    guard.admit(CARD).answered(True)
    assert CARD not in repr(guard)
    assert all(CARD not in key for key in guard._cards)


def test_bad_limits() -> None:
    with pytest.raises(ConfigurationError, match="max_per_day"):
        CardGuard(max_per_day=0)
    with pytest.raises(ConfigurationError, match="max_consecutive_failures"):
        CardGuard(max_consecutive_failures=1)


async def test_async_client_shares_the_guard(consent: Consent) -> None:
    guard = CardGuard(max_per_day=3, clock=Clock())
    with respx.mock:
        route = respx.post(TX_URL).mock(return_value=MATCH)
        async with AsyncFireEyeClient("INST", "KEY", BASE, card_guard=guard) as afe:
            for _ in range(2):
                assert (
                    await afe.verify_transaction(CARD, DAY, Decimal("1"), consent=consent)
                ).matched
        with FireEyeClient("INST", "KEY", BASE, card_guard=guard) as fe:
            _check(fe, consent)
            with pytest.raises(CardGuardError):
                _check(fe, consent)
        async with AsyncFireEyeClient("INST", "KEY", BASE, card_guard=guard) as afe:
            with pytest.raises(CardGuardError):
                await afe.verify_transaction(CARD, DAY, Decimal("1"), consent=consent)
    assert route.call_count == 3

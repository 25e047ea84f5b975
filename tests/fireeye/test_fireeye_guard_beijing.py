"""CardGuard counts UnionPay's day, which is Beijing's (UTC+8, no DST), on any host (issue 16,
item 15): a UTC host must not start a new day at 08:00 Beijing."""

from __future__ import annotations

import datetime as dt

import pytest

from creditsdk._core import clock
from creditsdk.fireeye import CardGuard, CardGuardError

CARD = "6222021234567890128"
UTC = dt.timezone.utc
NEW_YORK = dt.timezone(dt.timedelta(hours=-5))


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def _use_up(guard: CardGuard) -> None:
    for _ in range(guard.max_per_day):
        guard.admit(CARD).answered(True)
    with pytest.raises(CardGuardError) as info:
        guard.admit(CARD)
    assert info.value.limit == "daily"


def test_the_day_ends_at_midnight_beijing() -> None:
    now = Clock(dt.datetime(2026, 12, 1, 23, 59, 30, tzinfo=clock.BEIJING))
    guard = CardGuard(max_per_day=2, clock=now)
    _use_up(guard)
    assert guard.status(CARD) == (2, 0)
    now.now = dt.datetime(2026, 12, 2, 0, 0, tzinfo=clock.BEIJING)
    assert guard.status(CARD) == (0, 0)
    guard.admit(CARD).answered(True)  # a new UnionPay day
    assert guard.status(CARD) == (1, 0)


def test_the_same_instants_on_a_utc_clock() -> None:
    # 23:59 Beijing is 15:59 UTC; 00:00 Beijing is 16:00 UTC (the UTC date has not changed).
    now = Clock(dt.datetime(2026, 12, 1, 15, 59, tzinfo=UTC))
    guard = CardGuard(max_per_day=2, clock=now)
    _use_up(guard)
    now.now = dt.datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    guard.admit(CARD).answered(True)


def test_0800_beijing_is_not_a_new_day_on_a_utc_host() -> None:
    # 23:30 UTC is 07:30 Beijing on 2 Dec; 00:30 UTC (a new UTC date) is 08:30 Beijing, same day.
    now = Clock(dt.datetime(2026, 12, 1, 23, 30, tzinfo=UTC))
    guard = CardGuard(max_per_day=2, clock=now)
    _use_up(guard)
    now.now = dt.datetime(2026, 12, 2, 0, 30, tzinfo=UTC)
    with pytest.raises(CardGuardError):
        guard.admit(CARD)
    now.now = dt.datetime(2026, 12, 2, 8, 0, tzinfo=UTC)  # 16:00 Beijing: still 2 Dec
    with pytest.raises(CardGuardError):
        guard.admit(CARD)
    now.now = dt.datetime(2026, 12, 2, 16, 0, tzinfo=UTC)  # 00:00 Beijing, 3 Dec
    guard.admit(CARD).answered(True)


def test_a_naive_clock_is_utc_and_other_zones_are_converted() -> None:
    now = Clock(dt.datetime(2026, 12, 1, 15, 59))  # naive: read as UTC → 23:59 Beijing
    guard = CardGuard(max_per_day=1, clock=now)
    _use_up(guard)
    now.now = dt.datetime(2026, 12, 1, 11, 0, tzinfo=NEW_YORK)  # 16:00 UTC → 00:00 Beijing
    guard.admit(CARD).answered(True)


def test_the_default_clock_reads_beijing_time() -> None:
    guard = CardGuard()
    assert guard.clock is clock.utc_now
    assert guard._today() == clock.beijing_date()
    assert clock.beijing_date(dt.date(2026, 1, 1)) == dt.date(2026, 1, 1)


def test_one_beijing_timezone_shared_with_sesame() -> None:
    from creditsdk.sesame import _protocol

    assert _protocol.BEIJING is clock.BEIJING
    assert clock.BEIJING.utcoffset(None) == dt.timedelta(hours=8)

"""The clocks the SDK reads, in one place so tests can inject them.

``monotonic`` measures durations (never goes back, no meaning as a date); ``utc_now`` stamps
events. Provider days that follow China's calendar use `BEIJING`: China has had no daylight
saving time since 1991, so a fixed UTC+8 is exact and needs no tzdata.
"""

from __future__ import annotations

import datetime as _dt
import time

__all__ = ["BEIJING", "beijing_date", "monotonic", "utc_now"]

#: China Standard Time (Beijing), UTC+8 all year.
BEIJING = _dt.timezone(_dt.timedelta(hours=8), "Asia/Shanghai")

#: Seconds from an arbitrary start; for durations only.
monotonic = time.perf_counter


def utc_now() -> _dt.datetime:
    """Now, timezone-aware in UTC."""
    return _dt.datetime.now(_dt.timezone.utc)


def beijing_date(now: _dt.datetime | _dt.date | None = None) -> _dt.date:
    """The date in Beijing at ``now`` (default: this instant), whatever this machine's zone.

    A naive datetime is read as UTC (as every clock of the SDK gives aware UTC, a naive one
    comes from a caller's test or a UTC host). A bare ``date`` is taken as already Beijing's.
    """
    if now is None:
        now = utc_now()
    if not isinstance(now, _dt.datetime):
        return now
    if now.tzinfo is None:
        now = now.replace(tzinfo=_dt.timezone.utc)
    return now.astimezone(BEIJING).date()

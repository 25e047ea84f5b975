"""What a call records about itself besides its result: timings, correlation id, price.

A client holds one `Observer` (its clocks and its price list); each call sees it, with the
caller's correlation id, through a context variable set by the client's ``_run`` — so the call
driver and the executors need no extra argument, and a credentials fetch made inside a call
carries the same correlation id.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as _dt
import os
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple, Protocol, cast

import attrs

from ..errors import ConfigurationError, InvalidInputError
from . import clock

__all__ = [
    "CallContext",
    "Observer",
    "PriceLike",
    "PricesArg",
    "correlation",
    "current_correlation_id",
    "enter_call",
    "leave_call",
    "normalize_prices",
]

#: The longest correlation id accepted (a W3C trace id is 32, a UUID 36 characters).
MAX_CORRELATION_ID = 128


class PriceLike(Protocol):
    """What a price list entry has: `creditsdk.batch.Price` is one (``load_prices``)."""

    @property
    def per_call(self) -> Decimal | None: ...

    @property
    def per_hit(self) -> Decimal | None: ...

    @property
    def currency(self) -> str: ...


@attrs.frozen
class _Amount:
    """A bare amount given for an operation: a price per call."""

    per_call: Decimal | None
    per_hit: Decimal | None = None
    currency: str = "CNY"


#: What ``prices=`` takes: a prices TOML file (the format of ``creditsdk batch --prices``), or
#: a mapping of ``"provider.operation"`` to a `creditsdk.batch.Price` or to an amount per call.
PricesArg = str | os.PathLike[str] | Mapping[str, PriceLike | Decimal | str | int | float] | None


def _amount(key: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise ConfigurationError(
            f"prices[{key!r}] must be a Price or an amount, not {type(value).__name__}"
        )
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ConfigurationError(f"prices[{key!r}] = {value!r} is not a decimal amount") from None
    if not amount.is_finite() or amount < 0:
        raise ConfigurationError(f"prices[{key!r}] = {value!r} must be a finite amount >= 0")
    return amount


def normalize_prices(prices: PricesArg) -> Mapping[str, PriceLike]:
    """``prices=`` as a mapping of ``"provider.operation"`` to a price (validated, before I/O)."""
    if prices is None:
        return {}
    if isinstance(prices, (str, os.PathLike)):
        # One format for a lender's contract prices, shared with batch runs and evaluate (the
        # module is loaded only when a file is given).
        from .prices import load_prices

        return dict(load_prices(prices))
    if not isinstance(prices, Mapping):
        raise ConfigurationError(
            "prices= takes a prices TOML file or a mapping of 'provider.operation' to a "
            f"creditsdk.batch.Price or an amount, not a {type(prices).__name__}"
        )
    out: dict[str, PriceLike] = {}
    for key, value in prices.items():
        if not isinstance(key, str) or "." not in key:
            raise ConfigurationError(
                f"prices= keys are 'provider.operation' (as in a prices file), not {key!r}"
            )
        if all(hasattr(value, a) for a in ("per_call", "per_hit", "currency")):
            out[key] = cast(PriceLike, value)
        else:
            out[key] = _Amount(_amount(key, value))
    return out


def price_of(
    price: PriceLike | None, outcome: str, maybe_billed: bool
) -> tuple[Decimal | None, str | None]:
    """What one call costs under ``price``: (amount, currency); (None, None) when unknown."""
    if price is None:
        return None, None
    per_call = price.per_call or Decimal(0)
    per_hit = price.per_hit or Decimal(0)
    if outcome == "success" or maybe_billed:
        amount = per_call + per_hit  # a maybe-billed call: the most it can cost
    elif outcome == "no_data":
        amount = per_call
    else:
        amount = Decimal(0)  # answered with an error, or never processed: not billed
    return amount, price.currency


@attrs.frozen
class Observer:
    """A client's clocks and price list. ``monotonic`` gives seconds for durations, ``wall``
    an aware UTC datetime for timestamps: inject both in tests for exact values."""

    prices: Mapping[str, PriceLike] = attrs.field(factory=dict)
    monotonic: Callable[[], float] = clock.monotonic
    wall: Callable[[], _dt.datetime] = clock.utc_now
    #: an OpenTelemetry TracerProvider; None: the global one (``trace.set_tracer_provider``)
    tracer_provider: Any = None

    def price(self, provider: str, operation: str) -> PriceLike | None:
        if not self.prices:
            return None
        return self.prices.get(f"{provider}.{operation}")


DEFAULT_OBSERVER = Observer()


class CallContext(NamedTuple):
    """What one call of a client sees: the client's observer and the caller's correlation id."""

    observer: Observer
    correlation_id: str | None


_NO_CONTEXT = CallContext(DEFAULT_OBSERVER, None)


_CALL: contextvars.ContextVar[CallContext | None] = contextvars.ContextVar(
    "creditsdk_call", default=None
)
_CORRELATION: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "creditsdk_correlation_id", default=None
)


def check_correlation_id(value: object) -> str | None:
    """A valid correlation id, or raise [`InvalidInputError`][] naming ``correlation_id``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(
            f"must be a string, not {type(value).__name__}", field="correlation_id", rule="type"
        )
    if not value.strip():
        raise InvalidInputError("is empty", field="correlation_id", rule="required")
    if len(value) > MAX_CORRELATION_ID:
        raise InvalidInputError(
            f"is longer than {MAX_CORRELATION_ID} characters", field="correlation_id", rule="length"
        )
    if not value.isprintable():
        raise InvalidInputError(
            "holds control characters", field="correlation_id", rule="printable"
        )
    return value


@contextlib.contextmanager
def correlation(correlation_id: str) -> Iterator[str]:
    """Every call made inside the block carries ``correlation_id`` (in its audit event and its
    span), unless the call passes its own ``correlation_id=``. Works across ``await`` (a
    context variable: each task sees the id of the block it runs in)."""
    checked = check_correlation_id(correlation_id)
    if checked is None:
        raise InvalidInputError("is required", field="correlation_id", rule="required")
    token = _CORRELATION.set(checked)
    try:
        yield checked
    finally:
        _CORRELATION.reset(token)


def current_correlation_id() -> str | None:
    """The correlation id of the enclosing [`correlation`][creditsdk.correlation] block."""
    return _CORRELATION.get()


def enter_call(
    observer: Observer, correlation_id: str | None
) -> contextvars.Token[CallContext | None]:
    """Called by a client around one call: the per-call keyword wins over the context's id."""
    cid = check_correlation_id(correlation_id) if correlation_id is not None else _CORRELATION.get()
    return _CALL.set(CallContext(observer, cid))


def leave_call(token: contextvars.Token[CallContext | None]) -> None:
    _CALL.reset(token)


def current_call() -> CallContext:
    """The context of the call being driven (outside a client: default clocks, no prices)."""
    found = _CALL.get()
    if found is not None:
        return found
    cid = _CORRELATION.get()
    return _NO_CONTEXT if cid is None else CallContext(DEFAULT_OBSERVER, cid)

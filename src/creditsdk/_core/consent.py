"""Consent (PIPL arts. 13, 14, 29) and the audit trail of billed calls."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol, runtime_checkable

import attrs

from ..errors import InvalidInputError
from .redact import scrub_text

__all__ = [
    "AttemptTiming",
    "AuditEvent",
    "AuditSink",
    "CallbackAuditSink",
    "Consent",
    "JsonlAuditSink",
    "LoggingAuditSink",
    "MemoryAuditSink",
    "normalize_sinks",
]

#: Clock skew tolerated between the lender's systems and this machine for "granted in the future".
CLOCK_SKEW = _dt.timedelta(minutes=5)

_audit_logger = logging.getLogger("creditsdk.audit")


def _now_like(value: _dt.datetime) -> _dt.datetime:
    """``now`` in the same flavour (naive local or aware) as ``value``."""
    if value.tzinfo is None:
        return _dt.datetime.now()
    return _dt.datetime.now(_dt.timezone.utc)


def _check_reference(_inst: Any, _attr: Any, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError("is empty", field="consent.reference", rule="required")
    if len(value) > 128:
        raise InvalidInputError(
            "is longer than 128 characters", field="consent.reference", rule="length"
        )


def _check_purpose(_inst: Any, _attr: Any, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError("is empty", field="consent.purpose", rule="required")


def _check_datetime(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, _dt.datetime):
        raise InvalidInputError(
            f"must be a datetime, got {type(value).__name__}",
            field=f"consent.{attr.name}",
            rule="type",
        )


@attrs.frozen
class Consent:
    """The applicant's signed authorization for this query.

    ``reference`` identifies the signed authorization letter (providers that want it receive
    it with the request, as their authorization-file code), ``purpose`` says what it was
    granted for. Naive datetimes are
    compared with this machine's local clock, aware ones with UTC.
    """

    reference: str = attrs.field(validator=_check_reference)
    purpose: str = attrs.field(validator=_check_purpose)
    granted_at: _dt.datetime = attrs.field(validator=_check_datetime)
    expires_at: _dt.datetime | None = attrs.field(default=None, validator=_check_datetime)

    def __attrs_post_init__(self) -> None:
        if self.expires_at is not None:
            if (self.expires_at.tzinfo is None) != (self.granted_at.tzinfo is None):
                raise InvalidInputError(
                    "granted_at and expires_at must both be naive or both be timezone-aware",
                    field="consent.expires_at",
                    rule="timezone",
                )
            if self.expires_at <= self.granted_at:
                raise InvalidInputError(
                    "is not after granted_at", field="consent.expires_at", rule="order"
                )

    def check(self, now: _dt.datetime | None = None) -> None:
        """Raise [`InvalidInputError`][] unless the consent is in force at ``now``."""
        current = now if now is not None else _now_like(self.granted_at)
        if (current.tzinfo is None) != (self.granted_at.tzinfo is None):
            current = (
                current.replace(tzinfo=None)
                if self.granted_at.tzinfo is None
                else current.astimezone(_dt.timezone.utc)
            )
        if self.granted_at > current + CLOCK_SKEW:
            raise InvalidInputError(
                "is in the future; a consent must be granted before the query",
                field="consent.granted_at",
                rule="future",
            )
        if self.expires_at is not None and self.expires_at <= current:
            raise InvalidInputError(
                f"consent {self.reference!r} expired at {self.expires_at.isoformat()}",
                field="consent.expires_at",
                rule="expired",
            )


def check_consent(consent: object, *, required: bool = True) -> Consent | None:
    """Type-check and time-check a ``consent=`` argument before any I/O."""
    if consent is None:
        if required:
            raise InvalidInputError(
                "is required for this paid query (pass consent=Consent(...))",
                field="consent",
                rule="required",
            )
        return None
    if not isinstance(consent, Consent):
        raise InvalidInputError(
            f"must be a creditsdk.Consent, got {type(consent).__name__}",
            field="consent",
            rule="type",
        )
    consent.check()
    return consent


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _scrubbed(value: str | None) -> str | None:
    # Every string an audit event carries goes through the masking pass (an echoed
    # transaction id or error code, a consent reference that holds an ID number …).
    return scrub_text(value) if isinstance(value, str) else value


def _scrubbed_map(value: Mapping[str, str] | None) -> Mapping[str, str] | None:
    if value is None:
        return None
    return {k: scrub_text(v) if isinstance(v, str) else v for k, v in value.items()}


def _optional_decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        try:
            return Decimal(value)
        except InvalidOperation:
            raise ValueError(f"price {value!r} is not a decimal amount") from None
    raise TypeError(f"price must be a Decimal, int or decimal string, not {type(value).__name__}")


@attrs.frozen
class AttemptTiming:
    """One attempt of a call: when it started (``start``, seconds after the call began),
    how long it took (``duration``, seconds) and how it ended.

    ``outcome`` is how this attempt ended, in the words of
    [`AuditEvent`][creditsdk.AuditEvent]'s ``outcome`` (``"success"``, ``"no_data"``,
    ``"transport_error"``, ``"provider_error"`` …; an attempt followed by another was retried),
    ``"credentials_rejected"`` when the provider refused the credentials (fetched anew, then
    sent again) or ``"cancelled"``. ``reason`` is the short, masked cause of a failed attempt
    (``"HTTP 503"``, ``"ConnectError"``, ``"deadline exceeded"``); ``http_status``
    the status of its answer, if one arrived.
    """

    number: int
    start: float
    duration: float
    outcome: str
    http_status: int | None = None
    error_type: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AttemptTiming:
        return cls(
            number=int(data["number"]),
            start=float(data["start"]),
            duration=float(data["duration"]),
            outcome=str(data["outcome"]),
            http_status=data.get("http_status"),
            error_type=data.get("error_type"),
            reason=data.get("reason"),
        )


def _attempt_tuple(value: Iterable[AttemptTiming | Mapping[str, Any]]) -> tuple[AttemptTiming, ...]:
    return tuple(a if isinstance(a, AttemptTiming) else AttemptTiming.from_dict(a) for a in value)


@attrs.frozen
class AuditEvent:
    """One record per billed call, whatever its outcome. Holds masked personal data only.

    ``outcome`` is ``"success"``, ``"no_data"``, ``"provider_error"``, ``"transport_error"``,
    ``"integrity_error"``, ``"cancelled"`` (the call was cancelled — ``asyncio`` cancellation,
    ``KeyboardInterrupt`` — after its request started going out; the cancellation still
    propagates) or ``"error"``. ``maybe_billed`` is True when the provider may have billed the
    call but no usable answer was delivered (for a billed operation: always, when ``"cancelled"``).

    ``timestamp`` is when the call ended (UTC); ``duration`` how long the whole call took, in
    seconds (gates, credentials, retries and their waits included); ``attempt_timings`` one
    [`AttemptTiming`][creditsdk.AttemptTiming] per attempt. ``correlation_id`` is the caller's
    (the ``correlation_id=`` keyword of the call, else [`correlation`][creditsdk.correlation]'s
    context). ``price`` is what the call costs under the ``prices=`` the client was given
    (``None``: no price known for the operation): ``per_call`` plus ``per_hit`` for a success,
    ``per_call`` for ``"no_data"``, 0 for a call the provider did not bill, and for a
    ``maybe_billed`` call the most it can cost (``per_call`` plus ``per_hit``); ``currency`` its
    currency. Events written before these fields existed read back with them ``None`` / empty
    ([`from_dict`][creditsdk.AuditEvent.from_dict]).
    """

    provider: str
    operation: str
    outcome: str
    attempts: int
    maybe_billed: bool
    applicant: Mapping[str, str] | None = attrs.field(default=None, converter=_scrubbed_map)
    consent_reference: str | None = attrs.field(default=None, converter=_scrubbed)
    consent_purpose: str | None = attrs.field(default=None, converter=_scrubbed)
    transaction_id: str | None = attrs.field(default=None, converter=_scrubbed)
    error_code: str | None = attrs.field(default=None, converter=_scrubbed)
    error_type: str | None = None
    http_status: int | None = None
    timestamp: _dt.datetime = attrs.field(factory=_utcnow)
    duration: float | None = None
    attempt_timings: tuple[AttemptTiming, ...] = attrs.field(default=(), converter=_attempt_tuple)
    correlation_id: str | None = attrs.field(default=None, converter=_scrubbed)
    price: Decimal | None = attrs.field(default=None, converter=_optional_decimal)
    currency: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = attrs.asdict(self, recurse=False)
        d["applicant"] = dict(self.applicant) if self.applicant is not None else None
        d["timestamp"] = self.timestamp.isoformat()
        d["attempt_timings"] = [a.to_dict() for a in self.attempt_timings]
        d["price"] = None if self.price is None else str(self.price)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditEvent:
        """An event from its `to_dict` form (a line of a
        [`JsonlAuditSink`][creditsdk.JsonlAuditSink] file or of the audit log), including lines
        written by older versions without the newer fields. Unknown keys (from a newer version)
        are ignored."""
        known = {f.name for f in attrs.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        stamp = kwargs.get("timestamp")
        if isinstance(stamp, str):
            kwargs["timestamp"] = _dt.datetime.fromisoformat(stamp)
        if kwargs.get("attempt_timings") is None:
            kwargs.pop("attempt_timings", None)
        return cls(**kwargs)


@runtime_checkable
class AuditSink(Protocol):
    """Anything with ``emit(event)``. Sinks must not raise; errors are logged and swallowed."""

    def emit(self, event: AuditEvent) -> None: ...


def _microseconds(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _loggable(event: AuditEvent) -> dict[str, Any]:
    """`AuditEvent.to_dict` with durations to the microsecond: the 16 digits of a float such
    as ``1.5623000008478e-05`` look like a card number to the log filter's masking pass, which
    would mask them and break the JSON of the line."""
    d = event.to_dict()
    if "duration" in d:
        d["duration"] = _microseconds(d["duration"])
    for timing in d.get("attempt_timings", ()):
        timing["start"] = _microseconds(timing["start"])
        timing["duration"] = _microseconds(timing["duration"])
    return d


class LoggingAuditSink:
    """Writes each event as one JSON line to the ``creditsdk.audit`` logger at INFO."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or _audit_logger

    def emit(self, event: AuditEvent) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return  # the default sink: skip the JSON work when nobody listens
        self.logger.info(
            "audit %s", json.dumps(_loggable(event), ensure_ascii=False, sort_keys=True)
        )

    def __repr__(self) -> str:
        return f"LoggingAuditSink(logger={self.logger.name!r})"


class JsonlAuditSink:
    """Appends each event as a JSON line to ``path`` (flushed and fsynced per event)."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = os.fspath(path)
        self.fsync = fsync
        self._lock = threading.Lock()

    def emit(self, event: AuditEvent) -> None:
        line = json.dumps(event.to_dict(), ensure_ascii=False, sort_keys=True) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            if self.fsync:
                os.fsync(fh.fileno())

    def __repr__(self) -> str:
        return f"JsonlAuditSink({self.path!r})"


class MemoryAuditSink:
    """Keeps events in a list; handy in tests and notebooks."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self._lock = threading.Lock()

    def emit(self, event: AuditEvent) -> None:
        with self._lock:
            self.events.append(event)

    def __repr__(self) -> str:
        return f"MemoryAuditSink(events={len(self.events)})"


class CallbackAuditSink:
    """Calls ``fn(event)`` for each event."""

    def __init__(self, fn: Callable[[AuditEvent], object]) -> None:
        self.fn = fn

    def emit(self, event: AuditEvent) -> None:
        self.fn(event)


def normalize_sinks(audit: object) -> tuple[AuditSink, ...]:
    """``audit=`` accepts a sink, a callable, an iterable of those, or None (default logging)."""
    if audit is None:
        return (LoggingAuditSink(),)
    if isinstance(audit, AuditSink):
        return (audit,)
    if callable(audit):
        return (CallbackAuditSink(audit),)
    if isinstance(audit, Iterable) and not isinstance(audit, (str, bytes)):
        out: list[AuditSink] = []
        for item in audit:
            out.extend(normalize_sinks(item))
        return tuple(out)
    raise TypeError(f"audit= takes an AuditSink, a callable or a list of them, not {audit!r}")


def listening(sinks: Iterable[AuditSink]) -> bool:
    """Whether any sink will consume an event now: False only when every one is the default
    `LoggingAuditSink` and its logger is off for INFO (then the event is not even built)."""
    return any(
        type(sink) is not LoggingAuditSink or sink.logger.isEnabledFor(logging.INFO)
        for sink in sinks
    )


def emit_all(sinks: Iterable[AuditSink], event: AuditEvent) -> None:
    for sink in sinks:
        try:
            sink.emit(event)
        except Exception:  # an audit sink must never turn a paid answer into an error
            _audit_logger.exception("audit sink %r failed", sink)

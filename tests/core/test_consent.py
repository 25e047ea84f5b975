from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest

from creditsdk import AuditEvent, Consent, JsonlAuditSink, LoggingAuditSink
from creditsdk._core.consent import check_consent, normalize_sinks
from creditsdk.errors import InvalidInputError

NOW = dt.datetime(2026, 11, 22, 12, 0)


def consent(**kw: object) -> Consent:
    base: dict[str, object] = {
        "reference": "AUTH20251210001",
        "purpose": "credit_underwriting",
        "granted_at": dt.datetime(2026, 11, 1, 9, 0),
    }
    base.update(kw)
    return Consent(**base)  # type: ignore[arg-type]


def test_consent_in_force() -> None:
    consent(expires_at=dt.datetime(2027, 1, 1)).check(NOW)


def test_expired_consent() -> None:
    c = consent(expires_at=dt.datetime(2026, 11, 20))
    with pytest.raises(InvalidInputError) as info:
        c.check(NOW)
    assert (info.value.field, info.value.rule) == ("consent.expires_at", "expired")


def test_future_dated_consent() -> None:
    with pytest.raises(InvalidInputError) as info:
        consent(granted_at=dt.datetime(2026, 11, 23)).check(NOW)
    assert info.value.rule == "future"


def test_small_clock_skew_is_tolerated() -> None:
    consent(granted_at=NOW + dt.timedelta(minutes=2)).check(NOW)


def test_aware_consent_against_aware_now() -> None:
    utc = dt.timezone.utc
    c = consent(
        granted_at=dt.datetime(2026, 11, 1, tzinfo=utc),
        expires_at=dt.datetime(2026, 11, 2, tzinfo=utc),
    )
    with pytest.raises(InvalidInputError, match="expired"):
        c.check(dt.datetime(2026, 11, 3, tzinfo=utc))


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"reference": ""}, "consent.reference"),
        ({"purpose": " "}, "consent.purpose"),
        ({"granted_at": "2026-11-01"}, "consent.granted_at"),
        ({"expires_at": dt.datetime(2026, 10, 1)}, "consent.expires_at"),
    ],
)
def test_bad_consents(kw: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        consent(**kw)
    assert info.value.field == field


def test_check_consent_argument() -> None:
    with pytest.raises(InvalidInputError, match="required"):
        check_consent(None)
    with pytest.raises(InvalidInputError, match=r"creditsdk\.Consent"):
        check_consent({"reference": "x"})
    assert check_consent(None, required=False) is None


def test_jsonl_sink_writes_one_line_per_event(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonlAuditSink(path)
    ev = AuditEvent(
        provider="p",
        operation="op",
        outcome="success",
        attempts=1,
        maybe_billed=False,
        applicant={"id_card": "110105********002X"},
        consent_reference="AUTH1",
        transaction_id="T1",
    )
    sink.emit(ev)
    sink.emit(ev)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    row = json.loads(lines[0])
    assert row["applicant"] == {"id_card": "110105********002X"}
    assert row["transaction_id"] == "T1"
    assert row["consent_reference"] == "AUTH1"


def test_normalize_sinks() -> None:
    assert isinstance(normalize_sinks(None)[0], LoggingAuditSink)
    assert normalize_sinks([]) == ()
    assert len(normalize_sinks([print, LoggingAuditSink()])) == 2
    with pytest.raises(TypeError):
        normalize_sinks(42)


def test_logging_sink_skips_serialising_when_nobody_listens(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    ev = AuditEvent(provider="p", operation="op", outcome="success", attempts=1, maybe_billed=False)
    calls: list[int] = []
    monkeypatch.setattr(AuditEvent, "to_dict", lambda self: calls.append(1) or {})
    logger = logging.getLogger("creditsdk.audit.test")
    logger.setLevel(logging.WARNING)
    LoggingAuditSink(logger).emit(ev)
    assert calls == []
    logger.setLevel(logging.INFO)
    with caplog.at_level(logging.INFO, logger="creditsdk.audit.test"):
        LoggingAuditSink(logger).emit(ev)
    assert calls == [1]
    assert caplog.records[-1].getMessage() == "audit {}"

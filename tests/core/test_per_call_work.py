"""The per-call shortcuts keep their guarantees: the forms of sent values worked out once
(`SentValues`) mask exactly what the per-scrub forms did, and an audit event nobody consumes
is not built while every consumer still gets exactly one per billed call."""

from __future__ import annotations

import json
import logging
import random
import urllib.parse
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditsdk._core import call as call_module
from creditsdk._core.call import Send, drive
from creditsdk._core.consent import (
    AttemptTiming,
    AuditEvent,
    LoggingAuditSink,
    MemoryAuditSink,
    listening,
    normalize_sinks,
)
from creditsdk._core.redact import SentValues, _forms, _may_hold_a_form, scrub_text
from creditsdk._core.retry import RetryPolicy
from creditsdk._core.wire import Response

from .conftest import URL, make_op

NAME = "张三"
ID_CARD = "11010519491231002X"
MOBILE = "13800138000"
CARD = "6222020000000000000"


def _reference_forms(value: str) -> set[str]:
    """The forms as first written: every encoder called on every value."""
    forms = {
        value,
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote_plus(value),
        json.dumps(value, ensure_ascii=False)[1:-1],
        json.dumps(value)[1:-1],
    }
    return {f for f in forms if f}


@pytest.mark.parametrize(
    "value",
    [
        NAME,
        ID_CARD,
        ID_CARD.lower(),
        MOBILE,
        "欧阳 娜娜",
        'a"b\\c',
        "tab\there",
        "x+y z",
        "𝄞名",
        "",
    ],
)
def test_forms_are_the_encoders_forms(value: str) -> None:
    assert _forms(value) == _reference_forms(value)


@given(st.text(max_size=12))
def test_forms_of_any_text(value: str) -> None:
    assert _forms(value) == _reference_forms(value)


@given(st.text(min_size=1, max_size=8), st.text(max_size=6), st.text(max_size=6))
def test_a_text_holding_a_form_of_a_name_is_never_skipped(
    name: str, before: str, after: str
) -> None:
    for form in _reference_forms(name):
        assert _may_hold_a_form(before + form + after, (name,))


def _echoes() -> list[str]:
    """Every form a provider could echo each sent value in, alone and glued to text."""
    out = []
    for value in (NAME, ID_CARD, ID_CARD.lower(), MOBILE, CARD):
        for form in _reference_forms(value):
            out += [form, f"msg {form} end", f"TY{form}01", json.dumps({"v": value})]
    out.append(urllib.parse.quote(json.dumps({"name": NAME, "id": ID_CARD, "m": MOBILE})))
    out.append(f"{CARD}{ID_CARD}")
    return out


@pytest.mark.parametrize("text", _echoes())
def test_sent_values_mask_like_names_and_values(text: str) -> None:
    names, values = (NAME,), (ID_CARD, MOBILE, CARD)
    sent = SentValues(names, values)
    once = scrub_text(text, sent=sent)
    assert once == scrub_text(text, names=names, values=values)
    assert scrub_text(text, sent=sent) == once  # the worked-out forms are reused as they are
    for value in (NAME, ID_CARD, MOBILE, CARD):
        for form in _reference_forms(value):
            assert form not in once


def test_sent_values_work_out_their_forms_once_and_hide_them() -> None:
    sent = SentValues((NAME, " ", None), (ID_CARD, None, ""))
    assert sent.name_plan("成功") == ()  # no form of the name can be there: none worked out
    assert sent.value_plan("成功") == ()  # nor of the ID number: its forms are not worked out
    assert sent._value_plan is None
    assert sent.value_plan(f"TY{ID_CARD.lower()}") is sent.value_plan()  # worked out when it may
    assert sent.value_plan("成功") is sent.value_plan()  # and then reused, whatever the text
    assert sent.name_plan() is sent.name_plan("成功")
    assert [forms for forms, _, _ in sent.name_plan()] == [
        tuple(sorted(_reference_forms(NAME), key=len, reverse=True))
    ]
    assert NAME not in repr(sent)
    assert ID_CARD not in repr(sent)
    assert repr(sent) == "SentValues(<1 names>, <2 values>)"  # the ID number and its lower case
    assert not SentValues((), (None,))
    with pytest.raises(TypeError):
        scrub_text("x", names=(NAME,), sent=sent)


# -- audit events: built only for a consumer --------------------------------------------------

ANSWER = Response(
    200, [("Content-Type", "application/json")], b'{"code": 0, "transaction_id": "T1"}'
)


def _run(sinks: tuple[Any, ...], *, billed: bool = True) -> Any:
    gen = drive(make_op(billed=billed), RetryPolicy(), 10.0, sinks, random.Random(1), 1 << 20)
    command = next(gen)
    assert isinstance(command, Send)
    assert command.request.url == URL
    with pytest.raises(StopIteration) as stop:
        gen.send(ANSWER)
    return stop.value.value


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[AuditEvent]:
    """Every AuditEvent the call driver constructs."""
    events: list[AuditEvent] = []

    def counting(**kwargs: Any) -> AuditEvent:
        event = AuditEvent(**kwargs)
        events.append(event)
        return event

    monkeypatch.setattr(call_module, "AuditEvent", counting)
    return events


@pytest.fixture
def audit_logger() -> Any:
    logger = logging.getLogger("creditsdk.audit")
    level = logger.level
    yield logger
    logger.setLevel(level)


def test_default_sink_with_its_logger_off_builds_no_event(
    built: list[AuditEvent], audit_logger: logging.Logger
) -> None:
    audit_logger.setLevel(logging.WARNING)
    sinks = normalize_sinks(None)
    assert not listening(sinks)
    assert _run(sinks) == {"code": 0, "transaction_id": "T1"}
    assert built == []


def test_default_sink_with_its_logger_on_logs_one_event(
    built: list[AuditEvent], audit_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="creditsdk.audit"):
        _run(normalize_sinks(None))
    assert len(built) == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "creditsdk.audit"]
    assert len(lines) == 1
    event = json.loads(lines[0].removeprefix("audit "))
    assert (event["outcome"], event["transaction_id"], event["attempts"]) == ("success", "T1", 1)


class _QuietLogger(LoggingAuditSink):
    """A subclass may emit elsewhere: it always gets its event."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[AuditEvent] = []

    def emit(self, event: AuditEvent) -> None:
        self.seen.append(event)


def test_explicit_sinks_get_exactly_one_event(
    built: list[AuditEvent], audit_logger: logging.Logger
) -> None:
    audit_logger.setLevel(logging.WARNING)
    memory, subclass = MemoryAuditSink(), _QuietLogger()
    sinks = (*normalize_sinks(None), memory, subclass)
    assert listening(sinks)
    _run(sinks)
    assert len(built) == 1
    assert memory.events == built
    assert subclass.seen == built
    assert memory.events[0].applicant == {"name": "张*", "id_card": "110105********002X"}


def test_unbilled_calls_build_no_event(built: list[AuditEvent]) -> None:
    memory = MemoryAuditSink()
    _run((memory,), billed=False)
    assert built == []
    assert memory.events == []


def test_audit_log_line_stays_json_whatever_the_durations(
    audit_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    # 1.5623000008478e-05: its digits "5623000008478" look like a card number to the masking
    # pass every creditsdk.audit record goes through; the line must still be valid JSON.
    event = AuditEvent(
        provider="p",
        operation="op",
        outcome="success",
        attempts=1,
        maybe_billed=False,
        duration=6.9183000004334e-05,
        attempt_timings=(AttemptTiming(1, 1.5623000008478e-05, 3.1366999792226125e-05, "success"),),
    )
    with caplog.at_level(logging.INFO, logger="creditsdk.audit"):
        LoggingAuditSink().emit(event)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "creditsdk.audit"]
    logged = json.loads(line.removeprefix("audit "))
    assert logged["duration"] == 6.9e-05
    assert logged["attempt_timings"][0]["start"] == 1.6e-05
    assert logged["attempt_timings"][0]["duration"] == 3.1e-05

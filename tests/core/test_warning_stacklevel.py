"""UnverifiedCardWarning points at the caller's line, not into creditsdk or attrs' generated
``__init__`` (``<attrs generated methods …>``), whichever way the card number comes in."""

from __future__ import annotations

import datetime as dt
import sys
import warnings
from collections.abc import Iterator

import pytest

from creditsdk import Applicant, Consent
from creditsdk.errors import UnverifiedCardWarning
from creditsdk.fireeye import FireEyeClient
from creditsdk.sandbox import Sandbox

LUHN_FAILING = "6262320120123210"  # the provider's sample card: fails Luhn
CONSENT = Consent(
    reference="AUTH20251210001", purpose="credit_underwriting", granted_at=dt.datetime(2026, 11, 1)
)


ID, MOBILE = "11010519491231002X", "13800138000"


def _card_warning(caught: list[warnings.WarningMessage]) -> warnings.WarningMessage:
    cards = [w for w in caught if issubclass(w.category, UnverifiedCardWarning)]
    assert len(cards) == 1, [str(w.message) for w in caught]
    return cards[0]


@pytest.fixture
def fe() -> Iterator[FireEyeClient]:
    sb = Sandbox(providers=["fireeye"])  # in-process: no socket needed
    with sb.fireeye_client() as client:
        yield client


# Each call is on one line, so the warning's line number is the next line's after `line = ...`.
# The two paths reach the check at different depths (the Applicant one through attrs' generated
# __init__), so one fixed stacklevel cannot satisfy both tests.


def test_applicant_bank_card_warning_points_at_the_caller() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        Applicant(name="张三", id_card=ID, mobile=MOBILE, bank_card=LUHN_FAILING)
    w = _card_warning(caught)
    assert (w.filename, w.lineno) == (__file__, line)


def test_fireeye_call_warning_points_at_the_caller(fe: FireEyeClient) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        fe.model_score(card_no=LUHN_FAILING, id_card=ID, mobile=MOBILE, consent=CONSENT)
    w = _card_warning(caught)
    assert (w.filename, w.lineno) == (__file__, line)

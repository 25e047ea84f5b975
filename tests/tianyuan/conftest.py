"""Fixtures for the Tianyuan tests."""

from __future__ import annotations

import datetime as dt

import pytest

from creditsdk import Applicant, Consent

ID_CARD = "11010519491231002X"


@pytest.fixture
def applicant() -> Applicant:
    return Applicant(name="张三", id_card=ID_CARD, mobile="13800138000")


@pytest.fixture
def consent() -> Consent:
    return Consent(
        reference="AUTH20251210001",
        purpose="credit_underwriting",
        granted_at=dt.datetime(2026, 11, 1, 9, 0),
    )

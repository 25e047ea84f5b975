from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from Crypto.PublicKey import RSA

from creditsdk import Applicant, Consent


@pytest.fixture(scope="session")
def app_key() -> RSA.RsaKey:
    return RSA.generate(1024)


@pytest.fixture(scope="session")
def alipay_key() -> RSA.RsaKey:
    return RSA.generate(1024)


@pytest.fixture
def consent() -> Consent:
    return Consent(
        reference="AUTH20251210001",
        purpose="credit_underwriting",
        granted_at=dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.timezone.utc),
    )


@pytest.fixture
def applicant() -> Applicant:
    return Applicant(name="张三", id_card="11010519491231002X", mobile="13800138000")


FIXED_UTC = dt.datetime(2026, 1, 1, 0, 0, 5, tzinfo=dt.timezone.utc)


@pytest.fixture
def fixed_clock() -> Callable[[], dt.datetime]:
    return lambda: FIXED_UTC

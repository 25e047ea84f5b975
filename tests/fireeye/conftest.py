from __future__ import annotations

import datetime as dt

import pytest

from creditsdk import Consent, RetryPolicy


@pytest.fixture
def consent() -> Consent:
    return Consent(
        reference="AUTH20261101001",
        purpose="credit_underwriting",
        granted_at=dt.datetime(2026, 11, 1, 9, 0),
    )


@pytest.fixture
def no_wait() -> RetryPolicy:
    return RetryPolicy(initial_backoff=0, jitter=0)

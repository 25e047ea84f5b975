from __future__ import annotations

import datetime as dt
import logging
import pickle
import random

import pytest

from creditsdk import RedactingFilter, RetryPolicy
from creditsdk._core.redact import (
    mask_card,
    mask_id_card,
    mask_mobile,
    mask_name,
    mask_secret,
    redact_text,
)
from creditsdk._core.retry import parse_retry_after
from creditsdk.errors import (
    ConfigurationError,
    CreditSDKError,
    InvalidInputError,
    ProviderError,
    RateLimitedError,
    TransportError,
)


def test_masks_match_the_documented_shapes() -> None:
    assert mask_id_card("11010519491231002X") == "110105********002X"
    assert mask_mobile("13800138000") == "138****8000"
    assert mask_name("张三") == "张*"
    assert mask_card("6262320120123210") == "6262********3210"
    assert mask_secret("abc") == "<redacted>"
    assert mask_secret("") == "<unset>"


def test_redact_text_finds_personal_numbers_in_free_text() -> None:
    text = "id=11010519491231002X tel 13800138000 card:6262320120123210."
    assert redact_text(text) == "id=110105********002X tel 138****8000 card:6262********3210."


def test_redacting_filter_rewrites_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redact")
    logger.addFilter(RedactingFilter())
    try:
        with caplog.at_level(logging.INFO, logger="test.redact"):
            logger.info("applicant %s mobile %s", "11010519491231002X", "13800138000")
    finally:
        logger.filters.clear()
    assert "11010519491231002X" not in caplog.text
    assert "110105********002X" in caplog.text
    assert "138****8000" in caplog.text


def test_backoff_is_exponential_capped_and_jittered_down() -> None:
    p = RetryPolicy(initial_backoff=0.5, multiplier=2, max_backoff=3, jitter=0)
    assert [p.backoff(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]
    jittered = RetryPolicy(initial_backoff=1, jitter=0.5)
    values = [jittered.backoff(1, random.Random(i)) for i in range(50)]
    assert all(0.5 <= v <= 1.0 for v in values)
    assert len(set(values)) > 10


@pytest.mark.parametrize(
    "kw", [{"max_attempts": 0}, {"max_attempts": 1.5}, {"jitter": 2}, {"initial_backoff": -1}]
)
def test_bad_policy_is_configuration_error(kw: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        RetryPolicy(**kw)  # type: ignore[arg-type]


def test_parse_retry_after() -> None:
    now = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.timezone.utc)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("Sun, 22 Nov 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Sun, 22 Nov 2026 11:00:00 GMT", now=now) == 0.0
    for junk in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(junk) is None


def test_error_str_is_one_useful_line() -> None:
    err = ProviderError(
        "insufficient balance",
        provider="tianyuan",
        code="1007",
        transaction_id="T1",
        http_status=200,
        attempts=1,
    )
    assert str(err) == (
        "[tianyuan 1007] insufficient balance (transaction_id=T1, http_status=200, attempts=1)"
    )
    assert "\n" not in str(err)
    t = TransportError("no answer", provider="fireeye", maybe_billed=True)
    assert str(t) == "[fireeye] no answer [maybe billed]"


def test_errors_pickle_with_their_attributes() -> None:
    for err in (
        RateLimitedError("slow", provider="p", code="429", retry_after=3.0),
        TransportError("x", maybe_billed=True, attempts=2),
        InvalidInputError("bad", field="id_card", rule="checksum"),
    ):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err)
        assert back.__dict__ == err.__dict__
        assert str(back) == str(err)


def test_hierarchy() -> None:
    assert issubclass(InvalidInputError, ValueError)
    for cls in (InvalidInputError, ConfigurationError, TransportError, ProviderError):
        assert issubclass(cls, CreditSDKError)

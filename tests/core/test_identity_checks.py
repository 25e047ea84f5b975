"""The fast per-call checks in identity agree with python-stdnum, their reference."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.cn import ric

from creditsdk._core import identity

digits = st.text(alphabet="0123456789", min_size=1, max_size=24)


@settings(max_examples=2000)
@given(digits)
def test_luhn_verdict_is_python_stdnums(number: str) -> None:
    assert identity._luhn_valid(number) is luhn.is_valid(number)


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_id_check_digit_is_python_stdnums(first17: str) -> None:
    # python-stdnum's calc_check_digit takes the whole number (check digit included)
    assert identity._check_digit(first17 + "0") == ric.calc_check_digit(first17 + "7")


def test_known_cards() -> None:
    assert identity._luhn_valid("4111111111111111")
    assert identity._luhn_valid("6222020200112345677") is luhn.is_valid("6222020200112345677")
    assert not identity._luhn_valid("4111111111111112")


def test_region_verdicts_are_cached_and_bounded() -> None:
    identity.region_known.cache_clear()
    assert identity.region_known("110105")
    assert not identity.region_known("999999")
    assert identity.region_known("110105")
    info = identity.region_known.cache_info()
    assert (info.hits, info.misses, info.maxsize) == (1, 2, 8192)

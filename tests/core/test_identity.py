"""Applicant validation: every rule names its field and never echoes the full value."""

from __future__ import annotations

import contextlib
import datetime as dt
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditsdk import Applicant
from creditsdk._core.identity import normalize_card_no, normalize_id_card, normalize_mobile
from creditsdk.errors import InvalidInputError, UnverifiedCardWarning

VALID_ID = "11010519491231002X"


def test_valid_applicant_is_normalised() -> None:
    a = Applicant(name=" 张三 ", id_card="110105 19491231 002x", mobile="+86 138-0013-8000")
    assert (a.name, a.id_card, a.mobile) == ("张三", VALID_ID, "13800138000")
    assert a.birth_date == dt.date(1949, 12, 31)


@pytest.mark.parametrize(
    ("seed_sample", "rule"),
    [
        ("110101199001011234", "checksum"),
        # Its check digit is right; region 411524 (商城县) only exists from 1998, so a 1988
        # birth date with that code is not a number the registry can have issued.
        ("411524198810280019", "component"),
    ],
)
def test_seed_sample_numbers_are_rejected(seed_sample: str, rule: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        Applicant(name="张三", id_card=seed_sample, mobile="13800138000")
    err = info.value
    assert (err.field, err.rule) == ("id_card", rule)
    assert seed_sample not in str(err)
    assert seed_sample[:6] + "********" + seed_sample[-4:] in str(err)
    assert isinstance(err, ValueError)


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("110105491231002", "legacy_15_digit"),
        ("1101051949123100", "length"),
        ("11010519491231002Y", "format"),
        ("11010519491331002X", "checksum"),  # month 13: check digit also differs
        ("", "required"),
    ],
)
def test_bad_id_numbers(value: str, rule: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        normalize_id_card(value)
    assert info.value.rule == rule
    assert info.value.field == "id_card"


def test_invalid_birth_date_with_correct_check_digit_is_a_component_error() -> None:
    # 1949-02-30 does not exist; compute a matching check digit so only the date is wrong.
    from stdnum.cn import ric

    body = "11010519490230002"
    number = body + ric.calc_check_digit(body + "0")
    with pytest.raises(InvalidInputError) as info:
        normalize_id_card(number)
    assert info.value.rule == "component"


def test_future_birth_date_is_rejected() -> None:
    from stdnum.cn import ric

    body = "11010520991231002"
    number = body + ric.calc_check_digit(body + "0")
    with pytest.raises(InvalidInputError) as info:
        normalize_id_card(number, today=dt.date(2026, 11, 22))
    assert info.value.rule == "future_birth"


@pytest.mark.parametrize("bad", ["1380013800", "12800138000", "138001380001", "1380013800a"])
def test_bad_mobiles(bad: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        normalize_mobile(bad)
    assert (info.value.field, info.value.rule) == ("mobile", "format")
    assert bad not in str(info.value)


def test_non_string_input_is_a_type_error_naming_the_field() -> None:
    with pytest.raises(InvalidInputError) as info:
        Applicant(name="张三", id_card=VALID_ID, mobile=13800138000)  # type: ignore[arg-type]
    assert (info.value.field, info.value.rule) == ("mobile", "type")


@pytest.mark.parametrize("bad", ["", "  ", "张3", "a\x00b"])
def test_bad_names(bad: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        Applicant(name=bad, id_card=VALID_ID, mobile="13800138000")
    assert info.value.field == "name"


def test_card_luhn_failure_is_a_warning_not_an_error() -> None:
    with pytest.warns(UnverifiedCardWarning, match=r"6262\*+3211"):
        assert normalize_card_no("6262 3201 2012 3211") == "6262320120123211"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert normalize_card_no("6222021234567890128") == "6222021234567890128"


@pytest.mark.parametrize("bad", ["12345", "6262-abc-3210", "1" * 20])
def test_card_format(bad: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        normalize_card_no(bad)
    assert info.value.rule == "format"


def test_repr_and_masked_hide_everything() -> None:
    a = Applicant(
        name="张三丰", id_card=VALID_ID, mobile="13800138000", bank_card="6222021234567890128"
    )
    text = repr(a) + str(a)
    for secret in ("张三丰", VALID_ID, "13800138000", "6222021234567890128"):
        assert secret not in text
    assert a.masked() == {
        "name": "张**",
        "id_card": "110105********002X",
        "mobile": "138****8000",
        "bank_card": "6222***********0128",
    }


@given(st.text(max_size=30))
def test_id_normaliser_only_raises_invalid_input(value: str) -> None:
    with contextlib.suppress(InvalidInputError):
        normalize_id_card(value)

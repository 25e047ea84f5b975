"""Applicant validation: every rule names its field and never echoes the full value."""

from __future__ import annotations

import contextlib
import datetime as dt
import warnings
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditsdk import Applicant
from creditsdk._core.identity import (
    normalize_card_no,
    normalize_id_card,
    normalize_mobile,
    region_known,
)
from creditsdk.errors import InvalidInputError, UnknownRegionWarning, UnverifiedCardWarning

VALID_ID = "11010519491231002X"


def test_valid_applicant_is_normalised() -> None:
    a = Applicant(name=" 张三 ", id_card="110105 19491231 002x", mobile="+86 138-0013-8000")
    assert (a.name, a.id_card, a.mobile) == ("张三", VALID_ID, "13800138000")
    assert a.birth_date == dt.date(1949, 12, 31)


def test_seed_sample_with_a_wrong_check_digit_is_rejected() -> None:
    seed_sample = "110101199001011234"
    with pytest.raises(InvalidInputError) as info:
        Applicant(name="张三", id_card=seed_sample, mobile="13800138000")
    err = info.value
    assert (err.field, err.rule) == ("id_card", "checksum")
    assert "check digit" in str(err)
    assert seed_sample not in str(err)
    assert seed_sample[:6] + "********" + seed_sample[-4:] in str(err)
    assert isinstance(err, ValueError)


@pytest.mark.parametrize(
    "number",
    [
        # Check digits right; the county codes (411524 商城县 from 1998, 510107 from 1990) were
        # created after these birth dates. The code is where the 18-digit number was issued,
        # so such numbers are normal; python-stdnum's ric.validate refuses them.
        "411524198810280019",
        "510107197501011237",
    ],
)
def test_real_numbers_with_a_county_created_after_birth_are_accepted(number: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Applicant(name="张三", id_card=number, mobile="13800138000").id_card == number


def test_an_unknown_county_warns_and_never_raises_a_foreign_exception() -> None:
    # python-stdnum raises a bare KeyError('county') for this one (province 33 known, county
    # 9563 in no edition of the list).
    with pytest.warns(UnknownRegionWarning, match=r"339563\*{8}1238") as record:
        assert normalize_id_card("339563198003131238") == "339563198003131238"
    assert "339563198003131238" not in str(record[0].message)
    with pytest.warns(UnknownRegionWarning):
        normalize_id_card(_with_check_digit("99000019800313123"))


def test_region_verdicts_are_cached() -> None:
    region_known.cache_clear()
    for _ in range(3):
        normalize_id_card(VALID_ID)
    info = region_known.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def _with_check_digit(body17: str) -> str:
    from stdnum.cn import ric

    return body17 + ric.calc_check_digit(body17 + "0")


_DATES = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2026, 11, 22))


@given(region=st.from_regex(r"[0-9]{6}", fullmatch=True), born=_DATES, seq=st.integers(0, 999))
def test_any_number_with_a_right_check_digit_and_date_is_accepted(
    region: str, born: dt.date, seq: int
) -> None:
    number = _with_check_digit(f"{region}{born:%Y%m%d}{seq:03d}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing else may be raised or warned
        warnings.simplefilter("ignore", UnknownRegionWarning)
        assert normalize_id_card(number, today=dt.date(2026, 11, 22)) == number


@given(st.from_regex(r"[0-9]{17}[0-9X]", fullmatch=True))
def test_any_18_characters_give_only_creditsdk_errors_and_warnings(number: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", UnknownRegionWarning)
        rule, text = "", ""
        try:
            assert normalize_id_card(number) == number
        except InvalidInputError as exc:
            rule, text = exc.rule, str(exc)
    assert rule in {"", "checksum", "birth_date", "future_birth"}
    assert number not in text


@pytest.mark.parametrize(
    ("number", "rule", "says"),
    [
        (_with_check_digit("11010519490230002"), "birth_date", "birth date"),  # 30 February
        (_with_check_digit("11010518790101002"), "birth_date", "before 1880"),
        ("11010519491231002Y", "format", "17 digits"),
        ("1101051949123100", "length", "18 characters"),
        ("11010519491231003X", "checksum", "check digit"),
    ],
)
def test_the_message_says_which_part_failed(number: str, rule: str, says: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        normalize_id_card(number)
    assert info.value.rule == rule
    assert says in str(info.value)


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("110105491231002", "legacy_15_digit"),
        ("1101051949123100", "length"),
        ("11010519491231002Y", "format"),
        ("11010519491331002X", "checksum"),  # month 13: check digit also differs, checked first
        ("", "required"),
    ],
)
def test_bad_id_numbers(value: str, rule: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        normalize_id_card(value)
    assert info.value.rule == rule
    assert info.value.field == "id_card"


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


# -- Unicode digits: only ASCII goes on the wire --------------------------------------------


def test_full_width_digits_are_made_ascii() -> None:
    a = Applicant(
        name="张三",
        id_card="１１０１０５１９４９１２３１００２Ｘ",
        mobile="＋８６　１３８００１３８０００",
        bank_card="６２２２０２１２３４５６７８９０１２８",
    )
    assert (a.id_card, a.mobile, a.bank_card) == (VALID_ID, "13800138000", "6222021234567890128")
    assert all(v.isascii() for v in (a.id_card, a.mobile, a.bank_card))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("card_no", "²²²²²²²²²²²²²²²²"),  # superscripts
        ("card_no", "①②③④⑤⑥⑦⑧⑨①②③④"),  # circled digits
        ("card_no", "٦٢٢٢٠٢١٢٣٤٥٦٧٨٩٠١٢٨"),  # Arabic-Indic: NFKC leaves them non-ASCII
        ("mobile", "¹³⁸⁰⁰¹³⁸⁰⁰⁰"),
        ("mobile", "१३८००१३८०००"),  # Devanagari
        ("id_card", "¹¹⁰¹⁰⁵¹⁹⁴⁹¹²³¹⁰⁰²X"),
        ("id_card", "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X"),
    ],
)
def test_other_unicode_digits_are_refused(field: str, value: str) -> None:
    normalize = {
        "card_no": normalize_card_no,
        "mobile": normalize_mobile,
        "id_card": normalize_id_card,
    }[field]
    with pytest.raises(InvalidInputError) as info:
        normalize(value)
    assert (info.value.field, info.value.rule) == (field, "format")


@given(st.text(alphabet=st.characters(categories=["Nd", "No", "Zs", "Pd"]), max_size=22))
def test_whatever_is_accepted_is_ascii(value: str) -> None:
    for normalize in (normalize_card_no, normalize_mobile, normalize_id_card):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                out = normalize(value)
            except InvalidInputError:
                continue
        assert out.isascii()
        assert out.isalnum()


@pytest.mark.parametrize(
    ("normalize", "value", "expected"),
    [
        # On main both passed validation and the full-width string itself was returned (sent).
        (normalize_id_card, "１１０１０５１９４９１２３１００２X", VALID_ID),
        (normalize_card_no, "６２２２０２１２３４５６７８９０１２８", "6222021234567890128"),
        (normalize_card_no, "６２２２　０２１２－３４５６７８９０１２８", "6222021234567890128"),
    ],
)
def test_values_main_sent_as_full_width_are_sent_as_ascii(
    normalize: Any, value: str, expected: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert normalize(value) == expected

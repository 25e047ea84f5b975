"""Applicant: the person a query is about, validated and normalised before any I/O."""

from __future__ import annotations

import datetime as _dt
import functools
import os
import re
import sys
import types
import unicodedata
import warnings

import attrs

from ..errors import InvalidInputError, UnknownRegionWarning, UnverifiedCardWarning
from .redact import mask_card, mask_id_card, mask_mobile, mask_name

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_NOT_THE_CALLER = (_PACKAGE_DIR, "<attrs generated")


def _caller_stacklevel() -> int:
    """``stacklevel`` for a warning about our caller's input: the first frame outside creditsdk
    and attrs' generated methods, i.e. the user's own line."""
    level = 1
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_NOT_THE_CALLER):
        level += 1
        frame = frame.f_back
    return level


__all__ = [
    "Applicant",
    "is_valid_id_number",
    "normalize_card_no",
    "normalize_id_card",
    "normalize_mobile",
    "normalize_name",
    "region_known",
]

_MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")
_ID_FORMAT_RE = re.compile(r"[0-9]{17}[0-9X]")
_SEPARATORS = re.compile(r"[\s\-]+")
#: Oldest birth date accepted in an ID number: the registry started in 1984, and nobody alive
#: then was born before this.
_OLDEST_BIRTH = _dt.date(1880, 1, 1)


def _require_str(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(
            f"must be a string, got {type(value).__name__}", field=field, rule="type"
        )
    return value


def _ascii_number(value: object, field: str) -> str:
    """The value as ASCII, separators removed: full-width digits (``１３８…``, typed with a
    Chinese IME) become ASCII by NFKC; superscripts, circled digits and other non-decimal
    numerals, and digits NFKC leaves non-ASCII (Arabic-Indic …), are refused."""
    raw = _require_str(value, field)
    if not raw.isascii():
        if any(unicodedata.category(ch) == "No" for ch in raw):
            raise InvalidInputError(
                "contains superscript, circled or other non-decimal digits",
                field=field,
                rule="format",
            )
        raw = unicodedata.normalize("NFKC", raw)
    v = _SEPARATORS.sub("", raw)
    if not v.isascii():
        raise InvalidInputError(
            "contains characters other than ASCII digits (after NFKC normalisation)",
            field=field,
            rule="format",
        )
    return v


def normalize_name(value: object, field: str = "name") -> str:
    """Strip, NFC-normalise and require a plausible name (1-64 characters, no digits)."""
    v = unicodedata.normalize("NFC", _require_str(value, field)).strip()
    if not v:
        raise InvalidInputError("is empty", field=field, rule="required")
    if len(v) > 64:
        raise InvalidInputError("is longer than 64 characters", field=field, rule="length")
    if any(ch.isdigit() or unicodedata.category(ch).startswith("C") for ch in v):
        raise InvalidInputError("contains digits or control characters", field=field, rule="format")
    return v


@functools.cache
def _ric() -> types.ModuleType:
    """python-stdnum's GB 11643 module, imported on the first ID check (not at import)."""
    from stdnum.cn import ric

    return ric


def _check_digit(number: str) -> str:
    """GB 11643 check digit of an 18-character number's first 17 (python-stdnum's)."""
    return str(_ric().calc_check_digit(number))


_LUHN_PLAIN = {str(d): d for d in range(10)}
_LUHN_DOUBLED = {str(d): (2 * d) // 10 + (2 * d) % 10 for d in range(10)}


def _luhn_valid(digits: str) -> bool:
    """Luhn (ISO/IEC 7812) over ASCII digits. python-stdnum's ``luhn.is_valid`` gives the same
    verdict (tests/core/test_identity_checks.py) but takes ~10 µs for its generic alphabet; this
    table form takes ~1 µs, and it runs on every bank-card input."""
    total = sum(map(_LUHN_PLAIN.__getitem__, digits[-1::-2]))
    total += sum(map(_LUHN_DOUBLED.__getitem__, digits[-2::-2]))
    return total % 10 == 0


@functools.lru_cache(maxsize=8192)
def region_known(code: str) -> bool:
    """True when the 6-digit region code is a county in any edition of python-stdnum's
    ``cn/loc`` list (GB/T 2260), whatever years it was in use. Cached per code (bounded)."""
    from stdnum import numdb

    try:
        results = numdb.get("cn/loc").info(code)
    except Exception:  # pragma: no cover - a broken stdnum install: treat as unknown
        return False
    return any("county" in props for part, props in results if part)


def normalize_id_card(
    value: object, field: str = "id_card", *, today: _dt.date | None = None
) -> str:
    """Validate a mainland resident ID (GB 11643) and return it as 18 ASCII characters.

    Spaces and dashes are stripped, full-width digits made ASCII (NFKC) and a trailing ``x``
    upper-cased. Refused, each with its own ``rule``: a wrong length (``length``), anything but
    17 digits and a digit or ``X`` (``format``), a birth date that does not exist, is before
    1880 (``birth_date``) or in the future (``future_birth``), a wrong GB 11643 check digit
    (``checksum``), a legacy 15-digit number (``legacy_15_digit``).

    The region code is the county where the number was issued, which may have been created
    after the holder was born: any code that ever existed is accepted. A code in no edition of
    the list issues [`UnknownRegionWarning`][creditsdk.errors.UnknownRegionWarning] and the
    number is accepted.
    """
    v = _ascii_number(value, field).upper()
    if not v:
        raise InvalidInputError("is empty", field=field, rule="required")
    if len(v) == 15 and v.isdigit():
        raise InvalidInputError(
            "is a legacy 15-digit ID number; providers require the 18-character number "
            "(ask the applicant for their current ID card)",
            field=field,
            rule="legacy_15_digit",
        )
    if len(v) != 18:
        raise InvalidInputError(f"must be 18 characters, got {len(v)}", field=field, rule="length")
    if not _ID_FORMAT_RE.fullmatch(v):
        raise InvalidInputError(
            "must be 17 digits followed by a digit or X", field=field, rule="format"
        )
    if _check_digit(v) != v[17]:
        raise InvalidInputError(
            f"check digit (the last character) is wrong ({mask_id_card(v)})",
            field=field,
            rule="checksum",
        )
    try:
        birth = _dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        raise InvalidInputError(
            f"birth date (digits 7-14) is not a real date ({mask_id_card(v)})",
            field=field,
            rule="birth_date",
        ) from None
    if birth < _OLDEST_BIRTH:
        raise InvalidInputError(
            f"birth date (digits 7-14) is before {_OLDEST_BIRTH.year} ({mask_id_card(v)})",
            field=field,
            rule="birth_date",
        )
    if birth > (today or _dt.date.today()):
        raise InvalidInputError(
            f"birth date is in the future ({mask_id_card(v)})", field=field, rule="future_birth"
        )
    if not region_known(v[:6]):
        warnings.warn(
            f"{field} {mask_id_card(v)}: region code {v[:6]} is in no edition of the county list; "
            "sending it anyway",
            UnknownRegionWarning,
            stacklevel=_caller_stacklevel(),
        )
    return v


def is_valid_id_number(value: object) -> bool:
    """Format, birth date and check digit right (the region code is not looked at): what the
    Sandboxes accept. Never raises, never warns."""
    if not isinstance(value, str) or not _ID_FORMAT_RE.fullmatch(value):
        return False
    try:
        _dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return _check_digit(value) == value[17]


def normalize_mobile(value: object, field: str = "mobile") -> str:
    """Mainland mobile: 11 digits starting ``1[3-9]``; spaces, dashes and ``+86`` are removed.
    Full-width digits are made ASCII (NFKC)."""
    v = _ascii_number(value, field)
    if v.startswith("+86"):
        v = v[3:]
    elif v.startswith("0086"):
        v = v[4:]
    if not v:
        raise InvalidInputError("is empty", field=field, rule="required")
    if not _MOBILE_RE.fullmatch(v):
        raise InvalidInputError("must be 11 digits starting with 13-19", field=field, rule="format")
    return v


def normalize_card_no(value: object, field: str = "card_no") -> str:
    """Bank card: 12-19 ASCII digits after removing spaces and dashes (full-width digits are
    made ASCII by NFKC).

    A Luhn failure issues [`UnverifiedCardWarning`][] instead of raising:
    some cards issued in China do not carry a Luhn check digit.
    """
    v = _ascii_number(value, field)
    if not v:
        raise InvalidInputError("is empty", field=field, rule="required")
    if not v.isdigit() or not 12 <= len(v) <= 19:
        raise InvalidInputError("must be 12-19 digits", field=field, rule="format")
    if not _luhn_valid(v):
        warnings.warn(
            f"{field} {mask_card(v)} fails the Luhn check; sending it anyway",
            UnverifiedCardWarning,
            stacklevel=_caller_stacklevel(),
        )
    return v


def _optional_card(value: object) -> str | None:
    return None if value is None else normalize_card_no(value, "bank_card")


@attrs.frozen(repr=False)
class Applicant:
    """The person a query is about.

    Every field is normalised and validated on construction; a bad value raises
    [`InvalidInputError`][] naming the field, before anything is sent.
    ``repr()`` masks every field.
    """

    name: str = attrs.field(converter=normalize_name)
    id_card: str = attrs.field(converter=normalize_id_card)
    mobile: str = attrs.field(converter=normalize_mobile)
    bank_card: str | None = attrs.field(default=None, converter=_optional_card)

    @property
    def birth_date(self) -> _dt.date:
        """Birth date encoded in the ID number."""
        return _ric().get_birth_date(self.id_card)  # type: ignore[no-any-return]

    def masked(self) -> dict[str, str]:
        """The applicant with every field masked: safe for logs and audit events."""
        out = {
            "name": mask_name(self.name),
            "id_card": mask_id_card(self.id_card),
            "mobile": mask_mobile(self.mobile),
        }
        if self.bank_card is not None:
            out["bank_card"] = mask_card(self.bank_card)
        return out

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.masked().items())
        return f"Applicant({fields})"

    __str__ = __repr__

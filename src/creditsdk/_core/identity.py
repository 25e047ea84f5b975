"""Applicant: the person a query is about, validated and normalised before any I/O."""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
import warnings

import attrs
from stdnum import luhn
from stdnum.cn import ric
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)

from ..errors import InvalidInputError, UnverifiedCardWarning
from .redact import mask_card, mask_id_card, mask_mobile, mask_name

__all__ = [
    "Applicant",
    "normalize_card_no",
    "normalize_id_card",
    "normalize_mobile",
    "normalize_name",
]

_MOBILE_RE = re.compile(r"1[3-9]\d{9}")
_ID_FORMAT_RE = re.compile(r"\d{17}[\dX]")
_SEPARATORS = re.compile(r"[\s\-]+")


def _require_str(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(
            f"must be a string, got {type(value).__name__}", field=field, rule="type"
        )
    return value


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


def normalize_id_card(
    value: object, field: str = "id_card", *, today: _dt.date | None = None
) -> str:
    """Validate a mainland resident ID (GB 11643) and return it as 18 upper-case characters.

    Spaces are stripped and a trailing ``x`` is upper-cased. The check digit, birth date and
    region code are checked by `stdnum.cn.ric`; a birth date in the future and legacy
    15-digit numbers are rejected too.
    """
    v = _SEPARATORS.sub("", _require_str(value, field)).upper()
    if not v:
        raise InvalidInputError("is empty", field=field, rule="required")
    if len(v) == 15 and v.isdigit():
        raise InvalidInputError(
            "is a legacy 15-digit ID number; providers require the 18-character number "
            "(ask the applicant for their current ID card)",
            field=field,
            rule="legacy_15_digit",
        )
    if len(v) == 18 and not _ID_FORMAT_RE.fullmatch(v):
        raise InvalidInputError(
            "must be 17 digits followed by a digit or X", field=field, rule="format"
        )
    try:
        ric.validate(v)
    except InvalidLength:
        raise InvalidInputError(
            f"must be 18 characters, got {len(v)}", field=field, rule="length"
        ) from None
    except InvalidFormat:
        raise InvalidInputError(
            "must be 17 digits followed by a digit or X", field=field, rule="format"
        ) from None
    except InvalidChecksum:
        raise InvalidInputError(
            f"check digit is wrong ({mask_id_card(v)})", field=field, rule="checksum"
        ) from None
    except InvalidComponent:
        raise InvalidInputError(
            f"has an invalid birth date or region code ({mask_id_card(v)})",
            field=field,
            rule="component",
        ) from None
    except ValidationError:  # pragma: no cover - any other stdnum complaint
        raise InvalidInputError("is not a valid resident ID", field=field, rule="invalid") from None
    if ric.get_birth_date(v) > (today or _dt.date.today()):
        raise InvalidInputError(
            f"birth date is in the future ({mask_id_card(v)})", field=field, rule="future_birth"
        )
    return v


def normalize_mobile(value: object, field: str = "mobile") -> str:
    """Mainland mobile: 11 digits starting ``1[3-9]``; spaces, dashes and ``+86`` are removed."""
    v = _SEPARATORS.sub("", _require_str(value, field))
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
    """Bank card: 12-19 digits after removing spaces and dashes.

    A Luhn failure issues [`UnverifiedCardWarning`][] instead of raising:
    some cards issued in China do not carry a Luhn check digit.
    """
    v = _SEPARATORS.sub("", _require_str(value, field))
    if not v:
        raise InvalidInputError("is empty", field=field, rule="required")
    if not v.isdigit() or not 12 <= len(v) <= 19:
        raise InvalidInputError("must be 12-19 digits", field=field, rule="format")
    if not luhn.is_valid(v):
        warnings.warn(
            f"{field} {mask_card(v)} fails the Luhn check; sending it anyway",
            UnverifiedCardWarning,
            stacklevel=3,
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
        return ric.get_birth_date(self.id_card)

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

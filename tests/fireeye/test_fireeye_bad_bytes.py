"""Bad bytes refused: Unicode digits never reach the wire, dates go out as 8 digits."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from creditsdk import Consent
from creditsdk.errors import InvalidInputError
from creditsdk.fireeye import CardGuard, FireEyeClient
from creditsdk.fireeye._protocol import encode_trans_date, normalize_trans_date

BASE = "https://fireeye.test"
CARD = "6222021234567890128"
WIDE_CARD = "６２２２０２１２３４５６７８９０１２８"
WIDE_ID = "１１０１０５１９４９１２３１００２ｘ"
WIDE_MOBILE = "１３８００１３８０００"
CONSENT = Consent("AUTH1", "credit_underwriting", dt.datetime(2026, 11, 1, 9, 0))


class _Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        data = 700 if request.url.path.endswith("UnionPayModelScore") else 1
        return httpx.Response(200, json={"respCd": "0000", "msg": "ok", "data": data})


def _client(rec: _Recorder, **kw: Any) -> FireEyeClient:
    http = httpx.Client(transport=httpx.MockTransport(rec))
    return FireEyeClient("INST0001", "app-key-0123456789", BASE, http_client=http, **kw)


def _sent(request: httpx.Request) -> dict[str, Any]:
    envelope: dict[str, Any] = json.loads(parse_qs(request.content.decode("ascii"))["data"][0])
    return envelope


@pytest.mark.parametrize("card_guard", [None, True])
def test_full_width_digits_go_out_as_ascii(card_guard: bool | None) -> None:
    # On main the full-width strings were sent as they were, and card_guard=True raised a bare
    # UnicodeEncodeError.
    rec = _Recorder()
    with _client(rec, card_guard=card_guard) as fe:
        fe.verify_transaction(
            WIDE_CARD,
            dt.date(2025, 3, 14),
            Decimal("212.00"),
            consent=CONSENT,
            id_card=WIDE_ID,
            mobile=WIDE_MOBILE,
        )
        fe.model_score(WIDE_CARD, WIDE_ID, WIDE_MOBILE, consent=CONSENT)
    assert len(rec.requests) == 2
    for request in rec.requests:
        assert request.content.isascii()
        data = _sent(request)["data"]
        assert data["cardNo"] == CARD
        assert data["certid"] == "11010519491231002X"
        assert data["mobile"] == "13800138000"
    assert _sent(rec.requests[0])["data"]["transDate"] == "20250314"


@pytest.mark.parametrize("card", ["²" * 16, "٦٢٢٢٠٢١٢٣٤٥٦٧٨٩٠١٢٨"])
def test_non_decimal_and_non_ascii_digit_cards_are_refused_before_io(card: str) -> None:
    rec = _Recorder()
    with _client(rec, card_guard=True) as fe, pytest.raises(InvalidInputError) as info:
        fe.verify_transaction(card, dt.date(2025, 3, 14), Decimal("1.00"), consent=CONSENT)
    assert (info.value.field, info.value.rule) == ("card_no", "format")
    assert rec.requests == []


def test_card_guard_never_raises_unicode_errors() -> None:
    guard = CardGuard()
    guard.admit(WIDE_CARD).not_checked()
    guard.admit("\udcff" * 16).not_checked()  # a lone surrogate: still no UnicodeEncodeError
    assert guard.status(WIDE_CARD) == (0, 0)


@pytest.mark.parametrize(
    "day", [dt.date(1, 1, 1), dt.date(999, 12, 31), dt.date(1999, 12, 31), dt.date(25, 3, 14)]
)
def test_implausible_transaction_dates_are_refused_naming_the_field(day: dt.date) -> None:
    # On main date(1, 1, 1) went out as transDate "10101".
    rec = _Recorder()
    with _client(rec) as fe, pytest.raises(InvalidInputError) as info:
        fe.verify_transaction(CARD, day, Decimal("1.00"), consent=CONSENT)
    assert (info.value.field, info.value.rule) == ("trans_date", "range")
    assert "2000-01-01" in str(info.value)
    assert rec.requests == []


def test_trans_date_range_and_encoding() -> None:
    today = dt.date(2026, 12, 1)
    assert normalize_trans_date(dt.date(2000, 1, 1), today=today) == dt.date(2000, 1, 1)
    assert normalize_trans_date(dt.date(2026, 12, 2), today=today) == dt.date(2026, 12, 2)
    with pytest.raises(InvalidInputError):
        normalize_trans_date(dt.date(2026, 12, 3), today=today)
    assert encode_trans_date(dt.date(2005, 3, 4)) == "20050304"
    assert encode_trans_date(dt.date(1, 1, 1)) == "00010101"  # never "10101"

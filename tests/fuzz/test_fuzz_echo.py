"""Fuzz: whatever a provider answers, an echo of the request's personal values or of the client's
key never comes out of the parsers unmasked — in errors (str, repr, code, transaction id) or in
results (repr, message, transaction id)."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from decimal import Decimal
from typing import Any

from hypothesis import given

from creditsdk import Applicant, Consent
from creditsdk.errors import CreditSDKError
from creditsdk.fireeye import _protocol as fe
from creditsdk.tianyuan import _protocol as ty
from creditsdk.tianyuan.factors import BucketTables

from ._profile import FUZZ
from .source import SEEDS, Source, response

NAME = "欧阳娜娜"
ID_CARD = "11010519491231002X"
MOBILE = "13912345678"
CARD = "6222020000000000000"
APP_KEY = "fuzz-echo-app-key-31415926"
TY_KEY = bytes(range(16))
CONSENT = Consent("AUTH1", "credit_underwriting", dt.datetime(2026, 1, 1))
APPLICANT = Applicant(name=NAME, id_card=ID_CARD, mobile=MOBILE)
CREDS = fe.Credentials("INST", APP_KEY)
FE_OPS = [
    fe.transaction_operation(
        base_url="https://fe.example",
        method="POST",
        creds=CREDS,
        amount_unit="fen",
        card_no=CARD,
        trans_date=dt.date(2025, 3, 14),
        amount=Decimal("1.00"),
        consent=CONSENT,
        id_card=ID_CARD,
        mobile=MOBILE,
    ),
    fe.model_score_operation(
        base_url="https://fe.example",
        method="POST",
        creds=CREDS,
        card_no=CARD,
        id_card=ID_CARD,
        mobile=MOBILE,
        consent=CONSENT,
    ),
]
TY_CONFIG = ty.TianyuanConfig(
    access_id="ty", key=TY_KEY, base_url="https://ty.example", tables=BucketTables.empty()
)


def _register_as_a_client_does() -> None:
    """A client registers its credentials when built and FireEye's on every request; these
    operations were built at import, and the rest of a long test run registers more than the
    1,024 credentials the masking keeps, so register again as a live client would."""
    fe.Credentials("INST", APP_KEY)
    ty.TianyuanConfig(
        access_id="ty", key=TY_KEY, base_url="https://ty.example", tables=BucketTables.empty()
    )


TY_OPS = [
    ty.build_multi_lending_operation(TY_CONFIG, APPLICANT, CONSENT),
    ty.build_call_operation(
        TY_CONFIG, "JRZQ8F7C", {"name": NAME, "id_card": ID_CARD, "mobile_no": MOBILE}, CONSENT
    ),
]
SECRETS = [NAME, ID_CARD, ID_CARD.lower(), MOBILE, CARD, APP_KEY, TY_KEY.hex()]


def _forms(value: str) -> set[str]:
    return {value, urllib.parse.quote(value, safe=""), json.dumps(value)[1:-1]}


TY_FORBIDDEN = set().union(*(_forms(v) for v in SECRETS))
# FireEye is never sent a name: a name it echoes has no pattern and cannot be recognised
# (docs/consent-and-audit.md says so). Everything else must be masked.
FE_FORBIDDEN = set().union(*(_forms(v) for v in SECRETS if v != NAME))


def _echo(src: Source) -> str:
    """Some text with the secrets in it, in some encoding, glued to something."""
    parts = []
    for _ in range(src.int(1, 4)):
        value = src.choice(SECRETS)
        enc = src.choice([lambda v: v, lambda v: urllib.parse.quote(v, safe=""), json.dumps])
        # Digits glued to digits are one longer number: only a value the request carried (the
        # ID number and mobile, for every operation here) is found there, by value.
        glues = ["", " ", "TY", "=", ":", "x", "_", "/", "\u3000", "（"]
        glue = src.choice(glues if value in (ID_CARD, ID_CARD.lower(), MOBILE) else glues[1:])
        parts.append(glue + enc(value) + src.choice(["", " ", ")", "X", "，", "&"]))
    if src.flag():
        parts.insert(0, "x" * src.int(150, 210))  # around the 200-character cut
    return "".join(parts)


def _value(src: Source) -> Any:
    kind = src.byte() % 4
    if kind == 0:
        return _echo(src)
    if kind == 1:
        return {"cardNo": _echo(src), "certid": ID_CARD, "nested": [_echo(src)]}
    if kind == 2:
        return src.json()
    return src.choice([0, 1, "1", 700, None, CARD])


def _texts(outcome: object) -> list[str]:
    if isinstance(outcome, CreditSDKError):
        return [str(outcome), repr(outcome), str(outcome.code), str(outcome.transaction_id)]
    return [repr(outcome), str(getattr(outcome, "message", "")), str(outcome)]


def _run(op: Any, body: dict[str, Any]) -> object:
    try:
        return op.parse_response(response(json.dumps(body, ensure_ascii=False).encode()))
    except CreditSDKError as exc:
        return exc


def _assert_clean(outcome: object, forbidden: set[str]) -> None:
    for text in _texts(outcome):
        leaked = [f for f in forbidden if f in text]
        assert leaked == [], (leaked, text[:300])


@FUZZ
@given(seed=SEEDS)
def test_fireeye_echoes_are_masked(seed: bytes) -> None:
    _register_as_a_client_does()
    src = Source(seed)
    body = {
        "respCd": src.choice(["0000", "0001", "0002", "0003", "0004", CARD, _echo(src)]),
        "msg": _echo(src),
        "data": _value(src),
    }
    for op in FE_OPS:
        _assert_clean(_run(op, body), FE_FORBIDDEN)


@FUZZ
@given(seed=SEEDS)
def test_tianyuan_echoes_are_masked(seed: bytes) -> None:
    _register_as_a_client_does()
    src = Source(seed)
    body = {
        "code": src.choice([0, 1001, 1003, 1007, 2001, 4242]),
        "message": _echo(src),
        "transaction_id": _echo(src),
        "data": "",
    }
    for op in TY_OPS:
        _assert_clean(_run(op, body), TY_FORBIDDEN)

"""Fuzz: FireEye answer parsing lets only creditsdk errors out."""

from __future__ import annotations

from hypothesis import given

from creditsdk.errors import CreditSDKError
from creditsdk.fireeye import _protocol as proto

from ._profile import FUZZ
from .source import SEEDS, Source, response

CARD = "6222020000000000000"
SHAPE = {
    "respCd": ["0000", "0001", "0002", "0003", "0004", 0, 3, True, None, " 0000 "],
    "resp": ["0000", "0003", 1],
    "msg": ["Success", "Failed", 1],
    "data": [0, 1, "0", "1", 300, 1000, "750", 1001, True, None, 0.5, "-1"],
}


@FUZZ
@given(seed=SEEDS)
def test_answers_parse_or_raise_creditsdk_errors(seed: bytes) -> None:
    src = Source(seed)
    answer = response(src.body(SHAPE), src.choice([200, 200, 500]))
    try:
        check = proto.parse_transaction(answer, card=CARD)
    except CreditSDKError:
        pass
    else:
        assert check.matched in (True, False)
    try:
        score = proto.parse_score(answer, card=CARD)
    except CreditSDKError:
        pass
    else:
        assert score.score is None or 300 <= score.score <= 1000  # None: not hit (-1)

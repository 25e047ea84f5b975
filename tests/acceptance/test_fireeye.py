"""FireEye client ⇄ FireEye sandbox: real loopback HTTP (sync, async, TLS) and in-process."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import Iterator
from decimal import Decimal

import pytest

from creditsdk import Consent, MemoryAuditSink
from creditsdk.errors import (
    AuthenticationError,
    ProductNotEnabledError,
    ProviderError,
    ResponseIntegrityError,
)
from creditsdk.fireeye import CardGuard, CardGuardError, FireEyeClient, FireEyeScore
from creditsdk.sandbox import Sandbox

CARD = "6222021234567890128"
ID_CARD = "11010519491231002X"
MOBILE = "13800138000"


@pytest.fixture
def consent() -> Consent:
    return Consent(
        reference="AUTH20261101001",
        purpose="credit_underwriting",
        granted_at=dt.datetime(2026, 11, 1, 9, 0),
    )


@pytest.fixture(scope="module")
def served() -> Iterator[Sandbox]:
    with Sandbox(providers=["fireeye"]) as sb:
        yield sb


@pytest.fixture
def sb(served: Sandbox) -> Sandbox:
    served.clear_ledger()
    served.fireeye.enabled = {"transaction_auth", "model_score"}
    served.fireeye.amount_unit = "fen"
    served.fireeye.score_code_field = "resp"
    return served


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("unit", ["fen", "yuan"])
def test_verify_transaction_over_loopback(
    sb: Sandbox, consent: Consent, method: str, unit: str
) -> None:
    sb.fireeye.amount_unit = unit
    real = sb.fireeye.transactions(CARD)[0]
    with sb.fireeye_client(method=method) as fe:
        assert fe.amount_unit == unit  # the sandbox wires its own unit into its clients
        found = fe.verify_transaction(CARD, real.date, real.amount, consent=consent)
        wrong_place = fe.verify_transaction(
            CARD, real.date, real.amount, consent=consent, location="拉萨"
        )
        unknown = fe.verify_transaction(
            CARD, real.date, real.amount + Decimal("0.01"), consent=consent
        )
    assert (found.matched, found.reason) == (True, None)
    assert (wrong_place.matched, wrong_place.reason) == (False, "details do not match")
    assert (unknown.matched, unknown.reason, unknown.code) == (False, "no such transaction", "0003")
    assert [(e.operation, e.details["result"]) for e in sb.ledger("fireeye")] == [
        ("transaction_auth", "match"),
        ("transaction_auth", "mismatch"),
        ("transaction_auth", "no_such_transaction"),
    ]


def test_added_transaction_with_cardholder_details(sb: Sandbox, consent: Consent) -> None:
    day = dt.date(2016, 12, 1)
    sb.fireeye.add_transaction(CARD, day, Decimal("212.00"), id_card=ID_CARD, mobile=MOBILE)
    with sb.fireeye_client() as fe:
        ok = fe.verify_transaction(CARD, day, Decimal("212"), consent=consent, id_card=ID_CARD)
        other = fe.verify_transaction(
            CARD, day, Decimal("212"), consent=consent, mobile="13900139000"
        )
    assert (ok.matched, other.matched) == (True, False)


@pytest.mark.parametrize(("client_unit", "sandbox_unit"), [("yuan", "fen"), ("fen", "yuan")])
def test_unit_disagreement_shows_as_no_such_transaction(
    sb: Sandbox, consent: Consent, client_unit: str, sandbox_unit: str
) -> None:
    sb.fireeye.amount_unit = sandbox_unit
    real = sb.fireeye.transactions(CARD)[0]
    with sb.fireeye_client(amount_unit=client_unit) as fe:
        check = fe.verify_transaction(CARD, real.date, real.amount, consent=consent)
    assert (check.matched, check.reason) == (False, "no such transaction")


@pytest.mark.parametrize("code_field", ["resp", "respCd"])
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_model_score_over_loopback(
    sb: Sandbox, consent: Consent, code_field: str, method: str
) -> None:
    sb.fireeye.score_code_field = code_field
    with sb.fireeye_client(method=method) as fe:
        score = fe.model_score(CARD, ID_CARD, MOBILE, consent=consent)
        again = fe.model_score(CARD, ID_CARD, MOBILE, consent=consent)
    assert score == again
    assert score == FireEyeScore(
        sb.fireeye.score_for(CARD, ID_CARD, MOBILE), card="6222***********0128"
    )
    assert 300 <= score.score <= 1000
    assert [e.operation for e in sb.ledger("fireeye")] == ["model_score", "model_score"]


def test_refusals_end_to_end_are_typed_and_unbilled(sb: Sandbox, consent: Consent) -> None:
    with sb.fireeye_client(app_key="not-the-key") as fe, pytest.raises(AuthenticationError) as auth:
        fe.model_score(CARD, ID_CARD, MOBILE, consent=consent)
    assert auth.value.code == "0002"
    sb.fireeye.enabled = {"model_score"}
    with sb.fireeye_client() as fe, pytest.raises(ProductNotEnabledError) as off:
        fe.verify_transaction(CARD, dt.date(2025, 1, 1), Decimal("1.00"), consent=consent)
    assert off.value.code == "0001"
    sb.fireeye.fail_next("0004")
    with sb.fireeye_client() as fe, pytest.raises(ProviderError) as broken:
        fe.model_score(CARD, ID_CARD, MOBILE, consent=consent)
    assert (type(broken.value), broken.value.code, broken.value.attempts) == (
        ProviderError,
        "0004",
        1,
    )
    sb.fireeye.fail_next("0099")
    with sb.fireeye_client() as fe, pytest.raises(ProviderError) as odd:
        fe.model_score(CARD, ID_CARD, MOBILE, consent=consent)
    assert odd.value.code == "0099"
    assert sb.ledger("fireeye") == []


def test_card_guard_end_to_end(sb: Sandbox, consent: Consent) -> None:
    real = sb.fireeye.transactions(CARD)[0]
    guard = CardGuard(clock=lambda: dt.date(2026, 11, 22))
    with sb.fireeye_client(card_guard=guard) as fe:
        for _ in range(10):
            assert fe.verify_transaction(CARD, real.date, real.amount, consent=consent).matched
        with pytest.raises(CardGuardError):
            fe.verify_transaction(CARD, real.date, real.amount, consent=consent)
    assert len(sb.ledger("fireeye")) == 10  # the 11th never reached UnionPay


def test_audit_trail_matches_the_ledger(sb: Sandbox, consent: Consent) -> None:
    sink = MemoryAuditSink()
    real = sb.fireeye.transactions(CARD)[1]
    with sb.fireeye_client(audit=sink) as fe:
        fe.verify_transaction(CARD, real.date, real.amount, consent=consent)
        fe.verify_transaction(CARD, real.date, Decimal("0.01"), consent=consent)
        fe.model_score(CARD, ID_CARD, MOBILE, consent=consent)
    assert [(e.operation, e.outcome) for e in sink.events] == [
        ("transaction_auth", "success"),
        ("transaction_auth", "no_data"),
        ("model_score", "success"),
    ]
    assert [e.operation for e in sb.ledger("fireeye")] == [e.operation for e in sink.events]


async def test_async_client_over_loopback(sb: Sandbox, consent: Consent) -> None:
    real = sb.fireeye.transactions(CARD)[2]
    async with sb.async_fireeye_client(method="GET") as fe:
        checks = await asyncio.gather(
            fe.verify_transaction(CARD, real.date, real.amount, consent=consent),
            fe.verify_transaction(CARD, real.date, real.amount * 2, consent=consent),
            fe.model_score(CARD, ID_CARD, MOBILE, consent=consent),
        )
    assert checks[0].matched is True  # type: ignore[union-attr]
    assert checks[1].reason == "no such transaction"  # type: ignore[union-attr]
    assert checks[2].score == sb.fireeye.score_for(CARD, ID_CARD, MOBILE)  # type: ignore[union-attr]
    assert len(sb.ledger("fireeye")) == 3


async def test_async_refusal_over_loopback(sb: Sandbox, consent: Consent) -> None:
    async with sb.async_fireeye_client(institution_id="NOBODY") as fe:
        with pytest.raises(AuthenticationError):
            await fe.model_score(CARD, ID_CARD, MOBILE, consent=consent)


def test_in_process_sandbox(consent: Consent) -> None:
    sb = Sandbox(providers=["fireeye"], seed=11)
    real = sb.fireeye.transactions(CARD)[0]
    with sb.fireeye_client() as fe:
        assert fe.base_url == "http://sandbox.invalid"
        assert fe.verify_transaction(CARD, real.date, real.amount, consent=consent).matched
        assert fe.model_score(CARD, ID_CARD, MOBILE, consent=consent).score == sb.fireeye.score_for(
            CARD, ID_CARD, MOBILE
        )
    assert len(sb.ledger("fireeye")) == 2
    sb.stop()


async def test_in_process_sandbox_async(consent: Consent) -> None:
    sb = Sandbox(providers=["fireeye"])
    async with sb.async_fireeye_client() as fe:
        score = await fe.model_score(CARD, ID_CARD, MOBILE, consent=consent)
    assert score.score == sb.fireeye.score_for(CARD, ID_CARD, MOBILE)
    sb.stop()


def test_over_tls(consent: Consent) -> None:
    pytest.importorskip("trustme")
    with Sandbox(providers=["fireeye"], tls=True) as sb:
        assert sb.base_url.startswith("https://")
        # an SSLContext rather than the CA path: httpx deprecates verify=<str>
        verify = ssl.create_default_context(cafile=sb.ca_bundle)
        with sb.fireeye_client(verify=verify) as fe:
            assert 300 <= fe.model_score(CARD, ID_CARD, MOBILE, consent=consent).score <= 1000


def test_a_client_built_by_hand_works_against_the_sandbox(sb: Sandbox, consent: Consent) -> None:
    real = sb.fireeye.transactions(CARD)[0]
    with FireEyeClient(
        institution_id=sb.fireeye.institution_id,
        app_key=sb.fireeye.app_key,
        base_url=sb.base_url,
        method="GET",
    ) as fe:
        assert fe.verify_transaction(CARD, real.date, real.amount, consent=consent).matched


def test_garbled_answer_is_integrity_error(sb: Sandbox, consent: Consent) -> None:
    # A sandbox configured to a wrong score range would be caught by the client.
    sb.fireeye.score_for = lambda *_a: 1200  # type: ignore[method-assign]
    try:
        with sb.fireeye_client() as fe, pytest.raises(ResponseIntegrityError) as info:
            fe.model_score(CARD, ID_CARD, MOBILE, consent=consent)
    finally:
        del sb.fireeye.score_for
    assert info.value.maybe_billed is True
    assert len(sb.ledger("fireeye")) == 1  # the provider billed it: the error says so

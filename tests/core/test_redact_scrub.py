"""The one masking pass (``scrub_text``): what it finds, what it leaves alone, and that every
error, log record and audit event goes through it."""

from __future__ import annotations

import json
import logging
import pickle
import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditsdk import AuditEvent
from creditsdk._core.redact import (
    looks_personal,
    mask_personal,
    personal_kind,
    register_secret,
    scrub_text,
)
from creditsdk.errors import CreditSDKError, ProviderError, TransportError

ID_CARD = "11010519491231002X"
MOBILE = "13912345678"
CARD = "6222020000000000000"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The cases: plain, inside transaction ids glued to letters, grouped.
        (
            f"id={ID_CARD} tel {MOBILE} card:{CARD}.",
            "id=110105********002X tel 139****5678 card:6222***********0000.",
        ),
        (f"TY{CARD}X01", "TY6222***********0000X01"),
        (f"TY{ID_CARD}{MOBILE}", "TY110105********002X139****5678"),
        ("card 6222 0200 0000 0000 000 end", "card 6222***********0000 end"),
        ("tel 139-1234-5678", "tel 139****5678"),
        ("+8613912345678 / 008613912345678", "+86139****5678 / 0086139****5678"),
        ("legacy 110105491231002", "legacy 110105*****1002"),
        ("Amex 378282246310005", "Amex 3782*******0005"),
        ("MC 2-series 2221000000000009", "MC 2-series 2221********0009"),
        # Full-width and other Unicode digits in an echo are found too.
        ("１１０１０５１９４９１２３１００２Ｘ", "110105********002X"),
        ("١٣٩١٢٣٤٥٦٧٨", "139****5678"),
        # URL-encoded: %22 glues hex digits to the value; the decoded text is looked at.
        (
            urllib.parse.quote(json.dumps({"cardNo": CARD, "certid": ID_CARD})),
            '{"cardNo": "6222***********0000", "certid": "110105********002X"}',
        ),
    ],
)
def test_scrub_text_finds_personal_numbers(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "1764633600000",  # a millisecond timestamp (13 digits, starts with 1)
        "20261201123456",  # yyyymmddHHMMSS
        "2026120112345678901",  # 19 digits, a date prefix: a provider's serial, not a card
        "TYSB000001ABCDEF0123456789",  # the Sandbox's transaction ids
        "T2026120100000000012345",  # a long serial: digits glued to digits
        "12345678901",  # 11 digits starting 12: not a mobile
        "081234567890123",  # leading zero: no issuer
        "amount 100.00, 2026-12-01 09:30:00, code 0004",
        "110105 is a region",
    ],
)
def test_scrub_text_leaves_ids_and_timestamps_readable(text: str) -> None:
    assert scrub_text(text) == text


def test_a_mobile_inside_a_longer_digit_run_is_left_alone() -> None:
    assert scrub_text("TY2026120113912345678") == "TY2026120113912345678"
    # … unless the SDK knows it: values it sent are masked by value, wherever they are.
    assert scrub_text("TY2026120113912345678", values=[MOBILE]) == "TY20261201139****5678"


def test_known_values_and_names_are_masked_in_every_encoding() -> None:
    name = "张三丰"
    text = " ".join([name, json.dumps(name)[1:-1], urllib.parse.quote(name), "x" * 5, f"{MOBILE}0"])
    out = scrub_text(text, names=[name], values=[MOBILE])
    assert name not in out
    assert json.dumps(name)[1:-1] not in out
    assert urllib.parse.quote(name) not in out
    assert MOBILE not in out
    assert out.count("张**") == 3


def test_masking_happens_before_truncating() -> None:
    # On main a name cut at the limit escaped the name mask ("张三" of "张三丰").
    text = "x" * 198 + "张三丰"
    out = scrub_text(text, names=["张三丰"], limit=200)
    assert len(out) == 200
    assert "张三" not in out


def test_registered_secrets_are_masked_by_value_in_every_encoding() -> None:
    key = "hostile-app-key/+=%42"
    register_secret(key)
    for form in (key, urllib.parse.quote(key, safe=""), urllib.parse.quote_plus(key)):
        assert scrub_text(f"appKey={form};") == "appKey=<redacted>;"
    pem = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END"
    register_secret(pem)
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in scrub_text(
        "k MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"
    )
    assert scrub_text("short", ["short"]) == "short"  # < 6 characters: never a secret


def test_a_flood_of_tokens_never_pushes_a_credential_out() -> None:
    """A long-lived client's key stays masked after a batch's worth of access tokens (each
    Sesame user brings one): on main the 1,025th token unregistered the oldest credential."""
    key = "long-lived-app-key-27182818"
    register_secret(key)
    tokens = [f"tok-{i:06d}-abcdef" for i in range(3000)]
    for token in tokens:
        register_secret(token, ephemeral=True)
    assert scrub_text(f"appKey={key}") == "appKey=<redacted>"
    assert scrub_text(tokens[-1]) == "<redacted>"  # the recent tokens are masked
    assert scrub_text(tokens[0]) == tokens[0]  # the oldest were let go: memory stays bounded


@pytest.mark.parametrize(
    ("value", "kind", "masked"),
    [
        (ID_CARD, "id_card", "110105********002X"),
        ("139 1234 5678", "mobile", "139****5678"),
        ("+86 139-1234-5678", "mobile", "+86139****5678"),
        ("6222 0200 0000 0000 000", "card_no", "6222***********0000"),
        ("1764633600000", None, "1764633600000"),
        ("L-1004", None, "L-1004"),
        ("", None, ""),
    ],
)
def test_whole_values_for_the_batch_writer(value: str, kind: str | None, masked: str) -> None:
    assert looks_personal(value) is (kind is not None)
    assert personal_kind(value.replace(" ", "").replace("-", "").lstrip("+")) == kind
    assert mask_personal(value) == masked


@given(st.text(max_size=80))
def test_scrub_text_is_total_and_idempotent(text: str) -> None:
    once = scrub_text(text)
    assert scrub_text(once) == once


@given(
    st.sampled_from([ID_CARD, MOBILE, CARD, "110105491231002", "4111111111111111"]),
    st.text(alphabet="abcXYZ _-:=,;()[]{}\"'/", max_size=8),
    st.text(alphabet="abcYZ _:=,;()[]{}\"'/", max_size=8),
)
def test_a_personal_number_between_non_digits_never_survives(
    value: str, before: str, after: str
) -> None:
    # ``after`` has no X and no dash/space followed by digits: nothing can extend the number.
    assert value not in scrub_text(before + value + after)


# -- every error, at construction ----------------------------------------------------------


def test_error_messages_codes_and_transaction_ids_are_masked_whoever_sets_them() -> None:
    err = ProviderError(f"echo {ID_CARD} {MOBILE} {CARD}", code=CARD, transaction_id=f"T{ID_CARD}")
    text = str(err) + repr(err) + repr(err.args) + (err.code or "") + (err.transaction_id or "")
    for value in (ID_CARD, MOBILE, CARD):
        assert value not in text
    err.transaction_id = f"later {MOBILE}"
    err.message = f"changed {CARD}"
    err.sub_msg = f"sub {ID_CARD}"  # type: ignore[attr-defined]
    assert MOBILE not in str(err)
    assert CARD not in str(err)
    assert CARD not in err.args[0]
    assert ID_CARD not in err.sub_msg  # type: ignore[attr-defined]
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == str(err)


def test_every_error_class_masks(caplog: pytest.LogCaptureFixture) -> None:
    for cls in (CreditSDKError, TransportError, ProviderError):
        assert CARD not in str(cls(f"card {CARD}"))


def test_the_sdk_loggers_and_httpx_mask_records_at_the_source(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from creditsdk._core.redact import install_log_filters

    install_log_filters()  # httpx's logger: what the first client does (not at import)
    try:
        raise ValueError(f"boom {CARD}")
    except ValueError:
        exc_info = True
    with caplog.at_level(logging.DEBUG):
        for name in ("creditsdk", "creditsdk.audit", "httpx"):
            logger = logging.getLogger(name)
            logger.debug("applicant %s mobile %s", ID_CARD, MOBILE)
            try:
                raise ValueError(f"boom {CARD}")
            except ValueError:
                logger.exception("failed", exc_info=exc_info)
    text = caplog.text + "".join(r.getMessage() for r in caplog.records)
    for value in (ID_CARD, MOBILE, CARD):
        assert value not in text
    assert "110105********002X" in text


def test_audit_events_are_masked() -> None:
    event = AuditEvent(
        provider="tianyuan",
        operation="JRZQ9E2A",
        outcome="provider_error",
        attempts=1,
        maybe_billed=False,
        applicant={"id_card": ID_CARD},
        consent_reference=f"AUTH-{ID_CARD}",
        transaction_id=f"TY{CARD}",
        error_code=MOBILE,
    )
    text = (
        repr(event) + json.dumps(event.to_dict()) + json.dumps(event.to_dict(), ensure_ascii=False)
    )
    for value in (ID_CARD, MOBILE, CARD):
        assert value not in text

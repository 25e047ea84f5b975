"""The Sesame sandbox's own rules, in-process (no port): codes, tokens, billing, refusals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest
from Crypto.PublicKey import RSA

from creditsdk import Applicant, Consent
from creditsdk.errors import AuthenticationError, ConfigurationError, ResponseIntegrityError
from creditsdk.sandbox import Sandbox
from creditsdk.sesame import (
    AuthorizationDeniedError,
    AuthorizationRevokedError,
    Grant,
    SesameClient,
)


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(providers=["sesame"], seed=11)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def zm(sb: Sandbox) -> Iterator[SesameClient]:
    with sb.sesame_client() as client:
        yield client


def _grant(sb: Sandbox, zm: SesameClient, **approve: str) -> Grant:
    back = sb.sesame.approve(zm.authorization_url("https://l.example/cb", "st"), **approve)
    return zm.exchange_code(zm.parse_redirect(back, "st"))


def test_deterministic_per_seed() -> None:
    a, b, c = Sandbox(seed=5), Sandbox(seed=5), Sandbox(seed=6)
    assert a.sesame.app_id == b.sesame.app_id != c.sesame.app_id
    assert a.sesame.alipay_public_key == b.sesame.alipay_public_key
    assert a.sesame.app_private_key == b.sesame.app_private_key
    assert a.sesame.default_user_id == b.sesame.default_user_id != c.sesame.default_user_id
    ua, ub = a.sesame.users[a.sesame.default_user_id], b.sesame.users[b.sesame.default_user_id]
    assert ua.score == ub.score
    assert ua.score is not None
    assert 350 <= ua.score <= 950


def test_keys_can_be_given(consent: Consent) -> None:
    app, alipay = RSA.generate(1024), RSA.generate(1024)
    sb = Sandbox(
        providers=["sesame"],
        options={
            "sesame": {
                "app_id": "2021009",
                "app_private_key": app.export_key().decode(),
                "alipay_private_key": alipay.export_key().decode(),
            }
        },
    )
    assert sb.sesame.app_id == "2021009"
    assert RSA.import_key(sb.sesame.alipay_public_key).n == alipay.n
    assert RSA.import_key(sb.sesame.app_public_key).n == app.n
    with sb.sesame_client() as zm:
        assert zm.score(_grant(sb, zm), consent=consent).score is not None


def test_codes_are_single_use_and_expire(sb: Sandbox, zm: SesameClient) -> None:
    url = zm.authorization_url("https://l.example/cb", "st")
    code = zm.parse_redirect(sb.sesame.approve(url), "st")
    zm.exchange_code(code)
    with pytest.raises(AuthenticationError) as info:
        zm.exchange_code(code)
    assert getattr(info.value, "sub_code", None) == "isv.code-invalid"
    late = zm.parse_redirect(sb.sesame.approve(url), "st")
    sb.sesame.advance(sb.sesame.code_ttl + 1)
    with pytest.raises(AuthenticationError):
        zm.exchange_code(late)


def test_token_expiry_refresh_and_rotation(sb: Sandbox, zm: SesameClient, consent: Consent) -> None:
    grant = _grant(sb, zm)
    assert grant.user_id == sb.sesame.default_user_id
    sb.sesame.advance(sb.sesame.token_ttl + 1)
    with pytest.raises(AuthenticationError) as info:
        zm.score(grant, consent=consent)
    assert info.value.code == "20001"
    fresh = zm.refresh(grant)
    assert fresh.access_token != grant.access_token
    assert zm.score(fresh, consent=consent).score is not None
    with pytest.raises(AuthenticationError) as again:
        zm.refresh(grant)  # the old refresh token was rotated out
    assert getattr(again.value, "sub_code", None) == "isv.refresh-token-invalid"


def test_repeat_transaction_id_is_answered_once_and_billed_once(
    sb: Sandbox, zm: SesameClient, consent: Consent
) -> None:
    grant = _grant(sb, zm)
    sb.sesame.set_score(grant.user_id, 702)
    first = zm.score(grant, consent=consent, transaction_id="txn_once")
    sb.sesame.set_score(grant.user_id, 500)
    again = zm.score(grant, consent=consent, transaction_id="txn_once")
    assert first == again
    assert first.score == 702
    [entry] = sb.ledger("sesame")
    assert (entry.operation, entry.transaction_id) == ("zhima.credit.score.get", "txn_once")
    assert grant.user_id not in str(entry.details)
    assert entry.details["result"] == "scored"
    sb.sesame.advance(24 * 3600 + 1)
    grant = zm.refresh(grant)  # the access token has expired by now too
    assert zm.score(grant, consent=consent, transaction_id="txn_once").score == 500
    assert len(sb.ledger("sesame")) == 2


def test_na_score_and_revocation(sb: Sandbox, zm: SesameClient, consent: Consent) -> None:
    grant = _grant(sb, zm)
    sb.sesame.set_score(grant.user_id, None)
    assert zm.score(grant, consent=consent).score is None
    assert sb.ledger("sesame")[-1].details["result"] == "N/A"
    sb.sesame.revoke(grant.user_id)
    with pytest.raises(AuthorizationRevokedError) as info:
        zm.score(grant, consent=consent)
    assert "revoked" in str(info.value)
    assert len(sb.ledger("sesame")) == 1
    assert zm.authorization_status(grant).authorized is False


def test_deny_plays_the_user_saying_no(sb: Sandbox, zm: SesameClient) -> None:
    back = sb.sesame.deny(zm.authorization_url("https://l.example/cb", "st"))
    assert "auth_code" not in back
    with pytest.raises(AuthorizationDeniedError):
        zm.parse_redirect(back, "st")


def test_authorization_status_by_applicant(
    sb: Sandbox, zm: SesameClient, applicant: Applicant
) -> None:
    assert zm.authorization_status(applicant).authorized is False
    _grant(sb, zm, user_id="2088000000000042", id_card=applicant.id_card)
    status = zm.authorization_status(applicant)
    assert status.authorized is True
    assert status.open_id is not None
    assert status.open_id not in repr(status)


def test_admittance_threshold_and_ledger(
    sb: Sandbox, zm: SesameClient, consent: Consent, applicant: Applicant
) -> None:
    sb.sesame.add_user("2088000000000007", score=640, id_card=applicant.id_card)
    assert zm.admittance(applicant, 640, consent=consent).admitted is True
    assert zm.admittance(applicant, 641, consent=consent).admitted is False
    details = [e.details for e in sb.ledger("sesame")]
    assert [d["result"] for d in details] == ["Y", "N"]
    assert all(d["cert_no"] == "110105********002X" for d in details)
    sb.sesame.set_score("2088000000000007", None)
    assert zm.admittance(applicant, 600, consent=consent).admitted is None


def test_wrong_app_key_app_id_and_timestamp_are_refused(sb: Sandbox, consent: Consent) -> None:
    base = dict(
        app_id=sb.sesame.app_id,
        app_private_key=sb.sesame.app_private_key,
        alipay_public_key=sb.sesame.alipay_public_key,
        gateway_url="http://sandbox.invalid/gateway.do",
        http_client=httpx.Client(transport=sb.transport()),
    )
    cases = [
        ({"app_private_key": RSA.generate(1024).export_key().decode()}, "isv.invalid-signature"),
        ({"app_id": "2021000000000999"}, "isv.invalid-app-id"),
        (
            {"clock": lambda: dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)},
            "isv.invalid-timestamp",
        ),
    ]
    for change, sub_code in cases:
        with SesameClient(**{**base, **change}) as zm, pytest.raises(AuthenticationError) as info:  # type: ignore[arg-type]
            zm.exchange_code("whatever")
        assert (info.value.code, getattr(info.value, "sub_code", None)) == ("40002", sub_code)


def test_client_with_the_wrong_alipay_key_refuses_sandbox_answers(sb: Sandbox) -> None:
    with (
        SesameClient(
            app_id=sb.sesame.app_id,
            app_private_key=sb.sesame.app_private_key,
            alipay_public_key=RSA.generate(1024).public_key().export_key().decode(),
            gateway_url="http://sandbox.invalid/gateway.do",
            http_client=httpx.Client(transport=sb.transport()),
        ) as zm,
        pytest.raises(ResponseIntegrityError),
    ):
        zm.exchange_code("whatever")


def test_encrypted_biz_content_round_trip(sb: Sandbox, consent: Consent) -> None:
    with sb.sesame_client(encrypt_key=sb.sesame.encrypt_key) as zm:
        grant = _grant(sb, zm)
        sb.sesame.set_score(grant.user_id, 777)
        assert zm.score(grant, consent=consent, transaction_id="txn_aes").score == 777
    assert sb.ledger("sesame")[-1].transaction_id == "txn_aes"


def test_sandbox_knobs_refuse_unknown_things(sb: Sandbox) -> None:
    with pytest.raises(ConfigurationError):
        sb.sesame.revoke("2088999999999999")
    with pytest.raises(ConfigurationError):
        sb.sesame.approve("http://x/oauth?app_id=other&scope=auth_zhima&redirect_uri=https://l/")


def test_rsa_sha1_sign_type_round_trip(sb: Sandbox, consent: Consent) -> None:
    with sb.sesame_client(sign_type="RSA") as zm:
        grant = _grant(sb, zm)
        assert zm.score(grant, consent=consent).score is not None


def test_logs_and_audit_carry_no_tokens_or_signatures(
    sb: Sandbox, consent: Consent, caplog: pytest.LogCaptureFixture
) -> None:
    from creditsdk._core.consent import MemoryAuditSink

    sink = MemoryAuditSink()
    with caplog.at_level("DEBUG", logger="creditsdk"), sb.sesame_client(audit=sink) as zm:
        grant = _grant(sb, zm)
        score = zm.score(grant, consent=consent)
    assert caplog.text  # the transport did log the calls
    for secret in (grant.access_token, grant.refresh_token or "?", "sign="):
        assert secret not in caplog.text
        assert secret not in repr(sink.events)
    [event] = sink.events
    assert (event.operation, event.transaction_id) == ("score", score.transaction_id)
    assert event.consent_reference == consent.reference


def test_answer_signer_openssl_and_pycryptodome_give_the_same_bytes() -> None:
    pytest.importorskip("cryptography")
    from Crypto.Hash import SHA1, SHA256
    from Crypto.PublicKey import RSA
    from Crypto.Signature import pkcs1_15

    from creditsdk.sesame.sandbox import _AnswerSigner, _seeded_key

    key = _seeded_key(0, "alipay")
    signer = _AnswerSigner(key)
    assert signer._openssl is not None  # the fast path is the one under test
    message = b'{"code":"10000","msg":"Success","zm_score":"750"}'
    for sha1, digest in ((False, SHA256), (True, SHA1)):
        expected = pkcs1_15.new(key).sign(digest.new(message))
        assert signer.sign(message, sha1=sha1) == expected
    public = RSA.import_key(key.public_key().export_key())
    pkcs1_15.new(public).verify(SHA256.new(message), signer.sign(message, sha1=False))

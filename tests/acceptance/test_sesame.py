"""Sesame client ⇄ Sandbox over real loopback HTTP: the whole user-authorization flow."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from creditsdk import Consent, RetryPolicy
from creditsdk.errors import AuthenticationError
from creditsdk.sandbox import Sandbox
from creditsdk.sesame import AsyncSesameClient, AuthorizationRevokedError, SesameClient

CONSENT = Consent(
    reference="AUTH20251210001",
    purpose="credit_underwriting",
    granted_at=dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.timezone.utc),
)


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(providers=["sesame"], seed=1) as sandbox:
        yield sandbox


def test_sync_flow_over_loopback(sb: Sandbox) -> None:
    assert sb.sesame.gateway_url.startswith(sb.base_url)
    with sb.sesame_client(retry=RetryPolicy(initial_backoff=0)) as zm:
        assert isinstance(zm, SesameClient)
        url = zm.authorization_url("https://lender.example/cb", state="order-42")
        assert url.startswith(sb.sesame.authorize_url)
        back = sb.sesame.approve(url)
        grant = zm.exchange_code(zm.parse_redirect(back, expected_state="order-42"))
        sb.sesame.set_score(grant.user_id, 688)
        before = len(sb.ledger("sesame"))
        score = zm.score(grant, consent=CONSENT)
        assert score.score == 688
        assert zm.score(grant, consent=CONSENT, transaction_id=score.transaction_id) == score
        assert len(sb.ledger("sesame")) == before + 1
        assert sb.ledger("sesame")[-1].transaction_id == score.transaction_id
        assert zm.authorization_status(grant).authorized is True
        sb.sesame.revoke(grant.user_id)
        with pytest.raises(AuthorizationRevokedError):
            zm.score(grant, consent=CONSENT)


def test_authorize_page_over_http(sb: Sandbox) -> None:
    with sb.sesame_client() as zm, httpx.Client() as browser:
        url = zm.authorization_url("https://lender.example/cb?x=1", state="s-9")
        page = browser.get(url)
        assert page.status_code == 200
        assert 'value="approve"' in page.text
        action = url.split(sb.base_url, 1)[1]
        yes = browser.post(sb.base_url + action, data={"decision": "approve"})
        assert yes.status_code == 302
        location = yes.headers["location"]
        query = parse_qs(urlsplit(location).query)
        assert query["x"] == ["1"]
        assert query["state"] == ["s-9"]
        grant = zm.exchange_code(zm.parse_redirect(location, "s-9"))
        assert grant.user_id == sb.sesame.default_user_id
        no = browser.post(sb.base_url + action, data={"decision": "deny"})
        assert "error=access_denied" in no.headers["location"]
        assert browser.get(url.replace("app_id=", "app_id=x")).status_code == 400


async def test_async_flow_over_loopback(sb: Sandbox) -> None:
    async with sb.async_sesame_client() as zm:
        assert isinstance(zm, AsyncSesameClient)
        user = sb.sesame.add_user(score=None)
        back = sb.sesame.approve(zm.authorization_url("https://l.example/cb", "a1"), user_id=user)
        grant = await zm.exchange_code(zm.parse_redirect(back, "a1"))
        assert grant.user_id == user
        score = await zm.score(grant, consent=CONSENT)
        assert score.score is None
        grant2 = await zm.refresh(grant)
        assert (await zm.authorization_status(grant2)).authorized is True
        with pytest.raises(AuthenticationError):
            await zm.refresh(grant)


def test_in_process_sandbox_without_a_port() -> None:
    sandbox = Sandbox(providers=["sesame"], seed=1)
    try:
        with sandbox.sesame_client() as zm:
            url = zm.authorization_url("https://l.example/cb", "p")
            grant = zm.exchange_code(zm.parse_redirect(sandbox.sesame.approve(url), "p"))
            assert zm.score(grant, consent=CONSENT).score is not None
            assert len(sandbox.ledger("sesame")) == 1
    finally:
        sandbox.stop()


async def test_cert_mode_async_flow_with_watchlist() -> None:
    pytest.importorskip("cryptography")
    from creditsdk import Applicant

    person = Applicant(name="张三", id_card="11010519491231002X", mobile="13800138000")
    with Sandbox(providers=["sesame"], seed=2, options={"sesame": {"cert_mode": True}}) as sb:
        sb.sesame.set_watchlist(person.id_card, 1)
        async with sb.async_sesame_client() as zm:
            assert zm.cert_mode
            back = sb.sesame.approve(zm.authorization_url("https://l.example/cb", "c1"))
            grant = await zm.exchange_code(zm.parse_redirect(back, "c1"))
            assert (await zm.score(grant, consent=CONSENT)).score is not None
            watch = await zm.watchlist(person, consent=CONSENT, product_code="w1010100000000009999")
            assert (watch.level, watch.listed) == (1, True)
        assert [e.operation for e in sb.ledger("sesame")] == [
            "zhima.credit.score.get",
            "zhima.credit.watchlist.brief.get",
        ]

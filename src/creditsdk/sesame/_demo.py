"""Sesame's part of ``creditsdk demo``: authorization URL → the Sandbox plays the user saying
yes → code → grant → score (declared in this package's spec)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from .._core.redact import mask_secret
from .._spec import DemoStep, Sample
from .models import mask_user_id

__all__ = ["STEP"]

REDIRECT_URI = "https://lender.example/sesame/callback"
STATE = "demo-order-42"


def collect(sb: Any, sample: Sample, **_: Any) -> dict[str, Any]:
    with sb.sesame_client() as zm:
        url = zm.authorization_url(REDIRECT_URI, state=STATE)
        redirected_to = sb.sesame.approve(url)  # the sandbox plays the user saying yes
        code = zm.parse_redirect(redirected_to, expected_state=STATE)
        grant = zm.exchange_code(code)
        zscore = zm.score(grant, consent=sample.consent)
    parts = urlsplit(url)
    return {
        "authorization_url": f"{parts.scheme}://{parts.netloc}{parts.path}",
        "redirect_uri": REDIRECT_URI,
        "state": STATE,
        "auth_code": mask_secret(code),
        "user_id": mask_user_id(grant.user_id),
        "access_token": mask_secret(grant.access_token),
        "grant_expires_at": grant.expires_at.isoformat(),
        "score": zscore.score,
        "score_range": [350, 950],
        "transaction_id": zscore.transaction_id,
    }


def render_plain(zm: Mapping[str, Any], w: Callable[[str], Any]) -> None:
    w("Sesame (Zhima)\n")
    w(f"  authorization URL: {zm['authorization_url']}?…  → user approves (simulated)\n")
    w(f"  code → grant for user {zm['user_id']} (token {zm['access_token']})\n")
    w(f"  Zhima score: {zm['score'] if zm['score'] is not None else 'N/A'} (350-950)")
    w(f"  transaction {zm['transaction_id']}\n\n")


def render_rich(zm: Mapping[str, Any], console: Any) -> None:
    from rich import box
    from rich.table import Table

    table = Table(title="Sesame (Zhima)", box=box.SIMPLE_HEAVY, title_justify="left")
    table.add_column("step")
    table.add_column("result")
    table.add_row("authorization URL", f"{zm['authorization_url']}?…")
    table.add_row("user", "approves on the (simulated) Alipay page")
    table.add_row("redirect", f"auth_code {zm['auth_code']}, state {zm['state']}")
    table.add_row("grant", f"user {zm['user_id']}, access token {zm['access_token']}")
    shown = "N/A" if zm["score"] is None else str(zm["score"])
    table.add_row("score", f"[bold]{shown}[/] (350-950)")
    table.add_row("transaction", zm["transaction_id"])
    console.print(table)
    console.print()


STEP = DemoStep(collect, render_plain, render_rich)

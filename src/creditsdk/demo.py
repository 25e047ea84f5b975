"""``creditsdk demo``: every provider's whole flow against the embedded Sandbox.

One Sandbox on 127.0.0.1, one sample applicant, three providers:

- Tianyuan JRZQ9E2A multi-lending report, decoded with the Sandbox's synthetic bucket tables;
- UnionPay FireEye: a transaction the Sandbox knows (matched), one it does not, a model score;
- Sesame (Zhima): authorization URL → the Sandbox plays the user saying yes → code → grant →
  score;

then the Sandbox's billing ledger. Personal data is shown masked only; tokens never.
`collect()` returns the summary as plain data (what ``--json`` prints).
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
import time
import warnings
from decimal import Decimal
from typing import Any, TextIO
from urllib.parse import urlsplit

from . import __version__
from ._core.redact import mask_card, mask_secret
from .errors import UnverifiedCardWarning

__all__ = ["SAMPLE", "collect", "render_plain", "render_rich", "run_demo"]

#: The sample applicant (synthetic: a valid check digit, the provider docs' sample numbers).
SAMPLE = {
    "name": "张三",
    "id_card": "11010519491231002X",
    "mobile": "13800138000",
    "card_no": "6262320120153210",
}
REDIRECT_URI = "https://lender.example/sesame/callback"
STATE = "demo-order-42"

#: The named JRZQ9E2A factors the demo shows, by report property.
TIANYUAN_FACTORS = (
    "total_institutions",
    "institutions_last_7d",
    "institutions_last_30d",
    "currently_overdue",
    "overdue_institutions",
    "overdue_amount",
    "credit_risk_score",
    "small_loan_score",
    "instalment_score",
)


def _mask_user_id(value: str) -> str:
    return value[:4] + "*" * max(len(value) - 8, 0) + value[-4:] if len(value) > 8 else "****"


def collect(*, seed: int = 0, scenario: str = "heavy_borrower") -> dict[str, Any]:
    """Run the whole demo against a fresh Sandbox; return the (masked) summary."""
    from . import Applicant, Consent
    from .sandbox import Sandbox
    from .tianyuan import SANDBOX_BUCKET_TABLES, load_bucket_tables

    started = time.perf_counter()
    applicant = Applicant(name=SAMPLE["name"], id_card=SAMPLE["id_card"], mobile=SAMPLE["mobile"])
    card = SAMPLE["card_no"]
    consent = Consent(
        reference="DEMO-AUTH-0001",
        purpose="credit_underwriting",
        granted_at=_dt.datetime.now() - _dt.timedelta(minutes=1),
    )
    out: dict[str, Any] = {
        "creditsdk": __version__,
        "applicant": {**applicant.masked(), "card_no": mask_card(card)},
        "consent": {"reference": consent.reference, "purpose": consent.purpose},
    }
    with Sandbox(seed=seed) as sb:
        out["sandbox"] = {"base_url": sb.base_url, "seed": seed, "providers": sb.providers}

        # -- Tianyuan: the multi-lending report, decoded with the SYNTHETIC sandbox tables.
        sb.tianyuan.pin(applicant.id_card, scenario)
        tables = load_bucket_tables(SANDBOX_BUCKET_TABLES)
        with sb.tianyuan_client(bucket_tables=tables) as ty:
            report = ty.multi_lending(applicant, consent=consent)
        factors = []
        for prop in TIANYUAN_FACTORS:
            f = getattr(report, prop)
            factors.append(
                {
                    "name": prop,
                    "code": f.code,
                    "label": f.label,
                    "label_en": f.label_en,
                    "raw": f.raw,
                    "status": f.status,
                    "value": f.display(),
                }
            )
        out["tianyuan"] = {
            "product": "JRZQ9E2A",
            "scenario": scenario,
            "transaction_id": report.transaction_id,
            "tables": report.tables_name,
            "factor_count": len(report),
            "statuses": dict(sorted(report.counts().items())),
            "factors": factors,
        }

        # -- FireEye: a transaction the sandbox knows, one it does not, the model score.
        known = sb.fireeye.transactions(card)[0]
        other_amount = known.amount + Decimal("0.01")
        with sb.fireeye_client() as fe, warnings.catch_warnings():
            # The provider's sample card fails the Luhn check (some real cards do too).
            warnings.simplefilter("ignore", UnverifiedCardWarning)
            hit = fe.verify_transaction(card, known.date, known.amount, consent=consent)
            miss = fe.verify_transaction(card, known.date, other_amount, consent=consent)
            score = fe.model_score(card, applicant.id_card, applicant.mobile, consent=consent)
        out["fireeye"] = {
            "card_no": mask_card(card),
            "checks": [
                {
                    "date": known.date.isoformat(),
                    "amount": str(known.amount),
                    "matched": hit.matched,
                    "reason": hit.reason,
                    "code": hit.code,
                },
                {
                    "date": known.date.isoformat(),
                    "amount": str(other_amount),
                    "matched": miss.matched,
                    "reason": miss.reason,
                    "code": miss.code,
                },
            ],
            "model_score": score.score,
            "score_range": [300, 1000],
        }

        # -- Sesame: the OAuth-style user authorization, then the score.
        with sb.sesame_client() as zm:
            url = zm.authorization_url(REDIRECT_URI, state=STATE)
            redirected_to = sb.sesame.approve(url)  # the sandbox plays the user saying yes
            code = zm.parse_redirect(redirected_to, expected_state=STATE)
            grant = zm.exchange_code(code)
            zscore = zm.score(grant, consent=consent)
        parts = urlsplit(url)
        out["sesame"] = {
            "authorization_url": f"{parts.scheme}://{parts.netloc}{parts.path}",
            "redirect_uri": REDIRECT_URI,
            "state": STATE,
            "auth_code": mask_secret(code),
            "user_id": _mask_user_id(grant.user_id),
            "access_token": mask_secret(grant.access_token),
            "grant_expires_at": grant.expires_at.isoformat(),
            "score": zscore.score,
            "score_range": [350, 950],
            "transaction_id": zscore.transaction_id,
        }

        # -- What the providers would bill.
        ledger = sb.ledger()
        out["ledger"] = {
            "billed_calls": {name: len(sb.ledger(name)) for name in sb.providers},
            "entries": [
                {
                    "provider": e.provider,
                    "operation": e.operation,
                    "transaction_id": e.transaction_id,
                }
                for e in ledger
            ],
        }
    out["elapsed_seconds"] = round(time.perf_counter() - started, 3)
    return out


# -- rendering ------------------------------------------------------------------------------


def _check_text(check: dict[str, Any]) -> str:
    if check["matched"]:
        return "matched"
    return f"not matched ({check['reason']})"


def render_plain(summary: dict[str, Any], stream: TextIO) -> None:
    """The summary as plain text (when ``rich`` is not installed)."""
    w = stream.write
    a = summary["applicant"]
    w(f"creditsdk {summary['creditsdk']} demo: Sandbox at {summary['sandbox']['base_url']}\n")
    w(f"applicant: {a['name']}  {a['id_card']}  {a['mobile']}  card {a['card_no']}\n\n")
    ty = summary["tianyuan"]
    w(f"Tianyuan {ty['product']} multi-lending report  (transaction {ty['transaction_id']})\n")
    w(f"  tables: {ty['tables']} (synthetic, sandbox only)\n")
    for f in ty["factors"]:
        label = f["label_en"] or ""
        w(f"  {f['code']:22} {label:40} {f['value']}\n")
    statuses = ", ".join(f"{k} {v}" for k, v in ty["statuses"].items())
    w(f"  {ty['factor_count']} factors: {statuses}\n\n")
    fe = summary["fireeye"]
    w(f"UnionPay FireEye  (card {fe['card_no']})\n")
    for c in fe["checks"]:
        w(f"  transaction {c['date']} ¥{c['amount']:>9}: {_check_text(c)}\n")
    w(f"  model score: {fe['model_score']} (300-1000)\n\n")
    zm = summary["sesame"]
    w("Sesame (Zhima)\n")
    w(f"  authorization URL: {zm['authorization_url']}?…  → user approves (simulated)\n")
    w(f"  code → grant for user {zm['user_id']} (token {zm['access_token']})\n")
    w(f"  Zhima score: {zm['score'] if zm['score'] is not None else 'N/A'} (350-950)")
    w(f"  transaction {zm['transaction_id']}\n\n")
    billed = ", ".join(f"{k} {v}" for k, v in summary["ledger"]["billed_calls"].items())
    w(f"Sandbox ledger (billed calls): {billed}\n")
    w(f"done in {summary['elapsed_seconds']:.2f} s\n")


def render_rich(summary: dict[str, Any], console: Any) -> None:
    """The summary as rich tables and panels."""
    from rich import box
    from rich.panel import Panel
    from rich.table import Table

    a = summary["applicant"]
    console.print(
        Panel.fit(
            f"[bold]creditsdk {summary['creditsdk']}[/] demo · Sandbox at "
            f"[cyan]{summary['sandbox']['base_url']}[/] (loopback, no network, no credentials)\n"
            f"applicant [bold]{a['name']}[/]  ID {a['id_card']}  mobile {a['mobile']}  "
            f"card {a['card_no']}",
            border_style="blue",
        )
    )

    ty = summary["tianyuan"]
    wide = console.width >= 110
    table = Table(
        title=f"Tianyuan · {ty['product']} multi-lending report",
        caption=f"transaction {ty['transaction_id']} · {ty['factor_count']} factors: "
        + ", ".join(f"{k} {v}" for k, v in ty["statuses"].items())
        + f"\ndecoded with '{ty['tables']}' (SYNTHETIC sandbox tables)",
        box=box.SIMPLE_HEAVY,
        title_justify="left",
        caption_justify="left",
    )
    if wide:
        table.add_column("code", style="dim", no_wrap=True)
        table.add_column("标签", no_wrap=True)
    table.add_column("factor")
    table.add_column("raw", justify="right", no_wrap=True)
    table.add_column("value", style="bold", no_wrap=True)
    for f in ty["factors"]:
        cells = [f["label_en"] or f["code"], f["raw"] or "", f["value"]]
        if wide:
            cells = [f["code"], f["label"] or "", *cells]
        table.add_row(*cells)
    console.print(table)
    console.print()

    fe = summary["fireeye"]
    table = Table(
        title=f"UnionPay FireEye · card {fe['card_no']}",
        caption=f"model score [bold]{fe['model_score']}[/] (300-1000)",
        box=box.SIMPLE_HEAVY,
        title_justify="left",
    )
    table.add_column("transaction date")
    table.add_column("amount (¥)", justify="right")
    table.add_column("result")
    for c in fe["checks"]:
        style = "green" if c["matched"] else "yellow"
        table.add_row(c["date"], c["amount"], f"[{style}]{_check_text(c)}[/]")
    console.print(table)
    console.print()

    zm = summary["sesame"]
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

    table = Table(title="Sandbox ledger: billed calls", box=box.SIMPLE_HEAVY, title_justify="left")
    table.add_column("provider")
    table.add_column("billed calls", justify="right")
    table.add_column("operations")
    for name, count in summary["ledger"]["billed_calls"].items():
        ops = [e["operation"] for e in summary["ledger"]["entries"] if e["provider"] == name]
        table.add_row(name, str(count), ", ".join(ops))
    console.print(table)
    console.print()
    console.print(f"[dim]done in {summary['elapsed_seconds']:.2f} s[/]")


def run_demo(*, as_json: bool = False, seed: int = 0, plain: bool = False) -> int:
    """Run the demo and print it (rich tables, plain text, or one JSON document)."""
    summary = collect(seed=seed)
    if as_json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    if not plain:
        try:
            from rich.console import Console
        except ImportError:
            plain = True
        else:
            render_rich(summary, Console())
    if plain:
        render_plain(summary, sys.stdout)
    return 0

"""FireEye's part of ``creditsdk demo``: a transaction the Sandbox knows (matched), one it does
not, and the model score (declared in this package's spec)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from .._core.redact import mask_card
from .._spec import DemoStep, Sample
from ..errors import UnverifiedCardWarning

__all__ = ["STEP"]


def collect(sb: Any, sample: Sample, **_: Any) -> dict[str, Any]:
    card, applicant, consent = sample.card_no, sample.applicant, sample.consent
    known = sb.fireeye.transactions(card)[0]
    other_amount = known.amount + Decimal("0.01")
    with sb.fireeye_client() as fe, warnings.catch_warnings():
        # The provider's sample card fails the Luhn check (some real cards do too).
        warnings.simplefilter("ignore", UnverifiedCardWarning)
        hit = fe.verify_transaction(card, known.date, known.amount, consent=consent)
        miss = fe.verify_transaction(card, known.date, other_amount, consent=consent)
        score = fe.model_score(card, applicant.id_card, applicant.mobile, consent=consent)
    return {
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


def _check_text(check: Mapping[str, Any]) -> str:
    if check["matched"]:
        return "matched"
    return f"not matched ({check['reason']})"


def render_plain(fe: Mapping[str, Any], w: Callable[[str], Any]) -> None:
    w(f"UnionPay FireEye  (card {fe['card_no']})\n")
    for c in fe["checks"]:
        w(f"  transaction {c['date']} ¥{c['amount']:>9}: {_check_text(c)}\n")
    w(f"  model score: {fe['model_score']} (300-1000)\n\n")


def render_rich(fe: Mapping[str, Any], console: Any) -> None:
    from rich import box
    from rich.table import Table

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


STEP = DemoStep(collect, render_plain, render_rich)

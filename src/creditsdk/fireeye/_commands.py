"""``creditsdk query fireeye …``: the FireEye sub-commands (declared in this package's spec)."""

from __future__ import annotations

import argparse
import datetime as _dt
from decimal import Decimal, InvalidOperation
from typing import Any

from .._cli import query as q
from .._core.redact import mask_card

__all__ = ["add_commands"]


def add_commands(operations: Any) -> None:
    """Add the operations to ``creditsdk query fireeye``."""
    verify = operations.add_parser(
        "verify",
        help="does UnionPay know this card transaction? (billed)",
        description="Transaction authentication. 'not matched' is a result (exit code 0).",
    )
    verify.add_argument("--card-no", required=True, help="bank card number")
    verify.add_argument("--date", required=True, help="transaction date, YYYY-MM-DD")
    verify.add_argument("--amount", required=True, help="amount in yuan, e.g. 212.00")
    verify.add_argument(
        "--amount-unit",
        choices=("fen", "yuan"),
        default="fen",
        help="how the amount goes on the wire (your contract says; default fen)",
    )
    verify.add_argument("--id-card", help="cardholder's ID number (optional detail)")
    verify.add_argument("--mobile", help="cardholder's mobile (optional detail)")
    verify.add_argument("--location", help="where the transaction happened (optional detail)")
    verify.add_argument(
        "--add-transaction",
        action="store_true",
        help="with --sandbox: put this transaction in the Sandbox's book first",
    )
    q.add_consent_args(verify)
    q.add_common(verify)
    verify.set_defaults(func=_verify)
    score = operations.add_parser("score", help="UnionPay model score, 300-1000 (billed)")
    score.add_argument("--card-no", required=True, help="bank card number")
    score.add_argument("--id-card", required=True, help="cardholder's ID number")
    score.add_argument("--mobile", required=True, help="cardholder's mobile")
    q.add_consent_args(score)
    q.add_common(score)
    score.set_defaults(func=_score)


def _parse_date(value: str, option: str) -> _dt.date:
    try:
        return _dt.date.fromisoformat(value)
    except ValueError:
        raise q.bad(option, f"must be a date YYYY-MM-DD, not {value!r}") from None


def _parse_amount(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise q.bad("--amount", f"must be a number of yuan, e.g. 212.00, not {value!r}") from None
    if not amount.is_finite():
        raise q.bad("--amount", f"must be a finite number of yuan, not {value!r}")
    return amount


def _verify(args: argparse.Namespace) -> int:
    day = _parse_date(args.date, "--date")
    amount = _parse_amount(args.amount)
    consent = q.consent_from(args)
    with q.client_for(args, "fireeye", amount_unit=args.amount_unit) as fe:
        if args.sandbox and args.add_transaction:
            args.sandbox_instance.fireeye.add_transaction(args.card_no, day, amount)
        check = fe.verify_transaction(
            args.card_no,
            day,
            amount,
            consent=consent,
            id_card=args.id_card,
            mobile=args.mobile,
            location=args.location,
        )
    verdict = "matched" if check.matched else f"not matched ({check.reason})"
    lines = [
        f"FireEye transaction check, card {mask_card(args.card_no)}, {day.isoformat()} ¥{amount}:",
        f"  {verdict}  (code {check.code} {check.message})",
    ]
    return q.emit(args, check.to_dict(), lines)


def _score(args: argparse.Namespace) -> int:
    consent = q.consent_from(args)
    with q.client_for(args, "fireeye") as fe:
        score = fe.model_score(args.card_no, args.id_card, args.mobile, consent=consent)
    shown_score = "not hit" if score.score is None else str(score.score)
    lines = [f"FireEye model score, card {score.card}: {shown_score} (300-1000)"]
    return q.emit(args, score.to_dict(), lines)

"""``creditsdk query tianyuan …``: the Tianyuan sub-commands (declared in this package's spec)."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from .._cli import query as q
from .._core.redact import redact_text
from ._demo import DEMO_FACTORS
from .factors import SANDBOX_BUCKET_TABLES

__all__ = ["add_commands"]


def add_commands(operations: Any) -> None:
    """Add the operations to ``creditsdk query tianyuan``."""
    ml = operations.add_parser(
        "multi-lending",
        help="JRZQ9E2A multi-lending report (billed)",
        description="The JRZQ9E2A multi-lending report, decoded with your bucket tables.",
    )
    ml.add_argument("--name", required=True, help="the applicant's name")
    ml.add_argument("--id-card", required=True, help="resident ID number (18 characters)")
    ml.add_argument("--mobile", required=True, help="mainland mobile number")
    ml.add_argument(
        "--bucket-tables",
        help="your contract's bucket tables (.toml/.csv); default "
        "$CREDITSDK_TIANYUAN_BUCKET_TABLES (the synthetic sandbox tables with --sandbox)",
    )
    q.add_consent_args(ml)
    q.add_common(ml)
    ml.set_defaults(func=_multi_lending)
    call = operations.add_parser(
        "call",
        help="any Tianyuan product with raw parameters (billed)",
        description="Call any product; parameters are sent as given (ID/mobile/name "
        "validated). The product's authorization parameter (auth_authorize_file_code, "
        "authorized, auth_date or authorization_url) is filled from the --consent-* options "
        "where the SDK knows it; otherwise pass it with --param.",
    )
    call.add_argument("product", help="product code, e.g. JRZQ8F7C")
    call.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a request parameter (repeat)",
    )
    q.add_consent_args(call)
    q.add_common(call)
    call.set_defaults(func=_call)


def _multi_lending(args: argparse.Namespace) -> int:

    applicant = q.applicant_from(args)
    consent = q.consent_from(args)
    tables = args.bucket_tables or os.environ.get("CREDITSDK_TIANYUAN_BUCKET_TABLES") or None
    if tables is None and args.sandbox:
        tables = str(SANDBOX_BUCKET_TABLES)
    with q.client_for(args, "tianyuan", bucket_tables=tables) as ty:
        report = ty.multi_lending(applicant, consent=consent)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts().items()))
    lines = [
        f"Tianyuan JRZQ9E2A for {q.masked_applicant(applicant)}",
        f"transaction: {report.transaction_id}",
        f"tables: {report.tables_name or 'none loaded (bucket codes stay raw)'}",
        f"factors: {len(report)} ({counts or 'no data'})",
    ]
    for prop in DEMO_FACTORS:
        f = getattr(report, prop)
        lines.append(f"  {f.code:22} {f.label_en or '':40} {f.display()}")
    return q.emit(args, report.to_dict(), lines)


def _call(args: argparse.Namespace) -> int:
    from ._authorization import with_authorization

    consent = q.consent_from(args)
    params = with_authorization(args.product, q.key_values(args.param), consent)
    with q.client_for(args, "tianyuan") as ty:
        result = ty.call(args.product, params, consent=consent)
    data = json.dumps(result.data, ensure_ascii=False, indent=2) if result.has_data else "no data"
    lines = [
        f"Tianyuan {args.product}: code {result.code} {result.message}",
        f"transaction: {result.transaction_id}",
        redact_text(data),
    ]
    return q.emit(args, result.to_dict(), lines)

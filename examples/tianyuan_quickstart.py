"""Tianyuan quickstart: a JRZQ9E2A multi-lending report, decoded.

Runs against the local Sandbox unless CREDITSDK_TIANYUAN_ACCESS_ID and
CREDITSDK_TIANYUAN_ACCESS_KEY are set. Against the real provider (a paid call) it also needs the
applicant and the signed authorization's reference in CREDITSDK_EXAMPLE_NAME,
CREDITSDK_EXAMPLE_ID_CARD, CREDITSDK_EXAMPLE_MOBILE and CREDITSDK_EXAMPLE_CONSENT_REF, and decodes
with your contract's bucket tables if CREDITSDK_TIANYUAN_BUCKET_TABLES points to them.

    python examples/tianyuan_quickstart.py
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys

from creditsdk import Applicant, Consent
from creditsdk.sandbox import Sandbox
from creditsdk.tianyuan import (
    SANDBOX_BUCKET_TABLES,
    MultiLendingReport,
    TianyuanClient,
    load_bucket_tables,
)


def show(report: MultiLendingReport) -> None:
    print(f"transaction {report.transaction_id}: {len(report)} factors {report.counts()}")
    print(f"tables: {report.tables_name or 'none loaded (bucket codes stay raw)'}")
    for factor in (
        report.total_institutions,
        report.institutions_last_7d,
        report.institutions_last_30d,
        report.currently_overdue,
        report.overdue_amount,
        report.credit_risk_score,
        report.small_loan_score,
        report.instalment_score,
    ):
        print(f"  {factor.code:22} {factor.label or '':14} {factor.display()}")


def main() -> int:
    real = bool(
        os.environ.get("CREDITSDK_TIANYUAN_ACCESS_ID")
        and os.environ.get("CREDITSDK_TIANYUAN_ACCESS_KEY")
    )
    with contextlib.ExitStack() as stack:
        if real:
            needed = ["NAME", "ID_CARD", "MOBILE", "CONSENT_REF"]
            missing = [n for n in needed if not os.environ.get(f"CREDITSDK_EXAMPLE_{n}")]
            if missing:
                print(
                    "Real Tianyuan credentials found, but no applicant: set "
                    + ", ".join(f"CREDITSDK_EXAMPLE_{n}" for n in missing)
                    + " (this is a paid call). Nothing sent."
                )
                return 0
            applicant = Applicant(
                name=os.environ["CREDITSDK_EXAMPLE_NAME"],
                id_card=os.environ["CREDITSDK_EXAMPLE_ID_CARD"],
                mobile=os.environ["CREDITSDK_EXAMPLE_MOBILE"],
            )
            consent_ref = os.environ["CREDITSDK_EXAMPLE_CONSENT_REF"]
            tables_path = os.environ.get("CREDITSDK_TIANYUAN_BUCKET_TABLES")
            client = stack.enter_context(TianyuanClient(bucket_tables=tables_path or None))
            print(f"Tianyuan at {client.base_url}")
        else:
            sb = stack.enter_context(Sandbox())
            applicant = Applicant(name="张三", id_card="11010519491231002X", mobile="13800138000")
            consent_ref = "AUTH20251210001"
            sb.tianyuan.pin(applicant.id_card, "heavy_borrower")
            # The sandbox's tables are SYNTHETIC: they only decode sandbox payloads.
            client = stack.enter_context(
                sb.tianyuan_client(bucket_tables=load_bucket_tables(SANDBOX_BUCKET_TABLES))
            )
            print(f"Sandbox at {sb.base_url} (set CREDITSDK_TIANYUAN_* for the real provider)")
        consent = Consent(
            reference=consent_ref,
            purpose="credit_underwriting",
            granted_at=dt.datetime.now() - dt.timedelta(minutes=1),
        )
        print(f"applicant: {applicant!r}")
        report = client.multi_lending(applicant, consent=consent)
        show(report)
        if not real:
            for entry in sb.ledger("tianyuan"):
                print(f"billed: {entry.operation} {entry.transaction_id} {dict(entry.details)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

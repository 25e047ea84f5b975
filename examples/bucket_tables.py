"""Bucket tables: load your contract's table, re-decode stored raw Tianyuan factors with it.

JRZQ9E2A answers most factors with bucket *codes* ("3"); what a code means is in your contract's
appendix. Store ``report.raw`` as received; decode it whenever you have (or update) the table.

This example writes a small contract-style table in TOML (and the same in CSV) to a temporary
folder, loads it with ``load_bucket_tables``, and re-decodes stored raw factors with
``MultiLendingReport.from_factors``. It sends no billed call: the stored report comes from the
embedded Sandbox, or from the JSON file named by CREDITSDK_EXAMPLE_STORED_REPORT
(``{"transaction_id": ..., "raw": {...}}``), and the table from CREDITSDK_TIANYUAN_BUCKET_TABLES
if set.

    python examples/bucket_tables.py
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
from pathlib import Path

from creditsdk import Applicant, Consent
from creditsdk.sandbox import Sandbox
from creditsdk.tianyuan import BucketTableError, MultiLendingReport, load_bucket_tables

CONTRACT_TOML = """\
[meta]
name = "example contract, appendix B"

[tables.institutions]
unit = "institutions"
buckets = [
  { code = "1", low = 0, high = 9, bounds = "()" },
  { code = "2", low = 9, high = 19, bounds = "[)" },
  { code = "3", low = 19, high = 29, bounds = "[)" },
  { code = "4", low = 29, high = 39, bounds = "[)" },
  { code = "5", low = 39, high = 49, bounds = "[)" },
  { code = "6", low = 49, bounds = "[)", label = "49 or more" },
]

[factors]
xyp_cpl0001 = "institutions"
xyp_cpl0009 = "institutions"
xyp_cpl0011 = "institutions"
"""

CONTRACT_CSV = """\
factor,code,low,high,bounds,unit,label
xyp_cpl0001,1,0,9,(),institutions,
xyp_cpl0001,2,9,19,[),institutions,
xyp_cpl0001,3,19,29,[),institutions,
xyp_cpl0001,4,29,39,[),institutions,
xyp_cpl0001,5,39,49,[),institutions,
xyp_cpl0001,6,49,,[),institutions,49 or more
"""

BROKEN_TOML = """\
[factors]
xyp_cpl0001 = { buckets = [
  { code = "1", low = 0, high = 10, bounds = "[]" },
  { code = "2", low = 10, high = 20, bounds = "[)" },
] }
"""

SHOWN = ("xyp_cpl0001", "xyp_cpl0009", "xyp_cpl0011", "xyp_cpl0044", "xyp_model_score_high")


def stored_report() -> dict[str, object]:
    """A report as your database would hold it: transaction id + raw factors."""
    path = os.environ.get("CREDITSDK_EXAMPLE_STORED_REPORT")
    if path:
        stored: dict[str, object] = json.loads(Path(path).read_text(encoding="utf-8"))
        print(f"stored report from {path}")
        return stored
    applicant = Applicant(name="张三", id_card="11010519491231002X", mobile="13800138000")
    consent = Consent(
        reference="AUTH20251210001",
        purpose="credit_underwriting",
        granted_at=dt.datetime.now() - dt.timedelta(minutes=1),
    )
    with Sandbox(providers=["tianyuan"]) as sb:
        sb.tianyuan.pin(applicant.id_card, "heavy_borrower")
        with sb.tianyuan_client() as ty:  # no tables: bucket codes stay codes
            report = ty.multi_lending(applicant, consent=consent)
    print(f"stored report from the Sandbox (for {applicant!r})")
    return {"transaction_id": report.transaction_id, "raw": dict(report.raw)}


def show(title: str, report: MultiLendingReport) -> None:
    print(f"\n{title}: tables {report.tables_name or 'none'}; {report.counts()}")
    for code in SHOWN:
        f = report.factor(code)
        print(f"  {code:22} raw {f.raw!r:8} → {f.display()}")


def main() -> int:
    stored = stored_report()
    raw = stored["raw"]
    assert isinstance(raw, dict)
    tid = stored.get("transaction_id")
    assert tid is None or isinstance(tid, str)

    # Without a table a bucket code is only a code (status "no_table"): nothing is invented.
    show("decoded without tables", MultiLendingReport.from_factors(raw, transaction_id=tid))

    with tempfile.TemporaryDirectory() as tmp:
        toml_path = Path(tmp) / "contract_buckets.toml"
        toml_path.write_text(CONTRACT_TOML, encoding="utf-8")
        csv_path = Path(tmp) / "contract_buckets.csv"
        csv_path.write_text(CONTRACT_CSV, encoding="utf-8")

        path = os.environ.get("CREDITSDK_TIANYUAN_BUCKET_TABLES") or str(toml_path)
        tables = load_bucket_tables(path)
        print(f"\nloaded {tables!r}")
        report = MultiLendingReport.from_factors(raw, transaction_id=tid, tables=tables)
        show("re-decoded with the contract table", report)
        rng = report.total_institutions.value
        print(f"  e.g. total institutions: {rng} (low={getattr(rng, 'low', None)})")

        if path == str(toml_path):
            from_csv = MultiLendingReport.from_factors(raw, transaction_id=tid, tables=csv_path)
            same = from_csv.total_institutions.value == report.total_institutions.value
            print(f"\nthe CSV form decodes xyp_cpl0001 the same way: {same}")

        broken = Path(tmp) / "broken.toml"
        broken.write_text(BROKEN_TOML, encoding="utf-8")
        try:
            load_bucket_tables(broken)
        except BucketTableError as exc:
            print(f"a broken table is refused on load:\n  {exc.where}: {exc.problem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

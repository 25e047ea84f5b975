"""Batch quickstart: run a provider operation over a small CSV of applicants, then resume it.

The output's columns are fixed by the operation (see the run's schema.json and docs/batch.md):
every row has status, billed, returned and effective; the label keeps its integer type.

Runs against the embedded Sandbox with the demo bureau (no account needed). With Tianyuan
installed and CREDITSDK_TIANYUAN_* set, change OPERATION to "tianyuan.multi_lending" and drop
sandbox=True to run the same against the real provider.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import tempfile
from pathlib import Path

from creditsdk import Consent
from creditsdk.batch import run_batch

OPERATION = "demo.score"

APPLICANTS = [
    # applicant_id, name, id_card, mobile, defaulted (the known outcome)
    ("L-1001", "张三", "11010519491231002X", "13800138000", "0"),
    ("L-1002", "李四", "110105194912310021", "13800138001", "1"),  # bad check digit
    ("L-1003", "王五", "110105198001010032", "13900139000", "0"),
    ("L-1004", "赵六", "110101199003071233", "1390013", "1"),  # bad mobile
    ("L-1005", "钱七", "440301199108150015", "15012345678", "0"),
]


def main() -> None:
    consent = Consent(
        reference="AUTH-BATCH-DEMO",
        purpose="credit_underwriting",
        granted_at=dt.datetime(2026, 11, 1, 9, 0),
    )
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "applicants.csv"
        with open(src, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["applicant_id", "name", "id_card", "mobile", "defaulted"])
            writer.writerows(APPLICANTS)
        out = Path(tmp) / "run"

        prices = Path(tmp) / "prices.toml"
        prices.write_text('["demo.score"]\nper_call = "0.50"\n', encoding="utf-8")
        # the fingerprint key is kept outside the output folder (default: ~/.config/creditsdk)
        keys = Path(tmp) / "keys"
        summary = run_batch(src, OPERATION, out, consent=consent, sandbox=True, progress=False,
                            prices=prices, key_dir=keys)  # fmt: skip
        print(summary.format())
        print()
        schema = json.loads((out / "schema.json").read_text(encoding="utf-8"))
        print("columns:", ", ".join(f"{c['name']}:{c['dtype']}" for c in schema["columns"]))
        with open(summary.output, encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                detail = row.get("score") or row["error_code"]
                print(
                    f"  row {row['row']}  {row['applicant_id']}  {row['id_card']}  "
                    f"{row['status']:<8} billed={row['billed'] or '?'} "
                    f"effective={row['effective']}  {detail}"
                )

        # The same call again resumes: nothing already answered is sent (or billed) twice.
        again = run_batch(src, OPERATION, out, consent=consent, sandbox=True, progress=False,
                          key_dir=keys)  # fmt: skip
        print(f"\nre-run: {again.calls} calls, {again.skipped} rows already done")


if __name__ == "__main__":
    main()

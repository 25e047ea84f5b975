"""Evaluate a data source end to end on the Sandbox: applicants → batch → evaluate → report.html.

1. the Sandbox writes 2,000 synthetic past applicants with a known outcome (``bad``) that
   follows the scenario the Sandbox gives each ID number, plus two pure-noise columns;
2. ``run_batch`` sends them to the Sandbox's Tianyuan multi-lending product;
3. ``evaluate`` judges the run: hit rates, cost per effective hit, per-factor IV against the
   chance level, KS, AUC, PSI by month; the noise columns should stay within chance;
4. the report is one self-contained HTML file.

Needs ``pip install 'creditsdk[evaluate]'``.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

PER_HIT = Decimal("0.80")  # your contract's price per returned answer


def main() -> int:
    from creditsdk import Consent
    from creditsdk.batch import Price, run_batch
    from creditsdk.evaluate import evaluate
    from creditsdk.sandbox import write_applicants

    consent = Consent(
        reference="AUTH-EVAL-DEMO",
        purpose="credit_underwriting",
        granted_at=dt.datetime(2026, 11, 1, 9, 0),
    )
    with tempfile.TemporaryDirectory() as tmp:
        applicants = Path(tmp) / "applicants.csv"
        write_applicants(applicants, 2000, bad_rate=0.09, seed=1)
        run = Path(tmp) / "ty"
        summary = run_batch(applicants, "tianyuan.multi_lending", run, consent=consent,
                            sandbox=True, sandbox_balance=None, rate=0, concurrency=16,
                            progress=False)  # fmt: skip
        print(summary.format())
        ev = evaluate(
            run,
            target="bad",
            time_col="applied_on",  # a date: PSI is sliced by month
            columns=["noise_1", "noise_2"],  # pure noise: should stay within chance
            prices={"tianyuan.multi_lending": Price("tianyuan.multi_lending", per_hit=PER_HIT)},
        )
        print()
        print(ev.summary[["source", "rows", "returned_rate", "effective_rate",
                          "cost_per_effective_hit"]].to_string(index=False))  # fmt: skip
        print()
        cols = ["factor", "coverage", "iv", "iv_chance95", "auc", "ks", "direction"]
        print(ev.factors[cols].head(8).to_string(index=False, float_format="%.3f"))
        noise = ev.factors.set_index("factor").loc[["noise_1", "noise_2"]]
        print("\nnoise columns within chance:", list(noise["iv_within_chance"]))
        for w in ev.warnings:
            print("warning:", w)
        out = ev.save(Path(tmp) / "eval")
        print(f"\nwrote {sorted(p.name for p in out.iterdir())}")
        html = (out / "report.html").read_text(encoding="utf-8")
        print(f"report.html: {len(html) // 1024} KiB, self-contained")
    return 0


if __name__ == "__main__":
    sys.exit(main())

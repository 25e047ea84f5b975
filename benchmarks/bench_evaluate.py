"""``creditsdk.evaluate`` on 100,000 rows × every JRZQ9E2A factor vs ``toad.quality``.

The frame: one column per factor of the Sandbox catalog (~360: bucket codes, flags, model and
ratio scores), 100,000 rows, ~9 % bads, a few factors with signal, the rest noise, ~30 % "no
record". Both tools see the same frame ("no record" as the value -1 for toad, whose
``feature == v`` cannot match NaN; null for creditsdk).

- creditsdk: ``evaluate_frame`` — IV with no-record bin and over present values, the chance
  level of IV from 200 label shuffles, KS, AUC with DeLong's interval, monotonicity, PSI over 3
  time slices, per-bin WoE / IV share — in a child process, so its peak RSS is its own.
- toad: ``toad.quality(frame, target)`` with its defaults (IV, gini, entropy, unique; a
  decision-tree re-binning of numeric columns; joblib over all CPUs). If it is too slow for the
  full frame it runs on ``--toad-columns`` columns spread evenly over the catalog and its time
  is scaled by the column count (toad's work is per column), which the details say.

    python benchmarks/bench_evaluate.py                  # 100,000 rows
    python benchmarks/bench_evaluate.py --rows 20000

Goal: >= 3x faster than toad.quality; peak RSS <= 1 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np
import pandas as pd
from _common import report

from creditsdk.evaluate import Bucket, FactorSpec


def make_frame(rows: int, seed: int = 0) -> tuple[pd.DataFrame, list[FactorSpec]]:
    from creditsdk.tianyuan.factors import sandbox_catalog

    rng = np.random.default_rng(seed)
    r = rng.standard_normal(rows)
    bad = (rng.random(rows) < 1 / (1 + np.exp(-(-2.5 + 0.8 * r)))).astype(np.int64)
    cols: dict[str, Any] = {
        "bad": bad,
        "month": np.array(["2026-01", "2026-02", "2026-03"])[rng.integers(0, 3, rows)],
    }
    specs: list[FactorSpec] = []
    for i, (code, entry) in enumerate(sandbox_catalog().items()):
        signal = 0.7 * r if i % 10 == 0 else 0.0
        latent = signal + rng.standard_normal(rows)
        kind = entry.kind
        if kind == "flag":
            v = (latent > 1.0).astype(np.float64)
        elif kind == "model_score":
            v = np.round(650 - 60 * latent)
        elif kind == "ratio_score":
            v = np.round(1 / (1 + np.exp(-latent)), 4)
        else:
            v = (np.digitize(latent, [-1.2, -0.4, 0.4, 1.2, 2.0]) + 1).astype(np.float64)
        v[rng.random(rows) < 0.3] = np.nan
        cols[code] = v
        buckets = tuple(Bucket(code=c) for c in range(1, 7)) if kind.endswith("bucket") else ()
        specs.append(FactorSpec(name=code, column=code, kind=kind, buckets=buckets))
    return pd.DataFrame(cols), specs


def child(rows: int) -> None:
    from creditsdk.evaluate import evaluate_frame

    frame, specs = make_frame(rows)
    started = time.perf_counter()
    ev = evaluate_frame(frame, specs, target="bad", time_col="month", chance_shuffles=200)
    elapsed = time.perf_counter() - started
    within = int(ev.factors["iv_within_chance"].astype(bool).sum())
    print(json.dumps({"seconds": elapsed, "factors": len(ev.factors), "bins": len(ev.bins),
                      "within": within, "bads": ev.bads}))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--toad-columns", type=int, default=0, help="0 = all")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.rows)
        return

    proc = subprocess.run(
        [sys.executable, __file__, "--child", "--rows", str(args.rows)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    ours = json.loads(proc.stdout.strip().splitlines()[-1])
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    import toad

    frame, specs = make_frame(args.rows)
    factor_cols = [s.column for s in specs]
    n_cols = len(factor_cols) if args.toad_columns <= 0 else min(args.toad_columns, len(specs))
    step = len(factor_cols) / n_cols  # evenly spread over the catalog: every kind is in it
    chosen = [factor_cols[int(i * step)] for i in range(n_cols)]
    sub = frame[[*chosen, "bad"]].fillna(-1)
    with tempfile.TemporaryDirectory():
        started = time.perf_counter()
        toad.quality(sub, "bad")
        toad_measured = time.perf_counter() - started
    toad_full = toad_measured * len(factor_cols) / n_cols
    ratio = toad_full / ours["seconds"]
    scaled = n_cols < len(factor_cols)
    details = (
        f"{args.rows} rows x {ours['factors']} factors ({ours['bads']} bads): creditsdk "
        f"evaluate_frame {ours['seconds']:.1f} s (IV + chance level from 200 shuffles, KS, AUC "
        f"+ DeLong CI, PSI over 3 slices, {ours['bins']} bins; {ours['within']} factors within "
        f"chance), peak RSS {peak_mb:.0f} MB; toad.quality "
        + (
            f"{toad_measured:.1f} s on {n_cols} columns, scaled to {toad_full:.1f} s for all"
            if scaled
            else f"{toad_full:.1f} s"
        )
        + " (joblib over all CPUs)"
    )
    met = ratio >= 3 and peak_mb <= 1024
    report("evaluate vs toad.quality", ratio, ">= 3x, <= 1 GB", met, details=details)


if __name__ == "__main__":
    main()

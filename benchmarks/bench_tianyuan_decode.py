"""Decoding a full JRZQ9E2A payload vs ``json.loads`` of the same payload (ratio; lower is better).

Target (issue #3): decode <= 2x json.loads. Run: ``python benchmarks/bench_tianyuan_decode.py``.

* ``same payload``: one ~360-factor heavy-borrower payload decoded over and over (steady state).
* ``population``: 200 different synthetic applicants in turn (what a batch sees).
* ``first payload``: a freshly loaded BucketTables each time: only what loading primes is known
  (every bucket/flag value of the tables and catalog), scores and the rest are decoded afresh.
  Loading and priming the tables themselves is a one-off, printed separately.

``decode`` is ``MultiLendingReport.from_factors(payload_dict, tables=...)``: every factor is
materialised as a Factor; ``json.loads`` parses the same payload's JSON text.
"""

from __future__ import annotations

import gc
import json
import time
import timeit

from _common import report
from stdnum.cn import ric

from creditsdk.sandbox import Sandbox
from creditsdk.tianyuan import (
    SANDBOX_BUCKET_TABLES,
    BucketTables,
    MultiLendingReport,
    load_bucket_tables,
)

REPEAT = 7


def _ids(n: int) -> list[str]:
    out = []
    for i in range(n):
        body = f"110105{1950 + i % 50}0{1 + i % 9}1{i % 10}{i % 1000:03d}"
        out.append(body + ric.calc_check_digit(body + "0"))
    return out


def best(fn, number: int) -> float:  # type: ignore[no-untyped-def]
    return min(timeit.repeat(fn, number=number, repeat=REPEAT)) / number


def main() -> None:
    sb = Sandbox(providers=["tianyuan"], seed=0)
    tables = load_bucket_tables(SANDBOX_BUCKET_TABLES)
    heavy_id = _ids(1)[0]
    sb.tianyuan.pin(heavy_id, "heavy_borrower")
    heavy = sb.tianyuan.factors_for(heavy_id)
    text = json.dumps(heavy, ensure_ascii=False)
    print(
        f"payload: {len(heavy)} factors, {len(text)} characters of JSON, "
        f"{sum(v != '' for v in heavy.values())} non-empty"
    )

    results = []

    t_json = best(lambda: json.loads(text), 2000)
    t_dec = best(lambda: MultiLendingReport.from_factors(heavy, tables=tables), 2000)
    results.append(("same payload", t_json, t_dec))

    population = [sb.tianyuan.factors_for(i) for i in _ids(200)]
    population = [p for p in population if p]
    texts = [json.dumps(p, ensure_ascii=False) for p in population]
    for p in population:  # one warm-up pass: the memo sees each (factor, value) once
        MultiLendingReport.from_factors(p, tables=tables)
    t_json = best(lambda: [json.loads(t) for t in texts], 20) / len(texts)
    t_dec = best(
        lambda: [MultiLendingReport.from_factors(p, tables=tables) for p in population], 20
    ) / len(population)
    results.append(("population (200 applicants)", t_json, t_dec))

    # One freshly loaded table set at a time, decoded right after loading (as in a new process).
    t_json = min(timeit.repeat(lambda: json.loads(text), number=1, repeat=30))
    firsts = []
    for _ in range(30):
        fresh = BucketTables(tables.tables, name="fresh")
        gc.disable()  # as timeit does
        start = time.perf_counter()
        MultiLendingReport.from_factors(heavy, tables=fresh)
        firsts.append(time.perf_counter() - start)
        gc.enable()
    t_dec = min(firsts)
    results.append(("first payload after load", t_json, t_dec))

    t_load = best(lambda: load_bucket_tables(SANDBOX_BUCKET_TABLES), 5)
    print(f"loading + priming the sandbox tables ({len(tables)} factors): {t_load * 1e3:.1f} ms")
    print(f"{'case':30} {'json.loads µs':>14} {'decode µs':>10} {'ratio':>6}")
    for name, tj, td in results:
        print(f"{name:30} {tj * 1e6:14.1f} {td * 1e6:10.1f} {td / tj:6.2f}")
    # Headline: the worse of the steady-state cases (one payload, a population of payloads).
    ratios = {name: td / tj for name, tj, td in results}
    headline = max(ratios["same payload"], ratios["population (200 applicants)"])
    report(
        "4. JRZQ9E2A full decode vs json.loads",
        headline,
        "<= 2x",
        headline <= 2,
        details="; ".join(f"{name} {r:.2f}x" for name, r in ratios.items()),
    )


if __name__ == "__main__":
    main()

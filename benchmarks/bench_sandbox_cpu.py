"""The Sandbox's CPU per request: this tree's server vs the threaded server of commit 3b18631.

Both serve the same Sandbox app (Tianyuan, 50 ms latency) in their own process; the same
client sends the same requests to each (bench_async_fanout's fan-out: ``JRZQ8F7C``, 200 at a
time). Each server process reports its own CPU seconds (user + system, all threads) before and
after; the ratio of the per-request figures is the row. The baseline is a frozen copy
(benchmarks/_baseline/threaded_server.py), so the ratio is ~1x until the server changes.
The runs alternate (baseline, current, current, baseline) so a change in load hits both.
Goal (issue 17): <= 0.2x.

Two baselines, both reported: the row is the whole Sandbox of 3b18631 (its server and its
provider code, run from ``git archive`` of that commit: what the issue measured at 0.45-0.74
ms per request); the details add the old server alone serving this tree's provider code, which
isolates the HTTP server (the provider code got cheaper too, so that ratio is the stricter).

    python benchmarks/bench_sandbox_cpu.py [--calls 3000] [--rounds 3] [--before 3b18631]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from _common import load, report
from bench_async_fanout import measure
from bench_batch_memory import export_revision


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", default="3b18631", help="the whole earlier Sandbox")
    args = parser.parse_args()
    per: dict[str, list[float]] = {"before": [], "baseline": [], "sandbox": []}
    with tempfile.TemporaryDirectory() as tmp:
        old_src = export_revision(args.before, Path(tmp))
        for i in range(args.rounds):
            # ABC then CBA: a trend in load (or a warm-up) hits all alike
            order = ["before", "baseline", "sandbox"]
            for server in order if i % 2 == 0 else order[::-1]:
                m = measure(
                    "baseline" if server == "baseline" else "current",
                    args.calls,
                    args.concurrency,
                    args.latency,
                    pythonpath=old_src if server == "before" else None,
                )
                per[server].append(m["server_ms"])
    before = statistics.median(per["before"])
    base = statistics.median(per["baseline"])
    now = statistics.median(per["sandbox"])
    ratio = now / before
    report(
        f"3. Sandbox CPU per request vs the {args.before} Sandbox",
        ratio,
        "<= 0.2x",
        ratio <= 0.2,
        details=f"{args.calls} Tianyuan calls x {args.rounds} rounds, concurrency "
        f"{args.concurrency}, latency {args.latency * 1000:.0f} ms: server CPU per request "
        f"{now:.3f} ms (this tree) vs {before:.3f} ms (the whole {args.before} Sandbox: "
        f"{ratio:.2f}x); the {args.before} threaded server alone serving this tree's provider "
        f"code {base:.3f} ms ({now / base:.2f}x: the HTTP server's own share); medians of "
        f"{per} ms (load {load()} at the end)",
    )


if __name__ == "__main__":
    main()

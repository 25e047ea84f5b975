"""The Sandbox's CPU per request: this tree's server vs the threaded server of commit 3b18631.

Both serve the same Sandbox app (Tianyuan, 50 ms latency) in their own process; the same
client sends the same requests to each (bench_async_fanout's fan-out: ``JRZQ8F7C``, 200 at a
time). Each server process reports its own CPU seconds (user + system, all threads) before and
after; the ratio of the per-request figures is the row. The baseline is a frozen copy
(benchmarks/_baseline/threaded_server.py), so the ratio is ~1x until the server changes.
The runs alternate (baseline, current, current, baseline) so a change in load hits both.
Goal (issue 17): <= 0.2x.

    python benchmarks/bench_sandbox_cpu.py [--calls 3000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics

from _common import load, report
from bench_async_fanout import measure


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    per: dict[str, list[float]] = {"baseline": [], "sandbox": []}
    for i in range(args.rounds):
        # ABBA order: a trend in load (or a warm-up) hits both alike
        order = ("baseline", "sandbox") if i % 2 == 0 else ("sandbox", "baseline")
        for server in order:
            m = measure(server, args.calls, args.concurrency, args.latency)
            per[server].append(m["server_ms"])
    base = statistics.median(per["baseline"])
    now = statistics.median(per["sandbox"])
    ratio = now / base
    report(
        "3. Sandbox CPU per request vs the 3b18631 server",
        ratio,
        "<= 0.2x",
        ratio <= 0.2,
        details=f"{args.calls} Tianyuan calls x {args.rounds} rounds, concurrency "
        f"{args.concurrency}, latency {args.latency * 1000:.0f} ms: server CPU per request "
        f"{now:.3f} ms (this tree) vs {base:.3f} ms (3b18631 threaded server); medians of "
        f"{per} ms (load {load()} at the end)",
    )


if __name__ == "__main__":
    main()
